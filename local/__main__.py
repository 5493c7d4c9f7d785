"""``python -m local`` (``make run``): the whole exchange on this machine until Ctrl-C.

python -m local                 # real PostgreSQL/Redis/RabbitMQ where they answer, else embedded
python -m local --embedded      # embedded stand-ins only: nothing but Python needed
python -m local --port 0 --state-file /tmp/stack.json   # how the e2e tests start it
python -m local --schedule dividends=2   # a scheduled function every 2 s, not its deployed rate
python -m local operator alice@example.com   # make a user of the running stack an operator
"""

import os

# Before anything imports Powertools (it reads these at import): quiet, no X-Ray, no EMF to stdout.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "exchange-local")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Exchange")

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from local import operator, recording
from local.banner import banner
from local.options import LOCAL_SCHEDULES, StackOptions
from local.pollers import MappingConfig
from local.services import ServiceError
from local.stack import Stack

DEFAULT_STATE_FILE = operator.DEFAULT_STATE_FILE


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


def parse(argv: list[str] | None) -> StackOptions:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__.splitlines()[0])
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
    args = parser.parse_args(argv)
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
    )


async def serve(options: StackOptions) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print("starting the local exchange ...", flush=True)
    stack = Stack(options)
    try:
        await stack.start()
    except (ServiceError, OSError) as exc:  # e.g. the port is taken: say so, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(banner(stack), flush=True)
    try:
        await stop.wait()
    finally:
        print("\nstopping ...", flush=True)
        await stack.stop()
        print("stopped; nothing left running.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["operator"]:  # a command for the running stack, not a stack
        return operator.main(arguments[1:])
    # With EXCHANGE_LOCAL_AWS_CALL_LOG set, every AWS call is recorded with the function (or
    # engine) that made it, for the IAM fidelity check; before the stack makes any client.
    recording.install_from_environment()
    code = asyncio.run(serve(parse(arguments)))
    # Everything the stack started is stopped by now. What remains are the hosted Lambdas' own
    # connection pools, which a Lambda container never closes (it is frozen, then killed); left
    # to the interpreter's exit, each pool's threads wait seconds for a database that is gone.
    # So end the process as Lambda ends a container.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
