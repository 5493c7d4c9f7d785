"""The engine service's loop: broker intake -> pure engine -> durable journal -> ack.

Exactly-once effect on at-least-once delivery:
- a broker message is acknowledged only after the events it caused are durable in the journal;
- a redelivered command whose effect the engine already holds (same order id, or same command id
  for a cancel or amend) is dropped without events;
- on start, the state is the newest snapshot plus every journal event after it, so commands whose
  events were durable before a crash are known when they come again.

Snapshots and the L2 views are best-effort: a store that fails (Redis down, say) is recorded in
``store_health`` and reported by ``health()`` as ``degraded`` with the reason, while the engine
goes on consuming. Crashing instead would gain nothing (the journal holds every event) and would
cost much: each restart returns the unacknowledged commands to the queue, and after the delivery
limit valid orders land in the dead-letter queue.

Every ``heartbeat_every_s`` the loop hands a beat (each symbol's last journaled seq) to its
heartbeat sink, which writes it off the loop; ``GET /v1/health`` reads it (``exchange.heartbeat``).

A symbol listed at run time (``ListInstrument``) gets a book like any other, in the journal, the
heartbeat, the L2 views and the snapshots, and is snapshotted at once; how a restart finds it, and
adopts what the instruments store lists that the engine lacks: ``engine_service.recovery``.
"""

import dataclasses
import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass

from engine_service.adapters.kinesis import pack
from engine_service.core import Engine
from engine_service.ports import (
    BookPublisher,
    BrokerUnavailable,
    Clock,
    Delivery,
    HeartbeatSink,
    Intake,
    Journal,
    JournalPosition,
    ListingSource,
    SnapshotRefused,
    SnapshotStore,
    SnapshotStoreUnavailable,
    StoreHealth,
)
from engine_service.recovery import adopt, rebuild
from engine_service.snapshot import SNAPSHOT_FORMAT, ShardSnapshot, encode_snapshot
from exchange.domain import Event, Instrument, WireFormatError
from exchange.domain.commands import OPERATOR_COMMAND_TYPES, ListInstrument
from exchange.heartbeat import HEARTBEAT_INTERVAL_S
from exchange.l2 import BookLevel, L2Book
from exchange.observability import logger
from exchange.wire import decode_command

_OPERATOR_COMMANDS = frozenset(OPERATOR_COMMAND_TYPES)


class Status(enum.StrEnum):
    STARTING = "starting"
    RECOVERING = "recovering"
    READY = "ready"
    DEGRADED = "degraded"  # broker or journal unreachable; retrying (not serving)
    STOPPED = "stopped"


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True, kw_only=True)
class RuntimeConfig:
    shard: str
    poll_max: int = 1_000  # deliveries taken per poll
    linger_s: float = 0.002  # longest an event waits before the journal write
    max_batch_events: int = 20_000  # flush when this many events are waiting
    snapshot_every_events: int = 10_000
    snapshot_every_s: float = 60.0
    book_depth: int = 50
    heartbeat_every_s: float = HEARTBEAT_INTERVAL_S
    reconnect_backoff_s: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass
class Counters:
    commands: int = 0
    operator_commands: int = 0  # of ``commands``: operators' (status, mass cancel, ...)
    events: int = 0
    duplicates: int = 0
    poison: int = 0
    flushes: int = 0
    snapshots: int = 0
    reconnects: int = 0
    journal_ms: float = 0.0  # total time spent in journal writes
    recovery_ms: float = 0.0
    replayed_events: int = 0


