"""In-process adapters: for unit tests and for the embedded local mode with no real services."""

import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence

from engine_service.ports import BrokerUnavailable, Delivery, JournalPosition
from exchange.domain.events import AnyEvent
from exchange.wire import JournalRecord, decode_record, encode_record


class InMemoryBroker:
    """One queue per shard with at-least-once delivery, like a quorum queue with one consumer.

    Unacknowledged deliveries come again (``redelivered=True``) after ``disconnect``; dead-lettered
    bodies are kept per shard.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._queues: dict[str, deque[tuple[bytes, bool]]] = {}
        self.dead_letters: dict[str, list[bytes]] = {}

    def publish(self, shard: str, body: bytes) -> None:
        with self._lock:
            self._queues.setdefault(shard, deque()).append((body, False))
            self._lock.notify_all()

    def intake(self, shard: str) -> "InMemoryIntake":
        return InMemoryIntake(self, shard)

    def depth(self, shard: str) -> int:
        with self._lock:
            return len(self._queues.get(shard, ()))


class InMemoryIntake:
    def __init__(self, broker: InMemoryBroker, shard: str) -> None:
        self._broker = broker
        self._shard = shard
        self._unacked: dict[int, bytes] = {}
        self._next_tag = 1
        self._connected = False
        self._consuming = False
        self._woken = False  # under the broker's lock

    def connect(self) -> None:
        self._connected = True
        self._consuming = True

    def disconnect(self) -> None:
        """Drop the connection as a broker restart would: unacked messages go back in front."""
        with self._broker._lock:
            queue = self._broker._queues.setdefault(self._shard, deque())
            for tag in sorted(self._unacked, reverse=True):
                queue.appendleft((self._unacked[tag], True))
            self._unacked.clear()
            self._connected = False

    def _check(self) -> None:
        if not self._connected:
            raise BrokerUnavailable("in-memory broker disconnected")

    def poll(self, max_messages: int, timeout_s: float) -> list[Delivery]:
        self._check()
        if not self._consuming:
            return []
        lock = self._broker._lock
        with lock:
            queue = self._broker._queues.setdefault(self._shard, deque())
            if not queue and not self._woken:
                lock.wait(timeout_s)
            self._woken = False
            out: list[Delivery] = []
            while queue and len(out) < max_messages:
                body, redelivered = queue.popleft()
                tag = self._next_tag
                self._next_tag += 1
                self._unacked[tag] = body
                out.append(Delivery(tag, body, redelivered))
            return out

    def wake(self) -> None:
        with self._broker._lock:
            self._woken = True
            self._broker._lock.notify_all()

    def ack_through(self, tag: int) -> None:
        self._check()
        for pending in [t for t in self._unacked if t <= tag]:
            del self._unacked[pending]

    def dead_letter(self, tag: int) -> None:
        self._check()
        body = self._unacked.pop(tag)
        self._broker.dead_letters.setdefault(self._shard, []).append(body)

    def stop_consuming(self) -> None:
        self._consuming = False

    def close(self) -> None:
        self.disconnect()

    def lag(self) -> int | None:
        return self._broker.depth(self._shard)

    @property
    def unacked(self) -> int:
        return len(self._unacked)


class InMemoryJournal:
    """An append-only list of encoded records; positions are list indices."""

    STREAM = "memory"

    def __init__(self) -> None:
        self.payloads: list[bytes] = []

    def append(self, records: Sequence[JournalRecord]) -> JournalPosition:
        self.payloads.extend(encode_record(record) for record in records)
        return JournalPosition({self.STREAM: str(len(self.payloads) - 1)})

    def read_after(
        self, position: JournalPosition
    ) -> Iterator[tuple[JournalRecord, JournalPosition]]:
        start = int(position.sequence_numbers.get(self.STREAM, "-1")) + 1
        for index in range(start, len(self.payloads)):
            yield decode_record(self.payloads[index]), JournalPosition({self.STREAM: str(index)})

    def records(self) -> list[JournalRecord]:
        return [decode_record(payload) for payload in self.payloads]


class InMemorySnapshotStore:
    def __init__(self) -> None:
        self.snapshots: dict[str, list[bytes]] = {}

    def save(self, shard: str, snapshot: bytes) -> None:
        self.snapshots.setdefault(shard, []).append(snapshot)

    def load(self, shard: str) -> bytes | None:
        saved = self.snapshots.get(shard)
        return saved[-1] if saved else None


class InMemoryReplicatedEvents:
    """The events table's copy of the journal (``recovery.ReplicatedEvents``) in a dict: what the
    DR region holds of the primary's events, for tests and the DR drill."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, dict[int, AnyEvent]] = {}

    def put(self, events: Iterable[AnyEvent]) -> None:
        with self._lock:
            for event in events:
                self._events.setdefault(event.symbol, {})[event.seq] = event

    def events_after(self, symbol: str, seq: int) -> Iterator[AnyEvent]:
        with self._lock:
            held = self._events.get(symbol, {})
            chosen = [held[s] for s in sorted(held) if s > seq]
        return iter(chosen)

    def tail(self, symbol: str) -> int:
        with self._lock:
            return max(self._events.get(symbol, {}), default=0)
