"""In-memory stores of the consumers and the WebSocket functions, with the rules of the real ones
(conditional writes, ordering), for unit tests, benchmarks and examples."""

from collections.abc import Iterator, Sequence
from dataclasses import replace

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from exchange.domain.events import AnyEvent, BookDelta
from exchange.journal.audit import AuditConflict, AuditEntry, AuditLink
from exchange.journal.cursors import Cursor, CursorConflict, CursorStore
from exchange.journal.epochs import EpochHistory
from exchange.journal.quarantine import Quarantined, QuarantineStore
from exchange.l2 import L2Book
from exchange.market.books import BookStore, advanced
from exchange.market.candles import Bar, BarConflict, BarKey, CandleStore
from exchange.orders.idempotency import replaceable
from exchange.orders.lifecycle import FillRow, OrderState
from exchange.orders.recorder import OrderConflict, OrderKey, RecorderStore, TradeRow
from exchange.realtime.connections import Connection, ConnectionStore, UnknownConnection
from exchange.realtime.sender import Message, Sender


class InMemoryIdempotencyStore(BasePersistenceLayer):
    """Powertools' persistence contract on a dict, with DynamoDB's put condition."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        try:
            return self.records[idempotency_key]
        except KeyError:
            raise IdempotencyItemNotFoundError from None

    def _put_record(self, data_record: DataRecord) -> None:
        existing = self.records.get(data_record.idempotency_key)
        if existing is not None and not replaceable(existing):
            self._validate_payload(data_payload=data_record, stored_data_record=existing)
            raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


class InMemoryBookStore(BookStore):
    def __init__(self) -> None:
        self.books: dict[str, L2Book] = {}

    def get(self, symbol: str) -> L2Book | None:
        return self.books.get(symbol)

    def advance(self, symbol: str, *, prev_seq: int, seq: int, deltas: Sequence[BookDelta]) -> None:
        book = advanced(self.books.get(symbol), symbol, prev_seq=prev_seq, seq=seq, deltas=deltas)
        if book is not None:
            self.books[symbol] = book


class InMemoryConnectionStore(ConnectionStore):
    """Indexed both ways, like the table and its ``by_channel`` index."""

    def __init__(self) -> None:
        self.connections: dict[str, Connection] = {}
        self.by_key: dict[str, dict[str, Connection]] = {}

    def connect(self, connection: Connection) -> None:
        self.connections[connection.connection_id] = connection

    def get(self, connection_id: str) -> Connection | None:
        return self.connections.get(connection_id)

    def channels(self, connection_id: str) -> list[str]:
        return sorted(key for key, members in self.by_key.items() if connection_id in members)

    def subscribe(self, connection: Connection, key: str) -> None:
        if connection.connection_id not in self.connections:
            raise UnknownConnection(f"connection {connection.connection_id} is gone")
        self.by_key.setdefault(key, {})[connection.connection_id] = connection

    def unsubscribe(self, connection_id: str, key: str) -> None:
        self.by_key.get(key, {}).pop(connection_id, None)

    def subscribers(self, key: str) -> list[str]:
        return list(self.by_key.get(key, ()))

    def remove(self, connection_id: str) -> None:
        self.connections.pop(connection_id, None)
        for members in self.by_key.values():
            members.pop(connection_id, None)


class InMemorySender(Sender):
    def __init__(self, gone: set[str] | None = None) -> None:
        self.gone = set(gone or ())
        self.sent: list[Message] = []

    def send(self, connection_id: str, data: bytes) -> bool:
        if connection_id in self.gone:
            return False
        self.sent.append((connection_id, data))
        return True

    def frames(self, connection_id: str) -> list[bytes]:
        return [data for cid, data in self.sent if cid == connection_id]


class InMemoryCursorStore(CursorStore):
    def __init__(self) -> None:
        self.positions: dict[tuple[str, str], int] = {}
        self.epochs: dict[tuple[str, str], EpochHistory] = {}
        self.refused: dict[tuple[str, str], frozenset[int]] = {}

    def get(self, consumer: str, symbol: str) -> int:
        return self.positions.get((consumer, symbol), 0)

    def read(self, consumer: str, symbol: str) -> Cursor:
        key = (consumer, symbol)
        return Cursor(
            self.get(consumer, symbol), self.epochs.get(key, ()), self.refused.get(key, frozenset())
        )

    def advance(
        self,
        consumer: str,
        symbol: str,
        *,
        after: int,
        to: int,
        now_ns: int,
        epochs: EpochHistory | None = None,
    ) -> None:
        if self.get(consumer, symbol) != after:
            raise CursorConflict(f"{consumer}/{symbol} is not at seq {after}")
        self.positions[(consumer, symbol)] = to
        if epochs is not None:
            self.epochs[(consumer, symbol)] = epochs

    def refuse(self, consumer: str, symbol: str, epoch: int, *, now_ns: int) -> None:
        key = (consumer, symbol)
        self.refused[key] = self.refused.get(key, frozenset()) | {epoch}


class InMemoryQuarantineStore(QuarantineStore):
    def __init__(self) -> None:
        self.stored: dict[tuple[str, str, int], Quarantined] = {}

    def put(self, item: Quarantined) -> None:
        self.stored[(item.consumer, item.symbol, item.first_seq)] = item

    def items(
        self, consumer: str, *, symbol: str | None = None, redriven: bool = False
    ) -> list[Quarantined]:
        return [
            item
            for key, item in sorted(self.stored.items())
            if key[0] == consumer
            and (symbol is None or key[1] == symbol)
            and (redriven or item.redriven_ns is None)
        ]

    def mark_redriven(self, item: Quarantined, *, now_ns: int) -> None:
        key = (item.consumer, item.symbol, item.first_seq)
        self.stored[key] = replace(self.stored[key], redriven_ns=now_ns)


class InMemoryCandleStore(CandleStore):
    def __init__(self) -> None:
        self.bars: dict[BarKey, Bar] = {}

    def get(self, symbol: str, keys: Sequence[BarKey]) -> dict[BarKey, Bar]:
        return {key: self.bars[key] for key in keys if key in self.bars}

    def save(self, bar: Bar, *, expected_last_seq: int | None) -> None:
        current = self.bars.get((bar.series, bar.start))
        if (current.last_seq if current else None) != expected_last_seq:
            raise BarConflict(f"bar {bar.series}@{bar.start} moved from seq {expected_last_seq}")
        self.bars[(bar.series, bar.start)] = bar


class InMemoryRecorderStore(RecorderStore):
    """The recorder's tables in dicts (unit tests and the benchmark)."""

    def __init__(self) -> None:
        self.orders: dict[OrderKey, OrderState] = {}
        self.fills: dict[tuple[str, str], FillRow] = {}
        self.trades: dict[tuple[str, int], TradeRow] = {}
        self.events: dict[tuple[str, int], AnyEvent] = {}
        self.audit: dict[str, dict[int, AuditEntry]] = {}
        self.heads: dict[str, AuditLink] = {}

    def audit_head(self, symbol: str) -> AuditLink | None:
        return self.heads.get(symbol)

    def get_orders(self, symbol: str, keys: Sequence[OrderKey]) -> dict[OrderKey, OrderState]:
        return {key: self.orders[key] for key in keys if key in self.orders}

    def put_events(self, events: Sequence[AnyEvent]) -> None:
        for event in events:
            self.events[(event.symbol, event.seq)] = event

    def put_fills(self, fills: Sequence[FillRow]) -> None:
        for row in fills:
            self.fills[(row.account_id, row.fill_id)] = row

    def put_trades(self, trades: Sequence[TradeRow]) -> None:
        for row in trades:
            self.trades[(row.symbol, row.seq)] = row

    def save_order(self, state: OrderState, *, expected_last_seq: int | None) -> None:
        current = self.orders.get(state.key)
        if (current.last_seq if current else None) != expected_last_seq:
            raise OrderConflict(f"order {state.order_id} moved from seq {expected_last_seq}")
        self.orders[state.key] = state

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        for entry in entries:
            chain_ = self.audit.setdefault(entry.symbol, {})
            existing = chain_.get(entry.seq)
            if existing is None:
                chain_[entry.seq] = entry
                head = self.heads.get(entry.symbol)
                if head is None or entry.seq > head.seq:
                    self.heads[entry.symbol] = AuditLink(entry.seq, entry.hash)
            elif existing.hash != entry.hash:
                raise AuditConflict(f"audit {entry.symbol}#{entry.seq} exists with another hash")

    def audit_entries(self, symbol: str) -> Iterator[AuditEntry]:
        chain_ = self.audit.get(symbol, {})
        return iter([chain_[seq] for seq in sorted(chain_)])
