"""The reconciliation's object graph from its settings: the one builder its scheduled function
(``lambdas/reconciliation``) and ``python -m exchange.operations.reconciliation`` both use."""

from typing import Any

import redis
from botocore.config import Config
from redis.backoff import NoBackoff
from redis.retry import Retry

from exchange.aws import aws_client, secrets_client_factory
from exchange.instruments.composition import live_catalog, static_shards
from exchange.ledger.connection import function_pool
from exchange.ledger.postgres.audit_reads import AuditReads
from exchange.operations.dynamo import DynamoOrderStore, DynamoProgress, DynamoTrades
from exchange.operations.ports import EngineBooks, LedgerAudit, ReportSink
from exchange.operations.reports import S3ReportSink
from exchange.operations.service import Reconciliation
from exchange.operations.snapshot_reader import SnapshotBooks
from exchange.settings import ReconciliationSettings
from exchange.snapshots import signing_key
from exchange.tables import bind_tables

# A store that does not answer is passed over (the other one is read), so fail fast.
REDIS_TIMEOUT_S = 2.0
S3_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2})


def build_reconciliation(
    settings: ReconciliationSettings,
    *,
    engine: EngineBooks | None = None,
    ledger: LedgerAudit | None = None,
    reports: ReportSink | None = None,
) -> Reconciliation:
    """The graph; tests and local mode may pass any of the adapters named."""
    bind_tables(settings)
    catalog = live_catalog(settings)
    s3: Any = None
    if settings.snapshot_bucket or settings.reports_bucket:
        s3 = aws_client("s3", settings, config=S3_CLIENT_CONFIG)
    if engine is None:
        # The deployed shards, and any a listing names (a symbol listed at run time).
        shards = set(static_shards(settings).shards)
        shards.update(filter(None, map(catalog.shard_for, catalog.symbols)))
        engine = SnapshotBooks(
            sorted(shards),
            redis_client=None if settings.redis_url is None else _redis(settings.redis_url),
            key=signing_key(settings, secrets_client_factory(settings)),
            s3=s3,
            bucket=settings.snapshot_bucket,
        )
    if reports is None and settings.reports_bucket:
        reports = S3ReportSink(s3, settings.reports_bucket)
    return Reconciliation(
        engine=engine,
        orders=DynamoOrderStore(),
        progress=DynamoProgress(catalog),
        ledger=ledger or AuditReads(function_pool(settings)),
        trades=DynamoTrades(),
        catalog=catalog,
        reports=reports,
        grace_seconds=settings.reconcile_grace_seconds,
    )


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),
    )
