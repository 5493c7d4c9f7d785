"""What ``python -m local`` is told: where to listen, which services to use, the pollers' and
the schedules' settings (``StackOptions``, built by ``local.__main__`` from its arguments).
"""

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from local.pollers import MappingConfig

# Scheduled functions that run on a faster clock than their deployed rule by default: the
# reconciler every 5 s (EventBridge: every minute), so an order a lost command left PENDING_NEW
# is settled soon after ``reconcile_after_s``; the notices' relay every 5 s (a minute), so a notice
# the deposits or payouts function could not relay at once is emailed soon after. Every other
# rule runs at its deployed rate (the payout sweeper: every 5 minutes).
LOCAL_SCHEDULES: Final[Mapping[str, float]] = {"reconciler": 5.0, "notices_relay": 5.0}
# A new withdrawal destination is usable after this long locally (a day as deployed:
# ``WithdrawalPolicySettings.destination_delay_seconds``), so a session can try it at once.
LOCAL_DESTINATION_DELAY_S: Final = 2
# Where the archive poller writes the journal as Parquet (``events/symbol=<S>/date=<D>/``) when
# the stack is not told otherwise: kept after the stack stops, for ``make backtest``.
DEFAULT_ARCHIVE_DIR: Final = Path(__file__).resolve().parent.parent / ".cache" / "local" / "archive"
# The functions on an order's path that run in worker processes (``local.workers``), and how many
# execution environments each gets: the API's orders function several, as Lambda's concurrency
# would give it under load; each stream consumer one (an event source mapping hands a shard's
# batches to one invocation at a time). The rest run on threads of the stack's own process.
DEFAULT_WORKERS: Final[Mapping[str, int]] = {
    "orders": 3,
    "recorder": 1,
    "settlement": 1,
    "fanout": 1,
    "candles": 1,
}


@dataclass(frozen=True, slots=True)
class StackOptions:
    host: str = "127.0.0.1"
    port: int = 8000  # 0: any free port
    embedded: bool = False  # embedded stand-ins even where real services answer
    database_url: str | None = None
    redis_url: str | None = None
    broker_url: str | None = None
    workdir: Path | None = None
    state_file: Path | None = None
    seed: bool = True
    journal_shards: int = 1
    # None: the Kinesis event source mappings' settings as deployed (the template's).
    mapping: MappingConfig | None = None
    # Function -> seconds between its scheduled events, in place of its deployed rule's rate.
    schedules: Mapping[str, float] = field(default_factory=lambda: dict(LOCAL_SCHEDULES))
    reconcile_after_s: int = 60  # ReconcilerSettings.reconcile_after_seconds
    destination_delay_s: int = LOCAL_DESTINATION_DELAY_S  # a new destination's wait, in seconds
    archive_dir: Path = DEFAULT_ARCHIVE_DIR
    payout_provider_delay_s: float = 0.5  # the fake provider's wait before its webhook
    # Function -> worker processes; ignored (all threads) with the in-process broker, which a
    # worker process cannot reach.
    workers: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_WORKERS))


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port
