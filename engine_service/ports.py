"""What the engine runtime needs from the outside world. Real adapters and in-process ones both
implement these; the runtime is handed them and reaches nothing through globals."""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from exchange.instruments.model import Listing
from exchange.l2 import L2Book

# The snapshot's shapes are the layer's, which the reconciliation reads snapshots with.
from exchange.snapshots import JournalPosition, SnapshotRefused
from exchange.wire import JournalRecord


class Delivery(NamedTuple):
    """One broker message. ``tag`` increases within a connection."""

    tag: int
    body: bytes
    redelivered: bool


class BrokerUnavailable(Exception):
    """The broker connection is gone; unacknowledged deliveries will come again."""


class JournalUnavailable(Exception):
    """The journal refused or timed out after retries; nothing may be acknowledged."""


class Intake(Protocol):
    def connect(self) -> None:
        """(Re)connect and start consuming; raises BrokerUnavailable."""

    def poll(self, max_messages: int, timeout_s: float) -> list[Delivery]:
        """Up to ``max_messages`` deliveries, waiting at most ``timeout_s`` for the first (or
        until ``wake``)."""

    def wake(self) -> None:
        """From any thread: end the wait of a ``poll`` under way, or else the next one's (the
        journal writer calls it when a write settles, so its acks go out at once). Never
        raises."""

    def ack_through(self, tag: int) -> None:
        """Acknowledge every delivery up to and including ``tag`` (AMQP ``multiple``)."""

    def dead_letter(self, tag: int) -> None:
        """Reject one delivery without requeue: it goes to the dead-letter queue."""

    def stop_consuming(self) -> None:
        """Stop new deliveries (SIGTERM); ack and dead-letter still work."""

    def close(self) -> None: ...

    def lag(self) -> int | None:
        """Messages waiting in the shard's queue, if the broker says."""


class Journal(Protocol):
    def append(self, records: Sequence[JournalRecord]) -> JournalPosition:
        """Write records durably, keeping each symbol's order; returns the new position."""

    def read_after(
        self, position: JournalPosition
    ) -> Iterator[tuple[JournalRecord, JournalPosition]]:
        """Every record written after ``position``, in each symbol's order, up to the present,
        each with the position just past it."""


class SnapshotStoreUnavailable(Exception):
    """A snapshot (or book) store could not be read or written. The engine goes on without it:
    the journal, not a snapshot, is the record of what happened."""


class SnapshotStore(Protocol):
    def save(self, shard: str, snapshot: bytes) -> None:
        """Raises SnapshotStoreUnavailable."""

    def load(self, shard: str) -> bytes | None:
        """The newest snapshot of the shard, or None. Raises SnapshotStoreUnavailable, or
        SnapshotRefused for one that must not be trusted."""


@dataclass
class StoreHealth:
    """What the snapshot and book stores failed to do: the runtime's health reports each open
    problem (``degraded``, with the reason) and its metrics count failures and refusals.

    >>> health = StoreHealth()
    >>> health.failed("redis", "ConnectionError"); health.problems
    {'redis': 'ConnectionError'}
    >>> health.worked("redis"); health.problems, health.failures
    ({}, 1)
    """

    failures: int = 0  # reads and writes that failed
    refused: int = 0  # snapshots refused as untrustworthy
    problems: dict[str, str] = field(default_factory=dict)  # store -> why, until it works again

    def failed(self, store: str, reason: str) -> None:
        self.failures += 1
        self.problems[store] = reason

    def refused_snapshot(self, store: str, reason: str) -> None:
        self.refused += 1
        self.problems[store] = f"snapshot refused: {reason}"

    def worked(self, store: str) -> None:
        self.problems.pop(store, None)


class Clock(Protocol):
    def monotonic(self) -> float: ...


class BookPublisher(Protocol):
    """Where L2 views go with each snapshot (Redis in production). Optional."""

    def publish_books(self, books: Sequence[L2Book]) -> None: ...


class HeartbeatSink(Protocol):
    """Where the loop's beats go (``adapters.heartbeat.RedisHeartbeat``). Optional. ``beat``
    must return at once: it is called on the matching loop."""

    def beat(self, seqs: Mapping[str, int], status: str) -> None: ...

    def close(self) -> None: ...


class ListingSource(Protocol):
    """The instruments store's listings (``exchange.instruments``' ``InstrumentStore``): what
    operators listed at run time, and on which shard. Read once, at start."""

    def listings(self) -> list[Listing]:
        """Every symbol's listing in force. Raises the store's ``InstrumentStoreUnavailable``."""
        ...


__all__ = [
    "BookPublisher",
    "BrokerUnavailable",
    "Clock",
    "Delivery",
    "HeartbeatSink",
    "Intake",
    "Journal",
    "JournalPosition",
    "JournalUnavailable",
    "ListingSource",
    "SnapshotRefused",
    "SnapshotStore",
    "SnapshotStoreUnavailable",
    "StoreHealth",
]
