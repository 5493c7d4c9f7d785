"""The recorder's store on DynamoDB: orders, fills, trades, the events table and the audit log.

Decimal strings at this edge, ticks and lots inside. Conditional writes make it idempotent: orders
on the ``last_seq`` that was read, audit entries on absence (in transactions of up to 100, falling
back to one conditional put each when some already exist). An order that reaches a final status
gives its open-order slot back (the ``order_keys`` counter the API caps placements with) in the
same transaction as that conditional write, so exactly once.
"""

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any, Final

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from exchange.domain.enums import OrderStatus, OrderType, Side, StpMode, TimeInForce
from exchange.domain.events import AnyEvent
from exchange.domain.instruments import Instrument, InstrumentCatalog
from exchange.domain.numbers import parse_decimal, plain, steps_in
from exchange.journal.audit import AuditEntry, AuditLink, kind_of
from exchange.journal.audit_log import audit_entries, audit_row, put_audit
from exchange.orders.lifecycle import FillRow, OrderState
from exchange.orders.recorder import OrderConflict, OrderKey, RecorderStore, TradeRow
from exchange.tables import (
    OPEN_ORDERS_KEY,
    AuditRecord,
    EventRecord,
    FillRecord,
    OrderKeyRecord,
    OrderRecord,
    TradeRecord,
    batch_put,
    condition_failed,
    transaction_connection,
)
from exchange.tables.models import pending_since
from exchange.wire import encode_event

MAX_TRANSACTION_ITEMS: Final = 100


def _lots(instrument: Instrument, text: str) -> int:
    """Lots of a stored quantity, zero included (``qty_to_lots`` refuses zero)."""
    lots = steps_in(parse_decimal(text, what="quantity"), instrument.lot_size)
    if lots is None:
        raise ValueError(f"stored quantity {text!r} is not on lot {instrument.lot_size}")
    return lots


def _ticks(instrument: Instrument, text: str | None) -> int | None:
    return None if text is None else instrument.price_to_ticks(text)


def _price(instrument: Instrument, ticks: int | None) -> str | None:
    return None if ticks is None else instrument.format_price(ticks)


def _order_state(instrument: Instrument, row: OrderRecord) -> OrderState:
    return OrderState(
        account_id=row.account_id,
        order_id=row.order_id,
        symbol=row.symbol,
        client_order_id=row.client_order_id,
        side=Side(row.side),
        order_type=OrderType(row.order_type),
        tif=TimeInForce(row.tif),
        qty=_lots(instrument, row.qty),
        status=OrderStatus(row.status),
        price=_ticks(instrument, row.price),
        stop_price=_ticks(instrument, row.stop_price),
        post_only=bool(row.post_only),
        stp=StpMode(row.stp) if row.stp else None,
        filled=_lots(instrument, row.filled_qty),
        open=None if row.open_qty is None else _lots(instrument, row.open_qty),
        notional=Decimal(row.notional),
        fee=Decimal(row.fee),
        fee_accrued=Decimal(row.fee_accrued),
        reject_reason=row.reject_reason,
        detail=row.detail,
        created_ns=int(row.created_ns),
        updated_ns=int(row.updated_ns),
        last_seq=int(row.last_seq),
    )


def _order_actions(instrument: Instrument, state: OrderState) -> list[Action]:
    """SET (or REMOVE, for None) each field the recorder owns; others (the API's) are kept.

    ``open_order_id`` keys the sparse ``open_orders`` index the API counts open orders with: it
    is set while the order is open and removed at a final status, or finished orders would go on
    counting against the account's limit.
    """
    values: list[tuple[Any, object]] = [
        (OrderRecord.symbol, state.symbol),
        (OrderRecord.client_order_id, state.client_order_id),
        (OrderRecord.symbol_status, state.symbol_status),
        (OrderRecord.status, state.status.value),
        (OrderRecord.side, state.side.value),
        (OrderRecord.order_type, state.order_type.value),
        (OrderRecord.tif, state.tif.value),
        (OrderRecord.qty, instrument.format_qty(state.qty)),
        (OrderRecord.price, _price(instrument, state.price)),
        (OrderRecord.stop_price, _price(instrument, state.stop_price)),
        (OrderRecord.post_only, state.post_only),
        (OrderRecord.stp, state.stp.value if state.stp else None),
        (OrderRecord.filled_qty, instrument.format_qty(state.filled)),
        (OrderRecord.open_qty, None if state.open is None else instrument.format_qty(state.open)),
        (OrderRecord.notional, plain(state.notional)),
        (OrderRecord.fee, plain(state.fee)),
        (OrderRecord.fee_accrued, plain(state.fee_accrued)),
        (OrderRecord.reject_reason, state.reject_reason),
        (OrderRecord.detail, state.detail),
        (OrderRecord.created_ns, state.created_ns),
        (OrderRecord.updated_ns, state.updated_ns),
        (OrderRecord.last_seq, state.last_seq),
        (OrderRecord.open_order_id, state.order_id if state.status.is_open else None),
        # The reconciler's index of orders the engine has not answered: left when answered.
        (OrderRecord.pending_new_ns, pending_since(state.status.value, state.created_ns)),
    ]
    return [
        attribute.remove() if value is None else attribute.set(value) for attribute, value in values
    ]


