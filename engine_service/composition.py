"""The engine task's composition root: its object graph, built from ``EngineSettings``.

``python -m engine_service run`` (the ECS task) builds it with the real adapters. Local mode's
in-process broker passes its own ``intake`` and otherwise runs exactly this graph. Both choose the
matching core first (``choose_core``): the image requires the compiled one.
"""

import warnings
from dataclasses import dataclass

import redis
from botocore.config import Config
from redis.backoff import NoBackoff
from redis.retry import Retry

from engine_service.adapters.heartbeat import RedisHeartbeat
from engine_service.adapters.kinesis import KinesisJournal
from engine_service.adapters.rabbitmq import RabbitIntake
from engine_service.adapters.snapshots import (
    CompositeSnapshotStore,
    RedisBookPublisher,
    RedisSnapshotStore,
    S3SnapshotStore,
)
from engine_service.core import cores
from engine_service.ports import Intake, ListingSource, SnapshotStore, StoreHealth
from engine_service.runtime import EngineRuntime, RuntimeConfig
from exchange.aws import aws_client, secrets_client_factory
from exchange.domain import ConfigurationError
from exchange.instruments.composition import instrument_store
from exchange.messaging import broker_url_from_settings
from exchange.observability import logger
from exchange.settings import EngineSettings
from exchange.snapshots import KeyProvider, signing_key

# S3 fails fast too (boto3 waits 60 s by default): a snapshot must not stall the matching loop.
S3_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2})


@dataclass(frozen=True)
class CoreChoice:
    """The matching core a task runs; ``fallback`` says why it is not the compiled one when
    ``auto`` fell back to the pure-Python core."""

    core: cores.Core
    requested: str
    fallback: str | None = None

    def describe(self) -> str:
        if self.fallback is not None:
            return f"engine core: pure (slower, same results), since {self.fallback}"
        return f"engine core: {self.core.name} ({cores.ENV}={self.requested})"


def choose_core() -> CoreChoice:
    """The core from ``EXCHANGE_ENGINE_CORE`` (``auto`` when unset; the engine image sets
    ``native``), chosen once at start; every ``Engine`` the task builds then gets the same one.

    Raises ``NativeCoreUnavailable`` (why, and the cure) when ``native`` is required and cannot
    load, and ``ValueError`` for a value other than ``native``, ``pure`` or ``auto``.
    """
    requested = cores.requested()
    with warnings.catch_warnings():
        # ``auto``'s fallback warning is said by the caller's log line instead (``describe``).
        warnings.simplefilter("ignore", RuntimeWarning)
        core = cores.resolve(requested)
    fell_back = requested == cores.AUTO and core.name == cores.PURE
    return CoreChoice(core, requested, cores.native_problem() if fell_back else None)


def runtime_config(settings: EngineSettings) -> RuntimeConfig:
    return RuntimeConfig(
        shard=settings.shard_id,
        linger_s=settings.linger_ms / 1000,
        snapshot_every_events=settings.snapshot_every_events,
        snapshot_every_s=settings.snapshot_every_seconds,
    )


def snapshot_key(settings: EngineSettings) -> KeyProvider | None:
    """The Redis snapshot's HMAC key (``exchange.snapshots.signing_key``)."""
    return signing_key(settings, secrets_client_factory(settings))


def listing_source(settings: EngineSettings) -> ListingSource | None:
    """The instruments store, when the task reads it at start (``read_instruments_store``: the
    ECS task and local mode), for the symbols operators listed on its shard at run time."""
    if not settings.read_instruments_store:
        return None
    store = instrument_store(settings)
    if store is None:
        raise ConfigurationError(
            "EXCHANGE_READ_INSTRUMENTS_STORE needs the instruments table "
            "(EXCHANGE_INSTRUMENTS_TABLE)"
        )
    return store


def redis_client(settings: EngineSettings) -> redis.Redis:
    """Short timeouts and no retries: Redis is best-effort for the engine (see
    ``engine_service.adapters.snapshots``)."""
    if settings.redis_url is None:
        raise ConfigurationError("EXCHANGE_REDIS_URL is required to run the engine service")
    timeout_s = settings.redis_timeout_ms / 1000
    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )


def build_runtime(settings: EngineSettings, *, intake: Intake | None = None) -> EngineRuntime:
    """The runtime of one shard. ``intake`` replaces the RabbitMQ consumer (local mode's
    in-process broker, tests); everything else is what runs on ECS."""
    catalog = settings.catalog()
    instruments = [catalog.get(symbol) for symbol in settings.symbols]
    client = redis_client(settings)
    if intake is None:
        # Locally a URL; in AWS Amazon MQ's endpoint plus its Secrets Manager secret, read once
        # here. A rotated password reaches the engine when ECS restarts the task after a failed
        # reconnect.
        url = broker_url_from_settings(settings, secrets_client_factory(settings))()
        intake = RabbitIntake(url, settings.shard_id, prefetch=settings.prefetch)
    retry_after_s = settings.store_retry_after_seconds
    # S3 first: of two snapshots at the same progress, the one only the engine can write wins.
    stores: dict[str, SnapshotStore] = {}
    if settings.snapshot_bucket:
        s3 = aws_client("s3", settings, config=S3_CLIENT_CONFIG)
        stores["s3"] = S3SnapshotStore(s3, settings.snapshot_bucket, retry_after_s=retry_after_s)
    key = snapshot_key(settings)
    if key is not None:
        stores["redis"] = RedisSnapshotStore(client, key, retry_after_s=retry_after_s)
    else:
        logger.warning("no snapshot HMAC key: snapshots are neither written to nor read from Redis")
    health = StoreHealth()
    return EngineRuntime(
        config=runtime_config(settings),
        instruments=instruments,
        intake=intake,
        journal=KinesisJournal(aws_client("kinesis", settings), settings.journal_stream),
        snapshots=CompositeSnapshotStore(stores, health=health),
        books=RedisBookPublisher(client, retry_after_s=retry_after_s),
        store_health=health,
        # On the same Redis client (its pool); GET /v1/health reads it.
        heartbeat=RedisHeartbeat(client, settings.shard_id, health=health),
        listings=listing_source(settings),
    )
