"""The journal writer: a thread that owns the journal and writes what the matching loop hands it,
in order, while the loop goes on matching.

The loop hands over events with ``submit`` (each with the highest delivery tag they settle) and
never waits for the journal; the writer posts each write's outcome (``Written``) for the loop to
take with ``results``, in the order submitted, and the loop acknowledges through each one's tag on
its own thread (pika's channel is not thread-safe).

Batching adapts to load, with no timer: when free, the writer takes everything waiting, up to
``max_batch_events`` (always at least one submission), packs it per symbol and writes it with one
``Journal.append``. When quiet, a write holds one poll's events and starts at once (latency); when
busy, whatever came during a write goes in the next one (throughput). ``KinesisJournal.append``
splits a batch into ``PutRecords`` calls of at most 500 records and 5 MB; ``max_batch_events``
(20,000 by default, about 3 MB of records) keeps a batch to about one call.

One write is in flight at a time. Kinesis orders a shard's records only by arrival (the Kinesis
API Reference, PutRecord, SequenceNumberForOrdering: "If this parameter is not set, records are
coarsely ordered based on arrival time"), so two writes in flight could land a symbol's records
out of order; one at a time, each symbol's records land in seq order (``KinesisJournal.append``
keeps the order within a write).

A write that fails (``JournalUnavailable`` after the adapter's own retries, or anything else)
stops the writer: nothing after it is written (it would leave a seq gap), its ``Written`` carries
the error, and the loop acknowledges nothing it covers. The thread starts with the first
submission and ends after ``idle_s`` without one, or at ``close`` or ``abandon``.

After posting each outcome the writer calls ``on_settled`` (the runtime passes its intake's
``wake``): the loop, which waits for deliveries while a write is in flight rather than for the
write, then acknowledges at once instead of at the end of its wait.
"""

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from engine_service.adapters.kinesis import pack
from engine_service.ports import Journal, JournalPosition
from exchange.domain import Event

WRITE_HISTORY = 10_000  # write durations kept for percentiles (``write_ms``)


class HandOver(Protocol):
    """When the loop hands events over (``RuntimeConfig``'s fields)."""

    @property
    def linger_s(self) -> float: ...

    @property
    def max_batch_events(self) -> int: ...

    @property
    def idle_wait_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Written:
    """One write's outcome, for the loop to settle. ``position`` is None when there was nothing
    to write (only tags to acknowledge, the commands having caused no event)."""

    tag: int | None  # acknowledge through this delivery tag (None: no delivery to acknowledge)
    events: int
    seqs: dict[str, int]  # each symbol's last seq now durable
    position: JournalPosition | None
    ms: float
    error: Exception | None = None


@dataclass
class Held:
    """The loop's side of the hand-over: events applied and not yet given to the writer (held up
    to ``linger_s``), and the last delivery they cover. Only the loop's thread touches it."""

    events: list[Event] = field(default_factory=list)
    tag: int | None = None
    since: float | None = None  # when the oldest held event was applied

    def add(self, events: list[Event], now: float) -> None:
        """Hold ``events``; the linger runs from the first one held (an empty list, such as a
        start that adopted no listing, starts no clock: a clock with nothing behind it made the
        idle loop poll without waiting)."""
        if not events:
            return
        self.events.extend(events)
        if self.since is None:
            self.since = now

    def due(self, now: float, config: HandOver) -> bool:
        """Whether to hand over now: the linger has passed, ``max_batch_events`` wait, or there
        are only deliveries to acknowledge."""
        if self.tag is None and not self.events:
            return False
        if self.since is None or len(self.events) >= config.max_batch_events:
            return True
        return now - self.since >= config.linger_s

    def poll_timeout(self, now: float, config: HandOver) -> float:
        """How long the loop's next poll may wait for deliveries."""
        if self.since is not None:  # hand the held events over on time
            return max(0.0, min(config.linger_s - (now - self.since), config.idle_wait_s))
        if self.tag is not None:
            return 0.0  # hand the acknowledgement over
        # Idle, or a write in flight: its end wakes the poll (``Intake.wake``).
        return config.idle_wait_s

    def hand_to(self, writer: "JournalWriter") -> None:
        if self.tag is not None or self.events:
            writer.submit(self.events, self.tag)
            self.events, self.tag = [], None
        self.since = None


@dataclass
class _Submission:
    events: list[Event]
    tag: int | None


@dataclass
class _State:
    inbox: deque[_Submission] = field(default_factory=deque)
    waiting: int = 0  # events in the inbox
    writing: int = 0  # events in the write in flight
    busy: bool = False  # a batch is taken and not yet settled by the writer
    done: deque[Written] = field(default_factory=deque)
    failed: Exception | None = None
    running: bool = False  # the thread is up (set and cleared under the lock)
    closing: bool = False
    abandoned: bool = False


