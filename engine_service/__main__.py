"""``python -m engine_service run`` (the ECS task) or ``python -m engine_service demo``.

``run`` first chooses the matching core (``EXCHANGE_ENGINE_CORE``): where the compiled core is
required (the engine image sets ``native``) and cannot load, it logs why and exits 3 before
touching anything. It then reads ``EngineSettings`` from the environment: the shard and its
symbols, the broker URL, the Kinesis stream, Redis and the S3 bucket for snapshots. A fenced task
(``EXCHANGE_FENCE``) then waits as a standby until the failover fence names its region
(``engine_service.fence``; its health answers 200 with ``"status": "standby"``). It recovers
(promoting from the events table when the fence's epoch is newer than its snapshot), consumes
until SIGTERM or SIGINT, then drains, snapshots and exits 0. Once the fence moves away it stops
at once, acknowledging nothing more, and exits 4.
"""

import gc
import signal
import sys
import threading
import time
from types import FrameType

from engine_service.composition import build_runtime, choose_core, fence_source, promote_consumers
from engine_service.core import NativeCoreUnavailable
from engine_service.fence import Fenced, FenceState, wait_until_active
from engine_service.health import HealthServer
from engine_service.telemetry import MetricsReporter
from exchange.observability import logger
from exchange.settings import EngineSettings, load_settings

# The exit status of a task that refuses to start on the wrong core (ECS shows it as the stopped
# task's exit code; 1 is any crash).
EXIT_NO_CORE = 3
EXIT_FENCED = 4  # another region (or a newer epoch) holds the failover fence


def run() -> int:
    try:
        choice = choose_core()
    except (NativeCoreUnavailable, ValueError) as exc:
        logger.error(f"not starting: {exc}", extra={"reason": "engine core"})
        return EXIT_NO_CORE
    log = logger.warning if choice.fallback else logger.info
    log(choice.describe(), extra={"core": choice.core.name, "requested": choice.requested})
    settings = load_settings(EngineSettings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fence = fence_source(settings)
    held: FenceState | None = None
    # A fenced task answers 200 as a standby (it is well: ECS must not replace it); any other
    # answers 503 until it serves.
    standby = {
        "status": "standby" if fence else "starting",
        "serving": False,
        "standby": bool(fence),
    }
    health = HealthServer(
        settings.health_port, lambda: standby, details={"core": choice.core.name}
    ).start()
    try:
        if fence is not None:
            held = wait_until_active(fence, settings.aws_region, stop=stop.is_set)
            if held is None:
                return 0
        runtime = build_runtime(settings, fence=fence, held=held)
        reporter = MetricsReporter(runtime)
        if fence is None:
            health.status = runtime.health  # 503 while recovering
        else:
            # A fenced task's recovery (a promotion waits for the copy to settle) answers as its
            # standby did: ECS must not replace a task that waited hours, past its start period.
            standby["status"] = "recovering"
        runtime.recover()
        promote_consumers(settings, runtime)  # after a promotion only
        # The recovered books are long-lived: keep them out of every later collection, so the
        # cyclic collector's passes stay short (a full pass over a deep book paused it 100+ ms).
        gc.collect()
        gc.freeze()
        runtime.connect()
        health.status = runtime.health
        logger.info("ready", extra={"shard": settings.shard_id, "symbols": settings.symbols,
                                    "epoch": held.epoch if held else 0})  # fmt: skip
        last_report = time.monotonic()
        while not stop.is_set():
            runtime.step()
            if time.monotonic() - last_report >= settings.metrics_interval_seconds:
                reporter.report(time.monotonic() - last_report)
                last_report = time.monotonic()
        if fence is not None and held is not None and fence.read() != held:
            # Stopped by the failover: a last snapshot now would be of the old epoch, and would
            # replicate over the new region's; stop as a kill would (nothing more is acked).
            runtime.abandon()
            return EXIT_FENCED
        runtime.shutdown()
    except Fenced as exc:
        logger.error(f"fenced, stopping: {exc}", extra={"reason": "fence"})
        return EXIT_FENCED
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
