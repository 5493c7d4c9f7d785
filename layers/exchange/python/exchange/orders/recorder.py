"""The recorder: order state, fills, the public trade tape, the events table and the audit log.

Per journal record, it reads the orders the events touch, runs the state machine
(``exchange.orders.lifecycle``) in memory, then writes events, fills and trades (keyed by seq, so a
rewrite is identical), the orders (each conditional on the ``last_seq`` it read), the operators'
changes to the instruments store, and last the audit entries (conditional on absence). The audit
chain's head is the recorder's progress: a record is applied once its entries are written, and a
crash before that replays it, every write being idempotent. Its business metrics
(``business_metrics``) follow, once the record is applied.

Operators' events: an operator's cancel (``OrderCancelled``, reason OPERATOR) cancels its order
like any other (CANCELLED, ``detail`` OPERATOR); ``TradingStatusChanged`` becomes the symbol's
status in the instruments store and ``InstrumentListed`` marks its version listed at its seq
(both only forwards in seq, so a replay changes nothing); ``AccountFrozen`` changes no order (the
cancels that follow it do). All of them go to the events table and the audit chain as every
event does.

A record that repeats seqs already recorded is checked against the audit log (``verify``): other
events at those seqs (a failover's DR engine reusing them) raise ``SeqReused``, never skipped.
"""

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from exchange.domain.errors import WireFormatError
from exchange.domain.events import AnyEvent, InstrumentListed, Trade, TradingStatusChanged
from exchange.domain.instruments import InstrumentCatalog
from exchange.instruments.store import InstrumentStore
from exchange.journal.audit import AuditEntry, AuditLink, chain
from exchange.journal.batch import JournalSink, count
from exchange.journal.cursors import Clock
from exchange.journal.epochs import SeqReused
from exchange.observability import logger
from exchange.orders.business_metrics import record_figures
from exchange.orders.lifecycle import FillRow, OrderState, order_keys, step
from exchange.wire import JournalRecord, decode_event

OrderKey = tuple[str, str]  # (account_id, order_id)
NANOS_PER_DAY = 86_400 * 10**9


class OrderConflict(Exception):
    """An order row changed between the recorder's read and its write; the record is retried."""


@dataclass(frozen=True, slots=True)
class TradeRow:
    symbol: str
    seq: int
    price: int
    qty: int
    aggressor_side: str
    ts_ns: int
    expires_at_s: int | None = None  # None: the trade never expires


class RecorderStore(ABC):
    @abstractmethod
    def audit_head(self, symbol: str) -> AuditLink | None: ...

    @abstractmethod
    def get_orders(self, symbol: str, keys: Sequence[OrderKey]) -> dict[OrderKey, OrderState]:
        """The rows that exist among ``keys`` (read consistently)."""

    @abstractmethod
    def put_events(self, events: Sequence[AnyEvent]) -> None: ...

    @abstractmethod
    def put_fills(self, fills: Sequence[FillRow]) -> None: ...

    @abstractmethod
    def put_trades(self, trades: Sequence[TradeRow]) -> None: ...

    def put_rows(
        self, events: Sequence[AnyEvent], fills: Sequence[FillRow], trades: Sequence[TradeRow]
    ) -> None:
        """A record's events, fills and trades (each keyed by seq, so a rewrite is identical).
        A store that can write them together (one request) does so; this default writes each
        kind in turn."""
        self.put_events(events)
        self.put_fills(fills)
        self.put_trades(trades)

    @abstractmethod
    def save_order(self, state: OrderState, *, expected_last_seq: int | None) -> None:
        """Write the recorder's fields of an order if its ``last_seq`` is still
        ``expected_last_seq`` (None: the row must not exist). Raises OrderConflict."""

    @abstractmethod
    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Put each entry unless its seq exists; an existing identical entry is fine, a different
        one raises AuditConflict."""

    @abstractmethod
    def audit_entries(self, symbol: str) -> Iterator[AuditEntry]:
        """A symbol's audit entries in seq order."""

    def audit_payloads(self, symbol: str, first: int, last: int) -> dict[int, bytes]:
        """The payloads (each event's wire encoding) of the symbol's entries ``first..last``
        that exist. A store should read just that range; this default walks the chain."""
        return {
            entry.seq: entry.payload
            for entry in self.audit_entries(symbol)
            if first <= entry.seq <= last
        }


