"""``python -m local``'s arguments, parsed into ``StackOptions``. Apart from ``local.__main__``,
which sets Powertools' environment before anything imports it, so tests import this instead."""

import argparse
import os
from pathlib import Path
from typing import Final

from lambdas.catalog import FUNCTIONS
from local.operator import DEFAULT_STATE_FILE
from local.options import (
    DEFAULT_ARCHIVE_DIR,
    DEFAULT_WORKERS,
    LOCAL_DESTINATION_DELAY_S,
    LOCAL_SCHEDULES,
    StackOptions,
)
from local.pollers import MappingConfig

DESCRIPTION: Final = "python -m local (make run): the whole exchange on this machine until Ctrl-C."


def mapping(batch_size: int | None, retries: int | None) -> MappingConfig | None:
    """The pollers' settings: the deployed Kinesis mappings' (None), unless overridden here."""
    if batch_size is None and retries is None:
        return None
    default = MappingConfig()
    return MappingConfig(
        batch_size=batch_size or default.batch_size,
        max_retry_attempts=default.max_retry_attempts if retries is None else retries,
    )


def schedule(text: str) -> tuple[str, float]:
    """``FUNCTION=SECONDS`` -> (function, seconds)."""
    name, _, seconds = text.partition("=")
    try:
        every_s = float(seconds)
    except ValueError:
        every_s = 0.0
    if not name or every_s <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not FUNCTION=SECONDS (seconds > 0)")
    return name, every_s


def workers(text: str) -> tuple[str, int]:
    """``FUNCTION=N`` -> (function, worker processes)."""
    name, _, count = text.partition("=")
    if name not in FUNCTIONS or not count.isdigit():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not FUNCTION=N (a function of lambdas.catalog, N >= 0)"
        )
    return name, int(count)


def parse(argv: list[str] | None) -> StackOptions:
    parser = argparse.ArgumentParser(prog="python -m local", description=DESCRIPTION)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="gateway port; 0 picks a free one")
    parser.add_argument(
        "--embedded", action="store_true", help="use embedded PostgreSQL/Redis/broker only"
    )
    parser.add_argument("--workdir", type=Path, help="keep data and logs here (default: temp)")
    parser.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    parser.add_argument("--no-seed", action="store_true", help="no demo users or funds")
    parser.add_argument("--kinesis-shards", type=int, default=1)
    parser.add_argument(
        "--batch-size", type=int, help="stream batch size (default: the deployed mapping's)"
    )
    parser.add_argument(
        "--retries", type=int, help="stream retries before skipping (default: as deployed)"
    )
    parser.add_argument(
        "--schedule",
        action="append",
        type=schedule,
        default=[],
        metavar="FUNCTION=SECONDS",
        help="run a scheduled function this often instead of its deployed rate (repeatable;"
        f" default {' '.join(f'{k}={v:g}' for k, v in LOCAL_SCHEDULES.items())})",
    )
    parser.add_argument(
        "--destination-delay",
        type=int,
        default=LOCAL_DESTINATION_DELAY_S,
        metavar="SECONDS",
        help="how long a new withdrawal destination waits before it can be used"
        f" (default {LOCAL_DESTINATION_DELAY_S}; a day as deployed)",
    )
    parser.add_argument(
        "--archive-dir",
        type=Path,
        default=DEFAULT_ARCHIVE_DIR,
        help="where the journal is archived as Parquet (emptied at start; kept at stop;"
        " default .cache/local/archive)",
    )
    parser.add_argument(
        "--payout-delay",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="how long the fake payment provider waits before its webhook (default 0.5)",
    )
    parser.add_argument(
        "--workers",
        action="append",
        type=workers,
        default=[],
        metavar="FUNCTION=N",
        help="run a function in N worker processes (0: on a thread of the stack's process;"
        f" repeatable; default {' '.join(f'{k}={v}' for k, v in DEFAULT_WORKERS.items())})",
    )
    args = parser.parse_args(argv)
    if args.destination_delay < 0:
        parser.error("--destination-delay must be 0 or more seconds")
    env = os.environ
    return StackOptions(
        host=args.host,
        port=args.port,
        embedded=args.embedded,
        # The same variables the services' own settings read.
        database_url=env.get("EXCHANGE_DATABASE_URL"),
        redis_url=env.get("EXCHANGE_REDIS_URL"),
        broker_url=env.get("EXCHANGE_BROKER_URL"),
        workdir=args.workdir,
        state_file=args.state_file,
        seed=not args.no_seed,
        journal_shards=args.kinesis_shards,
        mapping=mapping(args.batch_size, args.retries),
        schedules={**LOCAL_SCHEDULES, **dict(args.schedule)},
        destination_delay_s=args.destination_delay,
        archive_dir=args.archive_dir,
        payout_provider_delay_s=args.payout_delay,
        workers={**DEFAULT_WORKERS, **dict(args.workers)},
    )