class JournalWriter:
    """Writes submitted events to ``journal`` on a thread of its own, one write at a time.

    >>> from engine_service.adapters.memory import InMemoryJournal
    >>> writer = JournalWriter(InMemoryJournal(), max_batch_events=1_000)
    >>> writer.submit([], tag=7)
    >>> [(w.tag, w.events) for w in writer.drain()]
    [(7, 0)]
    >>> writer.close()
    """

    def __init__(
        self,
        journal: Journal,
        *,
        max_batch_events: int,
        idle_s: float = 10.0,
        name: str = "journal-writer",
        on_settled: Callable[[], None] | None = None,
        epoch: int = 0,
    ) -> None:
        """``epoch``: the engine's failover epoch, stamped on every record it writes."""
        self._journal = journal
        self._epoch = epoch
        self._on_settled = on_settled  # called (on the writer's thread) after each outcome
        self._max_batch_events = max_batch_events
        self._idle_s = idle_s
        self._name = name
        self._cond = threading.Condition()
        self._state = _State()
        self._thread: threading.Thread | None = None
        self.write_ms: deque[float] = deque(maxlen=WRITE_HISTORY)  # each append's duration
        self.last_write_ms = 0.0

    # -- the loop's side ---------------------------------------------------------------------------
    def submit(self, events: list[Event], tag: int | None) -> None:
        """Queue ``events`` (and the acknowledgement of ``tag`` once they are durable)."""
        with self._cond:
            state = self._state
            if state.closing:
                raise RuntimeError("the journal writer is closed")
            state.inbox.append(_Submission(events, tag))
            state.waiting += len(events)
            self._cond.notify_all()
            if state.failed is None and not state.running:
                state.running = True
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def results(self) -> list[Written]:
        """The writes settled since the last call, in order; never waits."""
        with self._cond:
            done = list(self._state.done)
            self._state.done.clear()
            return done

    def wait(self, timeout_s: float) -> None:
        """Wait until a write settles (or the writer is idle, or has failed), at most
        ``timeout_s``."""
        with self._cond:
            self._cond.wait_for(
                lambda: bool(self._state.done) or self._idle() or self._state.failed is not None,
                timeout_s,
            )

    def drain(self) -> list[Written]:
        """Wait until everything submitted is written (or the writer has failed); the results
        not yet taken, in order."""
        with self._cond:
            self._cond.wait_for(lambda: self._idle() or self._state.failed is not None)
        return self.results()

    def close(self) -> None:
        """Write what is queued, then end the thread. Idempotent."""
        self.drain()
        self._stop(abandon=False)

    def abandon(self) -> None:
        """Stop as a kill would: drop what is queued and write nothing more; the write in flight
        (if any) ends first, so it cannot land after a successor has read the journal."""
        self._stop(abandon=True)

    @property
    def failed(self) -> Exception | None:
        return self._state.failed

    @property
    def busy(self) -> bool:
        """Events are queued or a write is in flight."""
        with self._cond:
            return not self._idle()

    def lag(self) -> tuple[int, int]:
        """(events queued, events in the write in flight)."""
        with self._cond:
            return self._state.waiting, self._state.writing

    def lag_report(self) -> dict[str, float]:
        """For health: events queued and in the write in flight, and the last write's duration."""
        queued, writing = self.lag()
        return {
            "queued_events": queued,
            "writing_events": writing,
            "last_write_ms": round(self.last_write_ms, 2),
        }

    def _idle(self) -> bool:
        return not self._state.inbox and not self._state.busy

    def _stop(self, *, abandon: bool) -> None:
        with self._cond:
            self._state.closing = True
            if abandon:
                self._state.abandoned = True
                self._state.inbox.clear()
                self._state.waiting = 0
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    # -- the writer thread -------------------------------------------------------------------------
    def _run(self) -> None:
        state = self._state
        try:
            while self._write_next(state):
                pass
        finally:
            with self._cond:
                if self._thread is threading.current_thread():
                    state.running = False  # the next submission starts a new thread
                self._cond.notify_all()

    def _write_next(self, state: _State) -> bool:
        """Take a batch, write it and post the outcome; False when the thread ends (idle,
        closed or failed), which it decides under the lock, so a submission never finds a thread
        on its way out."""
        with self._cond:
            self._cond.wait_for(lambda: state.inbox or state.closing, self._idle_s)
            if not state.inbox or state.abandoned or state.failed is not None:
                state.running = False
                return False
            batch = self._take(state)
        written = self._write(batch)
        with self._cond:
            state.writing = 0
            state.busy = False
            if not state.abandoned:
                state.done.append(written)
            if written.error is not None:
                state.failed = written.error
                state.running = False
            self._cond.notify_all()
            going_on = state.failed is None
        if self._on_settled is not None:
            self._on_settled()  # outside the lock: it may take the loop's own (the intake's)
        return going_on

    def _take(self, state: _State) -> list[_Submission]:
        batch = [state.inbox.popleft()]
        count = len(batch[0].events)
        while state.inbox and count + len(state.inbox[0].events) <= self._max_batch_events:
            submission = state.inbox.popleft()
            batch.append(submission)
            count += len(submission.events)
        state.waiting -= count
        state.writing = count
        state.busy = True
        return batch

    def _write(self, batch: Sequence[_Submission]) -> Written:
        tag = next((s.tag for s in reversed(batch) if s.tag is not None), None)
        events = [event for submission in batch for event in submission.events]
        if not events:
            return Written(tag, 0, {}, None, 0.0)
        started = time.perf_counter()
        try:
            records = pack(events, epoch=self._epoch)
            position = self._journal.append(records)
        except Exception as exc:  # noqa: BLE001 - carried to the loop's thread, which raises it
            return Written(tag, len(events), {}, None, 0.0, error=exc)
        ms = (time.perf_counter() - started) * 1000
        self.write_ms.append(ms)
        self.last_write_ms = ms
        seqs = {record.symbol: record.last_seq for record in records}  # each symbol's in order
        return Written(tag, len(events), seqs, position, ms)
