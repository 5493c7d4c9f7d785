"""The engine runtime's settings (``RuntimeConfig``, built from ``EngineSettings`` by the
composition root), its counters (the EMF metrics of ``engine_service.telemetry``) and status."""

import enum
import time
from dataclasses import dataclass

from exchange.heartbeat import HEARTBEAT_INTERVAL_S


class Status(enum.StrEnum):
    STARTING = "starting"
    RECOVERING = "recovering"
    READY = "ready"
    DEGRADED = "degraded"  # broker unreachable (retrying), or the journal failed (not serving)
    STOPPED = "stopped"


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True, kw_only=True)
class RuntimeConfig:
    shard: str
    poll_max: int = 1_000  # deliveries taken per poll
    # Longest the loop holds events before handing them to the journal writer; 0 hands each
    # poll's events over at once (the writer batches by itself: what comes during a write goes
    # in the next).
    linger_s: float = 0.002
    max_batch_events: int = 20_000  # most events in one journal write (and one hand-over)
    max_waiting_events: int = 100_000  # stop taking commands while this many wait for the journal
    idle_wait_s: float = 0.05  # longest a step waits for a delivery or a write when idle
    snapshot_every_events: int = 10_000
    snapshot_every_s: float = 60.0
    book_depth: int = 50
    heartbeat_every_s: float = HEARTBEAT_INTERVAL_S
    reconnect_backoff_s: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
    # The failover epoch this engine matches at (``engine_service.fence``): stamped on every
    # journal record and snapshot.
    epoch: int = 0


@dataclass
class Counters:
    commands: int = 0
    operator_commands: int = 0  # of ``commands``: operators' (status, mass cancel, ...)
    events: int = 0
    duplicates: int = 0
    poison: int = 0
    flushes: int = 0  # journal writes
    snapshots: int = 0
    reconnects: int = 0
    journal_ms: float = 0.0  # total time spent in journal writes
    recovery_ms: float = 0.0
    replayed_events: int = 0
