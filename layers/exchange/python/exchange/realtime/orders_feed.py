"""The private ``orders`` channel, pushed by the recorder once it has written a record.

Each event item carries its order's ``client_order_id`` and each fill its ``fee`` and
``fee_asset``. Neither is in the journal: a trade names order ids only, and a fill's fee follows
from the order's earlier fills (the ledger rounds fees up cumulatively per order), which only
the order's state holds. The recorder has both in hand for every record (the rows it read and
wrote, and the fills with the ledger's fee), so the channel is published from there rather
than from fan-out, which would have to read them back while the recorder may still be behind.
Publishing after the record is written also means a client that reads ``GET /v1/orders`` or
``/v1/fills`` on a frame finds what the frame says.

``PublishingRecorderStore`` wraps the recorder's store: it collects what one record reads and
writes (the recorder's ``apply`` starts with ``get_orders`` and ends with ``append_audit``, the
write that marks the record applied) and publishes on ``append_audit``. A push failure is
logged and counted (``OrdersPushFailures``), never raised: the record is written, and a retry
would find it applied and push nothing.

``client_order_id`` is null only for an event naming no order of that account the recorder
holds: a refused cancel or amend (``rejected`` with a ``command_id``; match it by that id). A
fill's ``fee`` is null only when the recorder could not apply the trade to the order (logged as
``RecorderSkippedOrderEvents``).
"""

from collections.abc import Iterator, Mapping, Sequence

from exchange.domain.events import AnyEvent
from exchange.domain.instruments import InstrumentCatalog
from exchange.journal.audit import AuditEntry, AuditLink
from exchange.journal.batch import count
from exchange.observability import logger
from exchange.orders.lifecycle import FillRow, OrderState
from exchange.orders.recorder import OrderKey, RecorderStore, TradeRow
from exchange.realtime import frames
from exchange.realtime.channels import orders_key
from exchange.realtime.fanout import Broadcaster, chunks


class OrdersFeed:
    """Builds and posts one record's ``orders`` frames to each account's subscribers."""

    def __init__(self, broadcaster: Broadcaster, *, catalog: InstrumentCatalog) -> None:
        self._broadcaster = broadcaster
        self._catalog = catalog

    def publish(
        self,
        events: Sequence[AnyEvent],
        orders: Mapping[OrderKey, OrderState],
        fills: Sequence[FillRow],
    ) -> int:
        """Post the private items of ``events``; returns frames posted."""
        client_order_ids = {key: state.client_order_id for key, state in orders.items()}
        by_fill = {(row.order_id, row.seq): row for row in fills}
        items: dict[str, list[frames.Frame]] = {}
        for event in events:
            instrument = self._catalog.get(event.symbol)
            for account_id, item in frames.private_events(
                instrument, event, client_order_ids=client_order_ids, fills=by_fill
            ):
                items.setdefault(account_id, []).append(item)
        return self._broadcaster.publish(
            {
                orders_key(account_id): [
                    frames.encode(frames.orders(chunk)) for chunk in chunks(account_items)
                ]
                for account_id, account_items in items.items()
            }
        )


class PublishingRecorderStore(RecorderStore):
    """The recorder's store, publishing each record to the ``orders`` channel once written."""

    def __init__(self, inner: RecorderStore, feed: OrdersFeed) -> None:
        self._inner = inner
        self._feed = feed
        self._events: list[AnyEvent] = []
        self._orders: dict[OrderKey, OrderState] = {}
        self._fills: list[FillRow] = []

    def audit_head(self, symbol: str) -> AuditLink | None:
        return self._inner.audit_head(symbol)

    def get_orders(self, symbol: str, keys: Sequence[OrderKey]) -> dict[OrderKey, OrderState]:
        found = self._inner.get_orders(symbol, keys)
        self._events, self._orders, self._fills = [], dict(found), []  # a record starts here
        return found

    def put_events(self, events: Sequence[AnyEvent]) -> None:
        self._inner.put_events(events)
        self._events.extend(events)

    def put_fills(self, fills: Sequence[FillRow]) -> None:
        self._inner.put_fills(fills)
        self._fills.extend(fills)

    def put_trades(self, trades: Sequence[TradeRow]) -> None:
        self._inner.put_trades(trades)

    def put_rows(
        self, events: Sequence[AnyEvent], fills: Sequence[FillRow], trades: Sequence[TradeRow]
    ) -> None:
        self._inner.put_rows(events, fills, trades)
        self._events.extend(events)
        self._fills.extend(fills)

    def save_order(self, state: OrderState, *, expected_last_seq: int | None) -> None:
        self._inner.save_order(state, expected_last_seq=expected_last_seq)
        self._orders[state.key] = state

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        self._inner.append_audit(entries)
        events, orders, fills = self._events, self._orders, self._fills
        self._events, self._orders, self._fills = [], {}, []
        try:
            self._feed.publish(events, orders, fills)
        except Exception as exc:  # noqa: BLE001 - the record is written; a push never fails it
            count("OrdersPushFailures")
            logger.warning(
                "orders frames not pushed",
                extra={"events": len(events), "error": f"{type(exc).__name__}: {exc}"},
            )

    def audit_entries(self, symbol: str) -> Iterator[AuditEntry]:
        return self._inner.audit_entries(symbol)

    def audit_payloads(self, symbol: str, first: int, last: int) -> dict[int, bytes]:
        return self._inner.audit_payloads(symbol, first, last)
