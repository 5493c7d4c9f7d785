"""Cancel every open order of an account, or of one of its symbols: ``DELETE /v1/orders`` and the
dead man's switch (``exchange.orders.cancel_after``) both run this.

It sends one ``CancelOrder`` per open order through the same sink as a single cancel, and the
holds are released by settlement when the engine's ``OrderCancelled`` arrives, as for any cancel.
(An engine-level mass cancel, one command per account and shard, is a later issue; until then the
work is bounded by the account's open-order cap.) Only orders placed before the run began are
cancelled, so an order placed meanwhile (e.g. after the switch was renewed) is left alone. They
are listed from the ``open_orders`` index and, for the last seconds before the cut-off, from the
table itself, read consistently: an order placed a moment before the run is not yet in the index
(``exchange.orders.lookup``).

When there is a key (the request's Idempotency-Key, the switch's deadline), each command id
follows from the account, the order, the source and the key: a retry sends the same commands and
the engine acts on each once (``DELETE /v1/orders`` also keeps its first answer per key, so its
retry neither lists again nor reaches orders placed since). The first failed publish stops the
run, since the broker is down or unsure and every further attempt would wait out a full
deadline. The answer lists what was sent and what was not; when nothing could be sent it raises
``BrokerUnavailable`` (503, retry).
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from aws_lambda_powertools.metrics import MetricUnit

from exchange.domain.commands import CancelOrder
from exchange.ids import command_id
from exchange.observability import metrics
from exchange.orders.errors import BrokerUnavailable, PublishUnconfirmed
from exchange.orders.lookup import OrderLookup, recent_window
from exchange.orders.model import Accepted, Order, PageKey
from exchange.orders.publisher import CommandSink

# Open orders read per query.
PAGE_SIZE: Final = 100
NOT_ATTEMPTED: Final = "not_attempted"
_MS: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class NotSent:
    order_id: str
    client_order_id: str
    symbol: str
    reason: str  # broker_unavailable, publish_unconfirmed (it may have been queued), not_attempted
    detail: str

    @classmethod
    def of(cls, order: Order, reason: str, detail: str) -> "NotSent":
        return cls(order.order_id, order.client_order_id, order.symbol, reason, detail)


@dataclass(frozen=True, slots=True)
class MassCancelResult:
    sent: list[Accepted] = field(default_factory=list)
    not_sent: list[NotSent] = field(default_factory=list)
    # More open orders than the run may cancel were listed: run it again.
    truncated: bool = False

    @property
    def complete(self) -> bool:
        """Every open order of the run got its cancel."""
        return not self.not_sent and not self.truncated

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe, as the idempotency store keeps it.

        >>> result = MassCancelResult([Accepted("o", "PENDING_CANCEL")], [], truncated=True)
        >>> MassCancelResult.from_dict(result.as_dict()) == result
        True
        """
        return {
            "sent": [accepted.as_dict() for accepted in self.sent],
            "not_sent": [
                {
                    "order_id": item.order_id,
                    "client_order_id": item.client_order_id,
                    "symbol": item.symbol,
                    "reason": item.reason,
                    "detail": item.detail,
                }
                for item in self.not_sent
            ],
            "truncated": self.truncated,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MassCancelResult":
        return cls(
            sent=[Accepted.from_dict(item) for item in data["sent"]],
            not_sent=[NotSent(**item) for item in data["not_sent"]],
            truncated=bool(data["truncated"]),
        )


class MassCancel:
    def __init__(
        self,
        *,
        lookup: OrderLookup,
        sink: CommandSink,
        limit: int,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._lookup = lookup
        self._sink = sink
        self._limit = limit
        self._clock = clock

    def cancel_all(
        self,
        account_id: str,
        *,
        source: str,
        symbol: str | None = None,
        key: str | None = None,
        placed_before_ns: int | None = None,
    ) -> MassCancelResult:
        """Cancel the account's open orders (of ``symbol``) placed before ``placed_before_ns``
        (default: up to now, this millisecond included), at most the run's limit. ``source``
        names the caller in the command ids (``cancel_all``, ``cancel_after``)."""
        before = self._clock() + _MS if placed_before_ns is None else placed_before_ns
        listing = _Listing(self._lookup, account_id, symbol, before, self._limit)
        sent: list[Accepted] = []
        not_sent: list[NotSent] = []
        failure: BrokerUnavailable | None = None
        for page in listing.pages():
            for order in page:
                if failure is not None:
                    not_sent.append(NotSent.of(order, NOT_ATTEMPTED, "an earlier cancel failed"))
                    continue
                try:
                    sent.append(self._cancel(order, source, key))
                except BrokerUnavailable as exc:
                    failure = exc
                    reason = (
                        "publish_unconfirmed" if isinstance(exc, PublishUnconfirmed) else exc.code
                    )
                    not_sent.append(NotSent.of(order, reason, str(exc)))
            if failure is not None:
                break
        if sent:
            metrics.add_metric(name="MassCancelCommands", unit=MetricUnit.Count, value=len(sent))
        if failure is not None and not sent:
            raise failure
        return MassCancelResult(sent=sent, not_sent=not_sent, truncated=listing.truncated)

    def _cancel(self, order: Order, source: str, key: str | None) -> Accepted:
        parts = (order.account_id, order.order_id, source, key) if key is not None else ()
        cid = command_id(*parts)
        self._sink.publish(
            CancelOrder(
                symbol=order.symbol,
                ts=self._clock(),
                command_id=cid,
                order_id=order.order_id,
                account_id=order.account_id,
            )
        )
        return Accepted(order.order_id, "PENDING_CANCEL", order.client_order_id, order.symbol, cid)


class _Listing:
    """The run's open orders, oldest first, each once, at most ``limit``: from the
    ``open_orders`` index those placed before the recent window (``recent_window``), then from
    the table itself, consistently, those placed within it (the index may not show them yet).
    ``truncated`` unless the listing ran to its end within the limit."""

    def __init__(
        self, lookup: OrderLookup, account_id: str, symbol: str | None, before: int, limit: int
    ) -> None:
        self._lookup = lookup
        self._account_id = account_id
        self._symbol = symbol
        self._recent = recent_window(before)
        self._room = limit
        self._seen: set[str] = set()
        self.truncated = True

    def pages(self) -> Iterator[list[Order]]:
        after: PageKey | None = None
        while self._room > 0:
            page = self._lookup.open_orders(
                self._account_id,
                symbol=self._symbol,
                placed_before_ns=self._recent.start_ns or 0,
                limit=min(PAGE_SIZE, self._room),
                after=after,
            )
            yield self._take(page.items)
            after = page.next_key
            if after is None:
                break
        if after is not None:
            return  # the limit was reached with more of the index to read
        recent = [
            order
            for order in self._lookup.recent_orders(
                self._account_id,
                self._recent,
                limit=self._room + 1,
                open_only=True,
                symbol=self._symbol,
            )
            if order.order_id not in self._seen
        ]
        self.truncated = len(recent) > self._room
        yield self._take(recent[: self._room])

    def _take(self, orders: list[Order]) -> list[Order]:
        fresh = [order for order in orders if order.order_id not in self._seen]
        self._seen.update(order.order_id for order in fresh)
        self._room -= len(fresh)
        return fresh