class DynamoRecorderStore(RecorderStore):
    def __init__(self, catalog: InstrumentCatalog) -> None:
        self._catalog = catalog

    def audit_head(self, symbol: str) -> AuditLink | None:
        for row in AuditRecord.query(
            symbol, scan_index_forward=False, limit=1, consistent_read=True
        ):
            return AuditLink(int(row.seq), row.hash)
        return None

    def get_orders(self, symbol: str, keys: Sequence[OrderKey]) -> dict[OrderKey, OrderState]:
        if not keys:
            return {}
        instrument = self._catalog.get(symbol)
        return {
            (row.account_id, row.order_id): _order_state(instrument, row)
            for row in OrderRecord.batch_get(list(keys), consistent_read=True)
        }

    def put_events(self, events: Sequence[AnyEvent]) -> None:
        batch_put([_event_row(event) for event in events])

    def put_fills(self, fills: Sequence[FillRow]) -> None:
        batch_put([self._fill_row(row) for row in fills])

    def put_trades(self, trades: Sequence[TradeRow]) -> None:
        batch_put([self._trade_row(row) for row in trades])

    def put_rows(
        self, events: Sequence[AnyEvent], fills: Sequence[FillRow], trades: Sequence[TradeRow]
    ) -> None:
        """All three tables in shared ``BatchWriteItem`` requests (25 items each)."""
        batch_put(
            [
                *(_event_row(event) for event in events),
                *(self._fill_row(row) for row in fills),
                *(self._trade_row(row) for row in trades),
            ]
        )

    def _fill_row(self, row: FillRow) -> FillRecord:
        instrument = self._catalog.get(row.symbol)
        return FillRecord(
            row.account_id,
            row.fill_id,
            order_id=row.order_id,
            symbol=row.symbol,
            seq=row.seq,
            side=row.side.value,
            role=row.role.value,
            price=instrument.format_price(row.price),
            qty=instrument.format_qty(row.qty),
            fee=plain(row.fee),
            fee_asset=row.fee_asset,
            ts_ns=row.ts_ns,
        )

    def _trade_row(self, row: TradeRow) -> TradeRecord:
        instrument = self._catalog.get(row.symbol)
        return TradeRecord(
            row.symbol,
            row.seq,
            price=instrument.format_price(row.price),
            qty=instrument.format_qty(row.qty),
            aggressor_side=row.aggressor_side,
            ts_ns=row.ts_ns,
            expires_at=None
            if row.expires_at_s is None
            else dt.datetime.fromtimestamp(row.expires_at_s, tz=dt.UTC),
        )

    def save_order(self, state: OrderState, *, expected_last_seq: int | None) -> None:
        instrument = self._catalog.get(state.symbol)
        condition: Condition
        if expected_last_seq is None:
            condition = OrderRecord.order_id.does_not_exist()
        elif expected_last_seq == 0:
            condition = OrderRecord.order_id.exists() & (
                (OrderRecord.last_seq == 0) | OrderRecord.last_seq.does_not_exist()
            )
        else:
            condition = OrderRecord.last_seq == expected_last_seq
        row = OrderRecord(state.account_id, state.order_id)
        actions = _order_actions(instrument, state)
        conflict = OrderConflict(f"order {state.order_id} moved from seq {expected_last_seq}")
        if expected_last_seq is not None and not state.status.is_open:
            # An existing row only ever reaches a final status from an open one (lifecycle), and
            # the condition on last_seq makes this transition happen once: so does the slot's
            # return, in the same transaction.
            if close_order(row, actions, condition):
                return
            raise conflict
        try:
            row.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if condition_failed(exc):
                raise conflict from exc
            raise

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        for start in range(0, len(entries), MAX_TRANSACTION_ITEMS):
            chunk = entries[start : start + MAX_TRANSACTION_ITEMS]
            try:
                with TransactWrite(connection=_connection(AuditRecord)) as transaction:
                    for entry in chunk:
                        transaction.save(
                            audit_row(entry), condition=AuditRecord.seq.does_not_exist()
                        )
            except TransactWriteError:
                # Some of the chunk exists (a replay after a crash): check and fill in one by one.
                for entry in chunk:
                    put_audit(entry)

    def audit_entries(self, symbol: str) -> Iterator[AuditEntry]:
        return audit_entries(symbol)

    def audit_payloads(self, symbol: str, first: int, last: int) -> dict[int, bytes]:
        return {
            int(row.seq): bytes(row.payload)
            for row in AuditRecord.query(
                symbol,
                AuditRecord.seq.between(first, last),
                consistent_read=True,
                attributes_to_get=["seq", "payload"],
            )
        }


def _event_row(event: AnyEvent) -> EventRecord:
    return EventRecord(
        event.symbol, event.seq, kind=kind_of(event), payload=encode_event(event), ts_ns=event.ts
    )


def _connection(model: Any) -> Connection:
    return transaction_connection(model)


def close_order(row: OrderRecord, actions: list[Action], condition: Condition) -> bool:
    """Move the order to its final status and give its open-order slot back (``order_keys``
    counter), together; False when the order moved meanwhile (nothing written)."""
    counter = OrderKeyRecord(row.account_id, OPEN_ORDERS_KEY)
    try:
        with TransactWrite(connection=_connection(OrderRecord)) as transaction:
            transaction.update(row, actions=actions, condition=condition)
            transaction.update(
                counter,
                actions=[OrderKeyRecord.open_orders.add(-1)],
                condition=OrderKeyRecord.open_orders > 0,
            )
    except TransactWriteError as exc:
        failed = [
            reason is not None and reason.code == "ConditionalCheckFailed"
            for reason in exc.cancellation_reasons
        ]
        if len(failed) != 2:  # not cancelled on a condition: an outage, throttling, ...
            raise
        order_failed, counter_failed = failed
        if order_failed:
            return False
        if not counter_failed:
            raise
        # No slot to give back (an order placed before the counter was kept): move it alone.
        try:
            row.update(actions=actions, condition=condition)
        except UpdateError as again:
            if condition_failed(again):
                return False
            raise
    return True