class Recorder(JournalSink):
    name = "recorder"

    def __init__(
        self,
        store: RecorderStore,
        *,
        catalog: InstrumentCatalog,
        asset_scales: Mapping[str, int],
        trades_ttl_days: int | None = None,
        clock: Clock = time.time_ns,
        instruments: InstrumentStore | None = None,
    ) -> None:
        """``instruments``: where the operators' status and listing events are materialized
        (None: they are not, e.g. a tool replaying the journal into the orders alone).
        ``trades_ttl_days``: None keeps the trade tape forever (see ``RecorderSettings``)."""
        self._store = store
        self._instruments = instruments
        self._catalog = catalog
        self._scales = dict(asset_scales)
        self._trades_ttl_ns = None if trades_ttl_days is None else trades_ttl_days * NANOS_PER_DAY
        self._clock = clock
        self._heads: dict[str, AuditLink | None] = {}

    def last_seq(self, symbol: str) -> int:
        head = self._store.audit_head(symbol)
        self._heads[symbol] = head
        return head.seq if head else 0

    def verify(self, record: JournalRecord, through: int) -> None:
        """The audit log holds every event the recorder applied: a repeated seq must be the same
        event (decoded and compared, so a field added to an event type since is no change)."""
        stored = self._store.audit_payloads(record.symbol, record.first_seq, through)
        wrong = [
            event.seq
            for event in record.events[: through + 1 - record.first_seq]
            if event.seq in stored and not _same(stored[event.seq], event)
        ]
        if wrong:
            raise SeqReused(
                self.name, record.symbol, wrong, None, record.epoch, detail="not the audited events"
            )

    def apply(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        symbol = record.symbol
        head = self._heads.get(symbol)
        if (head.seq if head else 0) != after:
            head = self._store.audit_head(symbol)
        instrument = self._catalog.get(symbol)
        keys = list(dict.fromkeys(key for event in events for key in order_keys(event)))
        states: dict[OrderKey, OrderState | None] = dict.fromkeys(keys)
        states.update(self._store.get_orders(symbol, keys))
        read_seq = {key: state.last_seq if state else None for key, state in states.items()}
        changed: set[OrderKey] = set()
        fills: list[FillRow] = []
        for event in events:
            for key in order_keys(event):
                result = step(states[key], event, instrument=instrument, scales=self._scales)
                if result.problem:
                    self._note(event, key, result.problem)
                if result.changed:
                    states[key] = result.state
                    changed.add(key)
                if result.fill:
                    fills.append(result.fill)
        self._store.put_rows(events, fills, list(self._trades(events)))
        for key in keys:
            state = states[key]
            if key in changed and state is not None:
                self._store.save_order(state, expected_last_seq=read_seq[key])
        self._materialize(events)
        entries = chain(head, events, self._clock())
        self._store.append_audit(entries)
        self._heads[symbol] = AuditLink(entries[-1].seq, entries[-1].hash)
        count("RecorderFills", len(fills))
        record_figures(instrument, events)

    def _materialize(self, events: Iterable[AnyEvent]) -> None:
        """The engine's status and listing events, into the instruments store the live catalogs
        read (the API refuses orders early by it; the engine stays the authority)."""
        if self._instruments is None:
            return
        for event in events:
            if isinstance(event, TradingStatusChanged):
                written = self._instruments.set_status(event.symbol, event.status, event.seq)
            elif isinstance(event, InstrumentListed):
                written = self._instruments.mark_listed(event.symbol, event.version, event.seq)
            else:
                continue
            if not written and self._instruments.get(event.symbol) is None:
                # Not a replay (that is a later seq, or another version, in force): a symbol the
                # store never listed, which only a store not seeded on deploy would lack.
                count("RecorderInstrumentsNotListed")
                logger.error(
                    "operator event of a symbol the instruments store does not list",
                    extra={"symbol": event.symbol, "seq": event.seq, "kind": type(event).__name__},
                )

    def _trades(self, events: Iterable[AnyEvent]) -> Iterator[TradeRow]:
        for event in events:
            if isinstance(event, Trade):
                yield TradeRow(
                    symbol=event.symbol,
                    seq=event.seq,
                    price=event.price,
                    qty=event.qty,
                    aggressor_side=event.aggressor_side.value,
                    ts_ns=event.ts,
                    expires_at_s=None
                    if self._trades_ttl_ns is None
                    else (event.ts + self._trades_ttl_ns) // 10**9,
                )

    @staticmethod
    def _note(event: AnyEvent, key: OrderKey, problem: str) -> None:
        if problem == "duplicate or stale":
            count("RecorderStaleOrderEvents")
            return
        count("RecorderSkippedOrderEvents")
        logger.warning(
            "order event not applied",
            extra={"symbol": event.symbol, "seq": event.seq, "order_id": key[1],
                   "problem": problem},
        )  # fmt: skip


def _same(payload: bytes, event: AnyEvent) -> bool:
    try:
        return decode_event(payload) == event
    except WireFormatError:
        return False
