"""Health (public): GET /v1/health, each dependency trading needs; 503 when trading cannot work."""

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.health.service import CursorReader, HealthService, HeartbeatReader, Ping
from exchange.http.app import rest_app, serve
from exchange.http.routes.health import health_router
from exchange.observability import logger, metrics, tracer
from exchange.settings import DEFAULT_MAX_BODY_BYTES, HealthSettings


def compose(
    settings: HealthSettings,
    *,
    ledger: Ping | None = None,
    broker: Ping | None = None,
    redis: HeartbeatReader | None = None,
    cursors: CursorReader | None = None,
    wall_ns: Callable[[], int] = time.time_ns,
) -> HealthService:
    """Each probe reaches its dependency as the functions that use it do (the ledger's conninfo
    provider, the publishers' broker URL, the shard map the orders function routes by)."""
    # At first use, like every function's adapters; the consumers' names are their sinks' own.
    from exchange.aws import secrets_client_factory  # noqa: PLC0415
    from exchange.domain.errors import ConfigurationError  # noqa: PLC0415
    from exchange.health.probes import (  # noqa: PLC0415
        BrokerPing,
        DynamoCursors,
        LedgerPing,
        RedisProbe,
    )
    from exchange.ledger.connection import conninfo_provider  # noqa: PLC0415
    from exchange.ledger.consumer import Settlement  # noqa: PLC0415
    from exchange.market.candles import CandleAggregator  # noqa: PLC0415
    from exchange.messaging import ShardMap, broker_url_from_settings  # noqa: PLC0415
    from exchange.realtime.fanout import Fanout  # noqa: PLC0415
    from exchange.tables import bind_tables  # noqa: PLC0415

    timeout_s = settings.health_check_timeout_seconds
    secrets = secrets_client_factory(settings)
    if redis is None:
        if not settings.redis_url:
            raise ConfigurationError("set EXCHANGE_REDIS_URL (the engine's heartbeats)")
        redis = RedisProbe.from_url(settings.redis_url, timeout_s=timeout_s)
    if cursors is None:
        bind_tables(settings)
        cursors = DynamoCursors()
    return HealthService(
        ledger=ledger or LedgerPing(conninfo_provider(settings, secrets), timeout_s=timeout_s),
        broker=broker
        or BrokerPing(broker_url_from_settings(settings, secrets), timeout_s=timeout_s),
        redis=redis,
        cursors=cursors,
        shards=ShardMap(settings.shards) if settings.shards is not None else ShardMap.demo(),
        consumers=(Settlement.name, Fanout.name, CandleAggregator.name),
        max_age_s=settings.health_heartbeat_max_age_seconds,
        timeout_s=timeout_s,
        cache_s=settings.health_cache_seconds,
        wall_ns=wall_ns,
    )


ROOT = CompositionRoot(HealthSettings, compose)
APP = rest_app(health_router())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, health: HealthService | None = None
) -> dict[str, Any]:
    return serve(APP, event, context, [health or ROOT()], max_body_bytes=DEFAULT_MAX_BODY_BYTES)
