"""The engine service's loop: broker intake -> pure engine -> durable journal -> ack.

Exactly-once effect on at-least-once delivery:
- a broker message is acknowledged only after the events it caused are durable in the journal,
  and acknowledgements go out in delivery order;
- a redelivered command whose effect the engine already holds (same order id, or same command id
  for a cancel or amend) is dropped without events;
- on start, the state is the newest snapshot plus every journal event after it, so commands whose
  events were durable before a crash are known when they come again.

The journal is pipelined (``engine_service.journal_writer``): a writer thread writes what the
loop hands it while the loop goes on matching; each step acknowledges through the last delivery
of every write that has become durable. While ``max_waiting_events`` wait for the journal the loop
takes no commands. A failed write makes ``step`` raise with nothing it or after it acknowledged.

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
import time
from collections.abc import Sequence

from engine_service.core import Engine
from engine_service.journal_writer import Held, JournalWriter, Written
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
from engine_service.recovery import Promotion, adopt, rebuild
from engine_service.runtime_config import Counters, RuntimeConfig, Status, SystemClock
from engine_service.snapshot import SNAPSHOT_FORMAT, ShardSnapshot, encode_snapshot
from exchange.domain import Event, Instrument, WireFormatError
from exchange.domain.commands import OPERATOR_COMMAND_TYPES, ListInstrument
from exchange.l2 import BookLevel, L2Book
from exchange.observability import logger
from exchange.wire import decode_command

_OPERATOR_COMMANDS = frozenset(OPERATOR_COMMAND_TYPES)


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
        promotion: Promotion | None = None,
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
        self._listings, self._promotion = listings, promotion
        self._clock = clock or SystemClock()
        self.engine = Engine(self._instruments)
        self.position = JournalPosition()
        self.status = Status.STARTING
        self.counters = Counters()
        self.store_health = store_health or StoreHealth()
        self._held = Held()  # applied, not yet handed to the writer
        self.writer = JournalWriter(
            journal,
            max_batch_events=config.max_batch_events,
            name=f"journal-{config.shard}",
            on_settled=intake.wake,
            epoch=config.epoch,
        )
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
            promotion=self._promotion,
        )
        self.engine, self.position = recovered.engine, recovered.position
        self._books_snapshotted = len(self.engine.books)
        self.counters.recovery_ms = (time.perf_counter() - started) * 1000
        self.counters.replayed_events = recovered.replayed
        # Everything recovered came from the journal, so the engine's seqs are durable ones.
        self.journaled_seqs = {symbol: self.engine.seq(symbol) for symbol in self.engine.books}
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
        self._held.add(adopted, self._clock.monotonic())
        self.promoting = recovered.promoting  # composition.promote_consumers snapshots then
        if (recovered.replayed or adopted) and not self.promoting:
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
        """One poll: process what came, hand events to the journal writer, acknowledge what has
        become durable, snapshot and beat when due. Returns deliveries taken. Raises the
        journal's error once a write has failed."""
        try:
            self._settle(self.writer.results())
            queued, writing = self.writer.lag()
            if len(self._held.events) + queued + writing >= self.config.max_waiting_events:
                self._intake.poll(0, 0.0)  # take nothing (the broker keeps the commands) for now
                # Nothing can be taken before a write ends.
                self.writer.wait(self.config.idle_wait_s)
                taken = 0
            else:
                # While a write is in flight this waits for deliveries, not for the write: what
                # comes is matched meanwhile, so the next write can start as soon as this one
                # ends; the writer wakes the poll when it ends, to acknowledge at once.
                taken = self._take(self._held.poll_timeout(self._clock.monotonic(), self.config))
            if self._held.due(self._clock.monotonic(), self.config):
                self._held.hand_to(self.writer)
            self._settle(self.writer.results())
        except BrokerUnavailable as exc:
            self._on_broker_lost(exc)
            return 0
        if self._snapshot_due():
            self.snapshot()
        if self._heartbeat is not None and self._beat_due():
            self._beat(self._heartbeat)
        return taken

    @property
    def _pending_events(self) -> list[Event]:
        """Events applied and not yet handed to the journal writer."""
        return self._held.events

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
            self._held.add(events, self._clock.monotonic())
            self._events_since_snapshot += len(events)
        self._held.tag = delivery.tag

    def _dead_letter(self, delivery: Delivery, reason: str) -> None:
        # Settle what came before first, so the journal and the acks stay in delivery order.
        self.flush()
        self._intake.dead_letter(delivery.tag)
        self.counters.poison += 1
        logger.error("command dead-lettered", extra={"reason": reason, "tag": delivery.tag})

    def _settle(self, results: list[Written], *, ack: bool = True) -> None:
        """Take in the writes that have ended, in order: advance the durable position and seqs,
        acknowledge through the last delivery they cover, then raise a failed write's error
        (nothing it or anything after it covers is acknowledged)."""
        tag = None
        for written in results:
            if written.error is not None:
                break
            if written.position is not None:
                self.position = self.position.advanced(written.position)
                self.journaled_seqs.update(written.seqs)
                self.counters.events += written.events
                self.counters.flushes += 1
                self.counters.journal_ms += written.ms
            tag = written.tag if written.tag is not None else tag
        if ack and tag is not None:
            self._intake.ack_through(tag)  # cumulative: covers every earlier delivery
        if (error := self.writer.failed) is not None:
            self.status = Status.DEGRADED
            logger.error("journal write failed; nothing after it is acknowledged")
            raise error

    def flush(self) -> None:
        """Make every applied event durable, and acknowledge the commands that caused them."""
        self._held.hand_to(self.writer)
        self._settle(self.writer.drain())

    def _on_broker_lost(self, exc: BrokerUnavailable) -> None:
        # The unacked commands will come again. Their events are already applied to the book, so
        # make them durable: the redelivered copies are then recognised as duplicates. Their tags
        # belong to the lost channel: nothing is acknowledged.
        self.status = Status.DEGRADED
        logger.warning("broker connection lost", extra={"error": str(exc)})
        self._write_pending()
        self._intake.close()
        self.counters.reconnects += 1
        self.connect()

    def _write_pending(self) -> None:
        """Make the applied events durable without acknowledging anything (the channel their
        deliveries came on is gone)."""
        self._held.tag = None
        self._held.hand_to(self.writer)
        self._settle(self.writer.drain(), ack=False)

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
            "journal": {"held_events": len(self._held.events), **self.writer.lag_report()},
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
            epoch=self.config.epoch,
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
            self.writer.close()
            self._intake.close()
            self.status = Status.STOPPED
            if self._heartbeat is not None:
                self._heartbeat.close()

    def abandon(self) -> None:
        """Stop as ``kill -9`` would, for an in-process runtime (local mode's crash, tests):
        nothing more is written, acknowledged or snapshotted. The write in flight ends first, so
        a successor that recovers from the journal sees it or not, never half of it later."""
        self.writer.abandon()
        self._intake.close()
        self.status = Status.STOPPED


__all__ = ["Counters", "EngineRuntime", "RuntimeConfig", "Status", "SystemClock"]
