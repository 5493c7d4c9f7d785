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

import asyncio
import signal
import sys

from local import operator, recording
from local.arguments import parse
from local.banner import banner
from local.options import StackOptions
from local.services import ServiceError
from local.stack import Stack


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
