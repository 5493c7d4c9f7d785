"""The engine task's composition root: its object graph, built from ``EngineSettings``.

``python -m engine_service run`` (the ECS task) builds it with the real adapters. Local mode's
in-process broker passes its own ``intake`` and otherwise runs exactly this graph.
"""

import redis

from engine_service.adapters.kinesis import KinesisJournal
from engine_service.adapters.rabbitmq import RabbitIntake
from engine_service.adapters.snapshots import (
    CompositeSnapshotStore,
    RedisSnapshotStore,
    S3SnapshotStore,
)
from engine_service.ports import Intake, SnapshotStore
from engine_service.runtime import EngineRuntime, RuntimeConfig
from exchange.aws import aws_client, secrets_client_factory
from exchange.domain import ConfigurationError
from exchange.messaging import broker_url_from_settings
from exchange.settings import EngineSettings


def runtime_config(settings: EngineSettings) -> RuntimeConfig:
    return RuntimeConfig(
        shard=settings.shard_id,
        linger_s=settings.linger_ms / 1000,
        snapshot_every_events=settings.snapshot_every_events,
        snapshot_every_s=settings.snapshot_every_seconds,
    )


def build_runtime(settings: EngineSettings, *, intake: Intake | None = None) -> EngineRuntime:
    """The runtime of one shard. ``intake`` replaces the RabbitMQ consumer (local mode's
    in-process broker, tests); everything else is what runs on ECS."""
    catalog = settings.catalog()
    instruments = [catalog.get(symbol) for symbol in settings.symbols]
    if settings.redis_url is None:
        raise ConfigurationError("EXCHANGE_REDIS_URL is required to run the engine service")
    if intake is None:
        # Locally a URL; in AWS Amazon MQ's endpoint plus its Secrets Manager secret, read once
        # here. A rotated password reaches the engine when ECS restarts the task after a failed
        # reconnect.
        url = broker_url_from_settings(settings, secrets_client_factory(settings))()
        intake = RabbitIntake(url, settings.shard_id, prefetch=settings.prefetch)
    redis_store = RedisSnapshotStore(redis.Redis.from_url(settings.redis_url))
    stores: list[SnapshotStore] = [redis_store]
    if settings.snapshot_bucket:
        stores.append(S3SnapshotStore(aws_client("s3", settings), settings.snapshot_bucket))
    return EngineRuntime(
        config=runtime_config(settings),
        instruments=instruments,
        intake=intake,
        journal=KinesisJournal(aws_client("kinesis", settings), settings.journal_stream),
        snapshots=CompositeSnapshotStore(stores),
        books=redis_store,
    )
