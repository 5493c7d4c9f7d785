"""``python -m engine_service run`` (the ECS task) or ``python -m engine_service demo``.

``run`` reads ``EngineSettings`` from the environment: the shard and its symbols, the broker URL,
the Kinesis stream, Redis and the S3 bucket for snapshots. It recovers, consumes until SIGTERM or
SIGINT, then drains, snapshots and exits 0.
"""

import signal
import sys
import threading
import time
from types import FrameType

from engine_service.composition import build_runtime
from engine_service.health import HealthServer
from engine_service.telemetry import MetricsReporter
from exchange.observability import logger
from exchange.settings import EngineSettings, load_settings


def run() -> int:
    settings = load_settings(EngineSettings)
    runtime = build_runtime(settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    health = HealthServer(settings.health_port, runtime.health).start()
    reporter = MetricsReporter(runtime)
    try:
        runtime.recover()
        runtime.connect()
        logger.info("ready", extra={"shard": settings.shard_id, "symbols": settings.symbols})
        last_report = time.monotonic()
        while not stop.is_set():
            runtime.step()
            if time.monotonic() - last_report >= settings.metrics_interval_seconds:
                reporter.report(time.monotonic() - last_report)
                last_report = time.monotonic()
        runtime.shutdown()
    finally:
        health.stop()
    logger.info("stopped", extra={"counters": runtime.health()["counters"]})
    return 0


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "run"
    if command == "run":
        return run()
    if command == "demo":
        from engine_service.demo import main as demo  # noqa: PLC0415

        demo(argv[2:])
        return 0
    print(f"usage: python -m engine_service [run|demo]; got {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
