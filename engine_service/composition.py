"""The engine task's composition root: its object graph, built from ``EngineSettings``.

``python -m engine_service run`` (the ECS task) builds it with the real adapters. Local mode's
in-process broker passes its own ``intake`` and otherwise runs exactly this graph. Both choose the
matching core first (``choose_core``): the image requires the compiled one.
"""

import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import batched, takewhile
from typing import Final

import redis
from botocore.config import Config
from redis.backoff import NoBackoff
from redis.retry import Retry

from engine_service.adapters.dynamo import (
    DynamoAuditHeads,
    DynamoCursors,
    DynamoFence,
    DynamoReplicatedEvents,
)
from engine_service.adapters.heartbeat import RedisHeartbeat
from engine_service.adapters.kinesis import KinesisJournal, pack
from engine_service.adapters.rabbitmq import RabbitIntake
from engine_service.adapters.snapshots import (
    CompositeSnapshotStore,
    RedisBookPublisher,
    RedisSnapshotStore,
    S3SnapshotStore,
)
from engine_service.core import cores
from engine_service.fence import FencedJournal, FenceSource, FenceState
from engine_service.ports import Intake, Journal, ListingSource, SnapshotStore, StoreHealth
from engine_service.recovery import Promotion, gap_free
from engine_service.runtime import EngineRuntime, RuntimeConfig
from exchange.aws import aws_client, secrets_client_factory
from exchange.domain import ConfigurationError, Event
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


def runtime_config(settings: EngineSettings, epoch: int = 0) -> RuntimeConfig:
    return RuntimeConfig(
        shard=settings.shard_id,
        linger_s=settings.linger_ms / 1000,
        snapshot_every_events=settings.snapshot_every_events,
        snapshot_every_s=settings.snapshot_every_seconds,
        epoch=epoch,
    )


def fence_source(settings: EngineSettings) -> FenceSource | None:
    """The failover table's fence when the task is fenced (``EXCHANGE_FENCE``), else None."""
    if not settings.fence:
        return None
    client = aws_client("dynamodb", settings)
    return DynamoFence(client, settings.failover_table, primary_region=settings.primary_region)


