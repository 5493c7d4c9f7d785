"""The consumers' stores on DynamoDB (the pynamodb models of ``exchange.tables``).

Decimal strings at this edge, ticks and lots inside. Conditional writes make every store
idempotent: orders and bars on the ``last_seq`` that was read, audit entries on absence (in
transactions of up to 100, falling back to one conditional put each when some already exist),
cursors on the position that was read.
"""

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any, Final

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from exchange.domain.enums import OrderStatus, OrderType, Side, StpMode, TimeInForce
from exchange.domain.events import AnyEvent
from exchange.domain.instruments import Instrument, InstrumentCatalog
from exchange.domain.numbers import parse_decimal, plain, steps_in
from exchange.streams.audit import AuditConflict, AuditEntry, AuditLink, kind_of
from exchange.streams.candles import Bar, BarConflict, BarKey, CandleStore
from exchange.streams.cursors import CursorConflict, CursorStore
from exchange.streams.orders import FillRow, OrderState
from exchange.streams.recorder import OrderConflict, OrderKey, RecorderStore, TradeRow
from exchange.tables import (
    AuditRecord,
    CandleRecord,
    CursorRecord,
    EventRecord,
    FillRecord,
    OrderRecord,
    TradeRecord,
)
from exchange.wire import encode_event

CONDITION_FAILED: Final = "ConditionalCheckFailedException"
MAX_TRANSACTION_ITEMS: Final = 100


def _condition_failed(exc: PutError | UpdateError) -> bool:
    return exc.cause_response_code == CONDITION_FAILED


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
        with EventRecord.batch_write() as batch:
            for event in events:
                batch.save(
                    EventRecord(
                        event.symbol,
                        event.seq,
                        kind=kind_of(event),
                        payload=encode_event(event),
                        ts_ns=event.ts,
                    )
                )

    def put_fills(self, fills: Sequence[FillRow]) -> None:
        with FillRecord.batch_write() as batch:
            for row in fills:
                instrument = self._catalog.get(row.symbol)
                batch.save(
                    FillRecord(
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
                )

    def put_trades(self, trades: Sequence[TradeRow]) -> None:
        with TradeRecord.batch_write() as batch:
            for row in trades:
                instrument = self._catalog.get(row.symbol)
                batch.save(
                    TradeRecord(
                        row.symbol,
                        row.seq,
                        price=instrument.format_price(row.price),
                        qty=instrument.format_qty(row.qty),
                        aggressor_side=row.aggressor_side,
                        ts_ns=row.ts_ns,
                        expires_at=dt.datetime.fromtimestamp(row.expires_at_s, tz=dt.UTC),
                    )
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
        try:
            OrderRecord(state.account_id, state.order_id).update(
                actions=_order_actions(instrument, state), condition=condition
            )
        except UpdateError as exc:
            if _condition_failed(exc):
                raise OrderConflict(
                    f"order {state.order_id} moved from seq {expected_last_seq}"
                ) from exc
            raise

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        for start in range(0, len(entries), MAX_TRANSACTION_ITEMS):
            chunk = entries[start : start + MAX_TRANSACTION_ITEMS]
            try:
                with TransactWrite(connection=_connection(AuditRecord)) as transaction:
                    for entry in chunk:
                        transaction.save(
                            _audit_row(entry), condition=AuditRecord.seq.does_not_exist()
                        )
            except TransactWriteError:
                # Some of the chunk exists (a replay after a crash): check and fill in one by one.
                for entry in chunk:
                    _put_audit(entry)

    def audit_entries(self, symbol: str) -> Iterator[AuditEntry]:
        return audit_entries(symbol)


def _connection(model: Any) -> Connection:
    return Connection(region=model.Meta.region, host=model.Meta.host)


def _audit_row(entry: AuditEntry) -> AuditRecord:
    return AuditRecord(
        entry.symbol,
        entry.seq,
        kind=entry.kind,
        payload=entry.payload,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
        recorded_ns=entry.recorded_ns,
    )


def _put_audit(entry: AuditEntry) -> None:
    try:
        _audit_row(entry).save(condition=AuditRecord.seq.does_not_exist())
        return
    except PutError as exc:
        if not _condition_failed(exc):
            raise
    existing = AuditRecord.get(entry.symbol, entry.seq, consistent_read=True)
    if existing.hash != entry.hash or existing.prev_hash != entry.prev_hash:
        raise AuditConflict(
            f"audit {entry.symbol}#{entry.seq} exists with hash {existing.hash}, not {entry.hash}"
        )


def audit_entries(symbol: str) -> Iterator[AuditEntry]:
    """A symbol's audit log in seq order, page by page (the verifier's input)."""
    for row in AuditRecord.query(symbol, scan_index_forward=True, consistent_read=True):
        yield AuditEntry(
            symbol=row.symbol,
            seq=int(row.seq),
            kind=row.kind,
            payload=bytes(row.payload),
            prev_hash=row.prev_hash,
            hash=row.hash,
            recorded_ns=int(row.recorded_ns),
        )


class DynamoCursorStore(CursorStore):
    def get(self, consumer: str, symbol: str) -> int:
        try:
            return int(CursorRecord.get(consumer, symbol, consistent_read=True).last_seq)
        except CursorRecord.DoesNotExist:
            return 0

    def advance(self, consumer: str, symbol: str, *, after: int, to: int, now_ns: int) -> None:
        condition = (
            CursorRecord.symbol.does_not_exist() if after == 0 else CursorRecord.last_seq == after
        )
        try:
            CursorRecord(consumer, symbol, last_seq=to, updated_ns=now_ns).save(condition=condition)
        except PutError as exc:
            if _condition_failed(exc):
                raise CursorConflict(f"{consumer}/{symbol} is not at seq {after}") from exc
            raise


class DynamoCandleStore(CandleStore):
    def __init__(self, catalog: InstrumentCatalog) -> None:
        self._catalog = catalog

    def get(self, symbol: str, keys: Sequence[BarKey]) -> dict[BarKey, Bar]:
        if not keys:
            return {}
        instrument = self._catalog.get(symbol)
        bars = {}
        for row in CandleRecord.batch_get(list(keys), consistent_read=True):
            interval = row.series.rsplit("#", 1)[1]
            bar = Bar(
                symbol=symbol,
                interval=interval,
                start=int(row.start),
                open=instrument.price_to_ticks(row.open),
                high=instrument.price_to_ticks(row.high),
                low=instrument.price_to_ticks(row.low),
                close=instrument.price_to_ticks(row.close),
                volume=instrument.qty_to_lots(row.volume),
                trades=int(row.trades),
                first_seq=int(row.first_seq),
                last_seq=int(row.last_seq),
            )
            bars[(row.series, bar.start)] = bar
        return bars

    def save(self, bar: Bar, *, expected_last_seq: int | None) -> None:
        instrument = self._catalog.get(bar.symbol)
        condition = (
            CandleRecord.start.does_not_exist()
            if expected_last_seq is None
            else CandleRecord.last_seq == expected_last_seq
        )
        row = CandleRecord(
            bar.series,
            bar.start,
            open=instrument.format_price(bar.open),
            high=instrument.format_price(bar.high),
            low=instrument.format_price(bar.low),
            close=instrument.format_price(bar.close),
            volume=instrument.format_qty(bar.volume),
            trades=bar.trades,
            first_seq=bar.first_seq,
            last_seq=bar.last_seq,
        )
        try:
            row.save(condition=condition)
        except PutError as exc:
            if _condition_failed(exc):
                raise BarConflict(f"bar {bar.series}@{bar.start} moved") from exc
            raise
