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
# is settled soon after ``reconcile_after_s``. Every other rule runs at its deployed rate.
LOCAL_SCHEDULES: Final[Mapping[str, float]] = {"reconciler": 5.0}


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


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port
