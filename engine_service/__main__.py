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

import boto3
import redis

from engine_service.adapters.kinesis import KinesisJournal
from engine_service.adapters.rabbitmq import RabbitIntake
from engine_service.adapters.snapshots import (
    CompositeSnapshotStore,
    RedisSnapshotStore,
    S3SnapshotStore,
)
from engine_service.health import HealthServer
from engine_service.ports import SnapshotStore
from engine_service.runtime import EngineRuntime, RuntimeConfig
from engine_service.telemetry import MetricsReporter
from exchange.domain import ConfigurationError, InstrumentCatalog
from exchange.messaging import broker_url_from_settings
from exchange.observability import logger
from exchange.settings import EngineSettings, load_settings


def build_runtime(settings: EngineSettings) -> EngineRuntime:
    catalog = (
        InstrumentCatalog.from_json(settings.instruments_file.read_text())
        if settings.instruments_file
        else InstrumentCatalog.demo()
    )
    instruments = [catalog.get(symbol) for symbol in settings.symbols]
    # Locally a URL; in AWS Amazon MQ's endpoint plus its Secrets Manager secret, read once here.
    # A rotated password reaches the engine when ECS restarts the task after a failed reconnect.
    broker_url = broker_url_from_settings(settings, settings)()
    if settings.redis_url is None:
        raise ConfigurationError("EXCHANGE_REDIS_URL is required to run the engine service")
    aws = {"region_name": settings.aws_region, "endpoint_url": settings.aws_endpoint_url}
    redis_store = RedisSnapshotStore(redis.Redis.from_url(settings.redis_url))
    stores: list[SnapshotStore] = [redis_store]
    if settings.snapshot_bucket:
        stores.append(S3SnapshotStore(boto3.client("s3", **aws), settings.snapshot_bucket))
    return EngineRuntime(
        config=RuntimeConfig(
            shard=settings.shard_id,
            linger_s=settings.linger_ms / 1000,
            snapshot_every_events=settings.snapshot_every_events,
            snapshot_every_s=settings.snapshot_every_seconds,
        ),
        instruments=instruments,
        intake=RabbitIntake(broker_url, settings.shard_id, prefetch=settings.prefetch),
        journal=KinesisJournal(boto3.client("kinesis", **aws), settings.journal_stream),
        snapshots=CompositeSnapshotStore(stores),
        books=redis_store,
    )


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
