"""Cancel every open order of an account, or of one of its symbols: ``DELETE /v1/orders`` and the
dead man's switch (``exchange.orders.cancel_after``) both run this.

It sends one ``CancelOrder`` per open order through the same sink as a single cancel, and the
holds are released by settlement when the engine's ``OrderCancelled`` arrives, as for any cancel.
(An engine-level mass cancel, one command per account and shard, is a later issue; until then the
work is bounded by the account's open-order cap.) Only orders placed before the run began are
cancelled, so an order placed meanwhile (e.g. after the switch was renewed) is left alone.

When there is a key (the request's Idempotency-Key, the switch's deadline), each command id
follows from the account, the order, the source and the key: a retry sends the same commands and
the engine acts on each once. The first failed publish stops the run, since the broker is down or
unsure and every further attempt would wait out a full deadline. The answer lists what was sent
and what was not; when nothing could be sent it raises ``BrokerUnavailable`` (503, retry).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit

from exchange.domain.commands import CancelOrder
from exchange.ids import command_id
from exchange.observability import metrics
from exchange.orders.errors import BrokerUnavailable, PublishUnconfirmed
from exchange.orders.lookup import OrderLookup
from exchange.orders.model import Accepted, Order, PageKey
from exchange.orders.publisher import CommandSink

# Open orders read per query.
PAGE_SIZE: Final = 100
NOT_ATTEMPTED: Final = "not_attempted"
_MS: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class NotSent:
    order: Order
    reason: str  # broker_unavailable, publish_unconfirmed (it may have been queued), not_attempted
    detail: str


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
        sent: list[Accepted] = []
        not_sent: list[NotSent] = []
        failure: BrokerUnavailable | None = None
        after: PageKey | None = None
        listed = 0
        while True:
            page = self._lookup.open_orders(
                account_id,
                symbol=symbol,
                placed_before_ns=before,
                limit=min(PAGE_SIZE, self._limit - listed),
                after=after,
            )
            listed += len(page.items)
            for order in page.items:
                if failure is not None:
                    not_sent.append(NotSent(order, NOT_ATTEMPTED, "an earlier cancel failed"))
                    continue
                try:
                    sent.append(self._cancel(order, source, key))
                except BrokerUnavailable as exc:
                    failure = exc
                    reason = (
                        "publish_unconfirmed" if isinstance(exc, PublishUnconfirmed) else exc.code
                    )
                    not_sent.append(NotSent(order, reason, str(exc)))
            after = page.next_key
            if after is None or failure is not None or listed >= self._limit:
                break
        if sent:
            metrics.add_metric(name="MassCancelCommands", unit=MetricUnit.Count, value=len(sent))
        if failure is not None and not sent:
            raise failure
        return MassCancelResult(sent=sent, not_sent=not_sent, truncated=after is not None)

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