class EngineRuntime:
    def __init__(
        self,
        *,
        config: RuntimeConfig,
        instruments: Sequence[Instrument],
        intake: Intake,
        journal: Journal,
        snapshots: SnapshotStore,
        books: BookPublisher | None = None,
        clock: Clock | None = None,
        store_health: StoreHealth | None = None,
        heartbeat: HeartbeatSink | None = None,
        listings: ListingSource | None = None,
    ) -> None:
        """``store_health`` is shared with the snapshot stores that record their own failures
        (``CompositeSnapshotStore``); by default the runtime keeps its own. ``heartbeat`` gets a
        beat from ``step`` every ``config.heartbeat_every_s``. ``recover`` reads ``listings``."""
        self.config = config
        self._instruments = list(instruments)
        self._intake = intake
        self._journal = journal
        self._snapshots = snapshots
        self._books = books
        self._heartbeat = heartbeat
        self._listings = listings
        self._clock = clock or SystemClock()
        self.engine = Engine(self._instruments)
        self.position = JournalPosition()
        self.status = Status.STARTING
        self.counters = Counters()
        self.store_health = store_health or StoreHealth()
        self._pending_events: list[Event] = []
        self._pending_tag: int | None = None
        self._oldest_pending_at: float | None = None
        self._events_since_snapshot = 0
        self._books_snapshotted = 0  # a new book (a listing) is snapshotted at once
        self._last_snapshot_at = self._clock.monotonic()
        # Each symbol's last seq durable in the journal (the engine's may be ahead, by the events
        # waiting for the next flush); what the heartbeat reports.
        self.journaled_seqs: dict[str, int] = {}
        self._last_beat_at: float | None = None

    # -- start -----------------------------------------------------------------------------------
    def recover(self) -> None:
        """Rebuild the engine (``engine_service.recovery``), then apply the store's listings it
        lacks. Raises the store's error when it cannot be read."""
        self.status = Status.RECOVERING
        started = time.perf_counter()
        recovered = rebuild(
            shard=self.config.shard,
            instruments=self._instruments,
            snapshots=self._snapshots,
            journal=self._journal,
            listings=self._listings,
            store_failed=self._store_failed,
        )
        self.engine, self.position = recovered.engine, recovered.position
        self._books_snapshotted = len(self.engine.books)
        self.counters.recovery_ms = (time.perf_counter() - started) * 1000
        self.counters.replayed_events = recovered.replayed
        self._journaled()  # everything recovered came from the journal
        logger.info(
            "recovered",
            extra={
                "snapshot": recovered.snapshot,
                "replayed_events": recovered.replayed,
                "recovery_ms": round(self.counters.recovery_ms, 1),
                "seqs": {symbol: self.engine.seq(symbol) for symbol in self.engine.books},
            },
        )
        adopted = adopt(self.engine, recovered.adoptable)
        self.counters.operator_commands += len(recovered.adoptable)
        self._pending_events.extend(adopted)
        if recovered.replayed or adopted:
            self.snapshot()  # the next start need not replay them again

    def connect(self) -> None:
        """Connect to the broker, retrying with backoff until it answers."""
        for attempt, delay in enumerate((*self.config.reconnect_backoff_s, None), start=1):
            try:
                self._intake.connect()
            except BrokerUnavailable as exc:
                self.status = Status.DEGRADED
                if delay is None:
                    raise
                logger.warning(
                    "broker unavailable; retrying", extra={"attempt": attempt, "error": str(exc)}
                )
                time.sleep(delay)
            else:
                self.status = Status.READY
                return

    # -- loop ------------------------------------------------------------------------------------
    def step(self) -> int:
        """One poll: process what came, flush and snapshot when due. Returns deliveries taken."""
        try:
            taken = self._take(self.config.linger_s)
            if self._flush_due():
                self.flush()
        except BrokerUnavailable as exc:
            self._on_broker_lost(exc)
            return 0
        if self._snapshot_due():
            self.snapshot()
        if self._heartbeat is not None and self._beat_due():
            self._beat(self._heartbeat)
        return taken

    def _take(self, timeout_s: float) -> int:
        deliveries = self._intake.poll(self.config.poll_max, timeout_s)
        for delivery in deliveries:
            self._process(delivery)
        return len(deliveries)

    def _process(self, delivery: Delivery) -> None:
        try:
            command = decode_command(delivery.body)
        except WireFormatError as exc:
            self._dead_letter(delivery, f"malformed: {exc}")
            return
        kind = type(command)
        new_symbol = command.symbol not in self.engine.books
        if new_symbol and kind is not ListInstrument:
            self._dead_letter(
                delivery, f"symbol {command.symbol!r} is not traded by shard {self.config.shard}"
            )
            return
        self.counters.commands += 1
        if kind in _OPERATOR_COMMANDS:
            self.counters.operator_commands += 1
        if self.engine.is_duplicate(command):
            self.counters.duplicates += 1
            logger.debug("duplicate command dropped", extra={"redelivered": delivery.redelivered})
        else:
            events = self.engine.apply(command)
            if new_symbol and command.symbol not in self.engine.books:  # refused, with seq 0
                self._dead_letter(delivery, f"listing refused: {events[0]}")
                return
            self._pending_events.extend(events)
            self._events_since_snapshot += len(events)
            if self._oldest_pending_at is None:
                self._oldest_pending_at = self._clock.monotonic()
        self._pending_tag = delivery.tag

    def _dead_letter(self, delivery: Delivery, reason: str) -> None:
        # Settle what came before first, so the journal and the acks stay in delivery order.
        self.flush()
        self._intake.dead_letter(delivery.tag)
        self.counters.poison += 1
        logger.error("command dead-lettered", extra={"reason": reason, "tag": delivery.tag})

    def _flush_due(self) -> bool:
        if self._pending_tag is None:
            return False
        if (
            len(self._pending_events) >= self.config.max_batch_events
            or self._oldest_pending_at is None
        ):
            return True
        return self._clock.monotonic() - self._oldest_pending_at >= self.config.linger_s

    def flush(self) -> None:
        """Make pending events durable, then acknowledge the commands that caused them."""
        self._write_pending()
        if self._pending_tag is not None:
            tag, self._pending_tag = self._pending_tag, None
            self._intake.ack_through(tag)

    def _on_broker_lost(self, exc: BrokerUnavailable) -> None:
        # The unacked commands will come again. Their events are already applied to the book, so
        # make them durable: the redelivered copies are then recognised as duplicates.
        self.status = Status.DEGRADED
        logger.warning("broker connection lost", extra={"error": str(exc)})
        self._write_pending()
        self._pending_tag = None
        self._intake.close()
        self.counters.reconnects += 1
        self.connect()

    def _write_pending(self) -> None:
        """Append the pending events to the journal; on return they are durable."""
        if self._pending_events:
            started = time.perf_counter()
            self.position = self.position.advanced(self._journal.append(pack(self._pending_events)))
            self.counters.journal_ms += (time.perf_counter() - started) * 1000
            self.counters.events += len(self._pending_events)
            self.counters.flushes += 1
            self._pending_events = []
            self._journaled()
        self._oldest_pending_at = None

    def _journaled(self) -> None:
        # Called with nothing pending, so the engine's seqs are the durable ones.
        for symbol in self.engine.books:
            self.journaled_seqs[symbol] = self.engine.seq(symbol)

    # -- heartbeat -------------------------------------------------------------------------------
    def _beat_due(self) -> bool:
        last = self._last_beat_at
        return last is None or self._clock.monotonic() - last >= self.config.heartbeat_every_s

    def _beat(self, heartbeat: HeartbeatSink) -> None:
        self._last_beat_at = self._clock.monotonic()
        status = Status.DEGRADED if self.store_health.problems else self.status
        heartbeat.beat(self.journaled_seqs, status.value)

    def broker_lag(self) -> int | None:
        return self._intake.lag()

    def health(self) -> dict[str, object]:
        """``serving`` while consuming; ``status`` is ``degraded`` (with ``problems``, each store's
        reason) when a store fails, even while serving."""
        problems = dict(self.store_health.problems)
        serving = self.status is Status.READY
        status = Status.DEGRADED if serving and problems else self.status
        return {
            "status": status.value,
            "serving": serving,
            "problems": problems,
            "shard": self.config.shard,
            "seqs": {symbol: self.engine.seq(symbol) for symbol in self.engine.books},
            "counters": {
                **dataclasses.asdict(self.counters),
                "snapshot_store_failures": self.store_health.failures,
                "snapshots_refused": self.store_health.refused,
            },
        }

    # -- snapshots -------------------------------------------------------------------------------
    def _snapshot_due(self) -> bool:
        if len(self.engine.books) > self._books_snapshotted:
            return True
        if self._events_since_snapshot >= self.config.snapshot_every_events:
            return True
        elapsed = self._clock.monotonic() - self._last_snapshot_at
        return self._events_since_snapshot > 0 and elapsed >= self.config.snapshot_every_s

    def snapshot(self) -> None:
        """Save the state, which must equal the durable journal: flush first. Best-effort: a
        store that fails is recorded in ``store_health``; the next snapshot tries again."""
        self.flush()
        snapshot = ShardSnapshot(
            format=SNAPSHOT_FORMAT,
            shard=self.config.shard,
            seqs={symbol: self.engine.seq(symbol) for symbol in self.engine.books},
            position=self.position,
            engine_state=self.engine.snapshot(),
            taken_ns=time.time_ns(),  # only tells a reader (the reconciliation) its age
        )
        try:
            self._snapshots.save(self.config.shard, encode_snapshot(snapshot))
        except SnapshotStoreUnavailable as exc:
            self._store_failed("snapshots", exc)
        else:
            self.store_health.worked("snapshots")
            self.counters.snapshots += 1
        if self._books is not None:
            try:
                self._books.publish_books([self.l2(symbol) for symbol in self.engine.books])
            except SnapshotStoreUnavailable as exc:
                self._store_failed("books", exc)
            else:
                self.store_health.worked("books")
        self._events_since_snapshot = 0
        self._books_snapshotted = len(self.engine.books)
        self._last_snapshot_at = self._clock.monotonic()

    def _store_failed(self, store: str, exc: SnapshotStoreUnavailable | SnapshotRefused) -> None:
        self.store_health.failed(store, str(exc))
        logger.warning("snapshot store failed", extra={"store": store, "error": str(exc)})

    def l2(self, symbol: str) -> L2Book:
        view = self.engine.l2(symbol, self.config.book_depth)
        return L2Book(
            symbol=symbol,
            seq=view.seq,
            bids=[BookLevel(level.price, level.qty, level.orders) for level in view.bids],
            asks=[BookLevel(level.price, level.qty, level.orders) for level in view.asks],
        )

    # -- stop ------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """SIGTERM: stop intake, process what was delivered, flush, ack, snapshot, close."""
        self._intake.stop_consuming()
        try:
            while self._take(0):
                pass
            self.snapshot()
        except BrokerUnavailable as exc:
            logger.warning("broker lost during shutdown", extra={"error": str(exc)})
            self._write_pending()
        finally:
            self._intake.close()
            self.status = Status.STOPPED
            if self._heartbeat is not None:
                self._heartbeat.close()