def promotion(settings: EngineSettings, epoch: int) -> Promotion | None:
    """How a fenced task at ``epoch`` > 0 takes over: from the events table (failover)."""
    if not settings.fence or epoch == 0:
        return None
    events = DynamoReplicatedEvents(aws_client("dynamodb", settings), settings.events_table)
    return Promotion(
        events,
        epoch,
        quiet_s=settings.promotion_quiet_ms / 1000,
        timeout_s=settings.promotion_timeout_ms / 1000,
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


# What promotion journals again is read, packed and written this many events at a time (a symbol's
# whole history when a consumer's cursor has not replicated), in records smaller than the engine's
# 1 MB, each small enough for one quarantine item (``exchange.journal.quarantine``) should
# settlement refuse an event in it.
CATCH_UP_CHUNK_EVENTS: Final = 10_000
CATCH_UP_RECORD_BYTES: Final = 300_000


def catch_up(events: Iterable[Event], *, after: int, through: int) -> Iterator[list[Event]]:
    """The gap-free run of ``events`` (``recovery.gap_free``) from ``after`` + 1 through
    ``through``, in lists of at most ``CATCH_UP_CHUNK_EVENTS``.

    >>> from types import SimpleNamespace as E
    >>> [[e.seq for e in c] for c in catch_up([E(seq=4), E(seq=5), E(seq=7)], after=3, through=9)]
    [[4, 5]]
    >>> [[e.seq for e in c] for c in catch_up([E(seq=4), E(seq=5)], after=3, through=4)]
    [[4]]
    """
    run = takewhile(lambda event: event.seq <= through, gap_free(events, after))
    for chunk in batched(run, CATCH_UP_CHUNK_EVENTS):
        yield list(chunk)


def audit_position(
    audit: DynamoAuditHeads, copy: DynamoReplicatedEvents, symbol: str, top: int
) -> int:
    """Where promotion leaves the recorder's audit log for ``symbol``: past ``top`` (the rebuilt
    seq) its entries are set aside, and past a hole below that too (``whole_through``), when the
    events table's copy holds every event from the hole through the log's newest entry, so the
    catch-up records them again. A hole the copy cannot fill is logged as an error and left (the
    recorder would stop at it either way). With no hole nothing below ``top`` moves: a recorder
    merely behind may be writing (a second promotion after a restart)."""
    whole = audit.whole_through(symbol, top=top)
    newest = min(audit.head(symbol), top)
    if whole >= newest:
        return top
    wanted = newest - whole
    got = sum(
        len(c) for c in catch_up(copy.events_after(symbol, whole), after=whole, through=newest)
    )
    if got < wanted:
        logger.error(
            "a hole in the replicated audit log that the events table cannot fill: left as it is",
            extra={"symbol": symbol, "whole_through": whole, "newest": newest, "copy_has": got},
        )
        return top
    logger.warning(
        "a hole in the replicated audit log: its entries past the hole are recorded again",
        extra={"symbol": symbol, "whole_through": whole, "newest": newest, "rebuilt_seq": top},
    )
    return whole


def promote_consumers(settings: EngineSettings, runtime: EngineRuntime) -> None:
    """After a promotion (``runtime.promoting``: recovery rebuilt from a snapshot of an older
    epoch, or none), before the first command: bring the region's consumers to the rebuilt books,
    then take the first snapshot at the new epoch (so a restart does not promote again). A no-op
    otherwise.

    1. Cursors past the rebuilt seqs are moved back to them (``adapters.dynamo.DynamoCursors``),
       and the audit entries and events-table rows past them are set aside
       (``DynamoAuditHeads.supersede``):
       what they applied beyond is lost, and the new region's events at those seqs are not reused
       seqs to them. So are the audit entries past a hole in the replicated audit log
       (``DynamoAuditHeads.whole_through``), which the recorder, going on from its newest entry,
       would never fill: they are recorded again from the events table's copy.
    2. What the consumers furthest behind lack, from their lowest position (cursors, where one
       of ``settings.promotion_consumers`` without a cursor here stands at 0, and the recorder's
       audit head) through the rebuilt seq, is copied from the events table into this region's
       stream, ``CATCH_UP_CHUNK_EVENTS`` at a time, stamped with the previous epoch (the one its
       events were journaled under), ahead of anything this engine journals. This region's
       consumers, which read only its own stream, so settle and record the old region's last
       events that they had not reached: no gap, and nothing applied twice (a duplicate of the
       same epoch is skipped).
    """
    epoch = runtime.config.epoch
    if not settings.fence or not runtime.promoting:
        return
    seqs = {symbol: runtime.engine.seq(symbol) for symbol in runtime.engine.books}
    client = aws_client("dynamodb", settings)
    rewound = DynamoCursors(client, settings.cursors_table).rewind(
        seqs, now_ns=time.time_ns(), consumers=settings.promotion_consumers
    )
    for consumer, symbol, was, now in rewound.done:
        logger.warning(
            "cursor rewound at promotion: the events it applied past the rebuilt seq are lost",
            extra={"consumer": consumer, "symbol": symbol, "from_seq": was, "to_seq": now},
        )
    for consumer, symbol in rewound.missing:
        logger.warning(
            "no cursor here at promotion: the consumer counts as at seq 0, so the symbol is "
            "journaled again from its first event",
            extra={"consumer": consumer, "symbol": symbol},
        )
    audit = DynamoAuditHeads(client, settings.audit_table)
    copy = DynamoReplicatedEvents(client, settings.events_table)
    events_rows = DynamoAuditHeads(client, settings.events_table)  # same keys and shape
    journal: FencedJournal | None = None
    records = events = 0
    for symbol, top in sorted(seqs.items()):
        # The audit log's entries past a hole too: the recorder goes on from its newest entry
        audit_after = audit_position(audit, copy, symbol, top)
        for table, rows, after in (("audit", audit, audit_after), ("events", events_rows, top)):
            if moved := rows.supersede(symbol, after=after, epoch=epoch, now_ns=time.time_ns()):
                logger.warning(
                    "entries set aside (superseded)",
                    extra={"table": table, "symbol": symbol, "after_seq": after, "entries": moved},
                )
        start = min(rewound.lowest.get(symbol, top), audit.head(symbol), top)
        for chunk in catch_up(copy.events_after(symbol, start), after=start, through=top):
            if journal is None:
                fence = fence_source(settings)
                assert fence is not None  # noqa: S101 - settings.fence
                kinesis = KinesisJournal(aws_client("kinesis", settings), settings.journal_stream)
                journal = FencedJournal(kinesis, fence, region=settings.aws_region, epoch=epoch)
            packed = pack(chunk, CATCH_UP_RECORD_BYTES, epoch=epoch - 1)
            journal.append(packed)
            records += len(packed)
            events += len(chunk)
    if records:
        logger.info(
            "journaled again for this region's consumers",
            extra={"records": records, "events": events},
        )
    runtime.snapshot()  # at the new epoch, after the catch-up: a restart need not promote again


def build_runtime(
    settings: EngineSettings,
    *,
    intake: Intake | None = None,
    fence: FenceSource | None = None,
    held: FenceState | None = None,
) -> EngineRuntime:
    """The runtime of one shard. ``intake`` replaces the RabbitMQ consumer (local mode's
    in-process broker, tests); everything else is what runs on ECS. A fenced task passes the
    ``fence`` and the state it waited for (``held``): the runtime then journals at its epoch and
    only while the fence stays so."""
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
    journal: Journal = KinesisJournal(aws_client("kinesis", settings), settings.journal_stream)
    epoch = held.epoch if held is not None else 0
    if fence is not None:
        journal = FencedJournal(
            journal, fence, region=settings.aws_region, epoch=epoch,
            ttl_s=settings.fence_ttl_ms / 1000,
        )  # fmt: skip
    return EngineRuntime(
        config=runtime_config(settings, epoch),
        instruments=instruments,
        intake=intake,
        journal=journal,
        snapshots=CompositeSnapshotStore(stores, health=health),
        books=RedisBookPublisher(client, retry_after_s=retry_after_s),
        store_health=health,
        # On the same Redis client (its pool); GET /v1/health reads it.
        heartbeat=RedisHeartbeat(client, settings.shard_id, health=health),
        listings=listing_source(settings),
        promotion=promotion(settings, epoch) if fence is not None else None,
    )
