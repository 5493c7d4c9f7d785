"""Admin: /v1/admin/... (markets and their status, mass cancels, the kill switch, account
freezes, listings, dividends, the operators' audit log), for the operators' Cognito group."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.admin.auth import OperatorGate
from exchange.admin.service import AdminService
from exchange.composition import CompositionRoot
from exchange.http.app import rest_app, serve
from exchange.http.routes.admin import admin_router
from exchange.instruments.live import LiveCatalog
from exchange.ledger.port import LedgerPort
from exchange.observability import logger, metrics, tracer
from exchange.orders.publisher import CommandSink
from exchange.settings import AdminSettings


def compose(
    settings: AdminSettings,
    *,
    sink: CommandSink | None = None,
    ledger: LedgerPort | None = None,
    catalog: LiveCatalog | None = None,
) -> AdminService:
    """The function's object graph; local mode passes its in-process broker as ``sink``, tests
    may pass the ledger (on a pool they own) and the live catalog their sink routes by: the one
    the service serves what it has just listed from (``LiveCatalog.adopt``)."""
    from exchange.admin.audit_dynamo import DynamoAuditChains  # noqa: PLC0415 - at first use
    from exchange.instruments.composition import live_catalog, static_shards  # noqa: PLC0415
    from exchange.instruments.store_dynamo import DynamoInstrumentStore  # noqa: PLC0415
    from exchange.ledger.postgres import PostgresLedger  # noqa: PLC0415
    from exchange.orders.publisher import RabbitCommandSink  # noqa: PLC0415
    from exchange.tables import bind_tables  # noqa: PLC0415

    bind_tables(settings)
    catalog = catalog or live_catalog(settings)
    return AdminService(
        sink=sink
        or RabbitCommandSink.from_settings(
            settings, connection_name="api-admin", shard_fallback=catalog.shard_for
        ),
        ledger=ledger or PostgresLedger.from_settings(settings, catalog),
        store=DynamoInstrumentStore(),
        catalog=catalog,
        audit=DynamoAuditChains(),
        asset_scales=settings.ledger_asset_scales,
        shard_ids=list(static_shards(settings).shards),
    )


ROOT = CompositionRoot(AdminSettings, compose)
APP = rest_app(admin_router())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, admin: AdminService | None = None
) -> dict[str, Any]:
    settings = ROOT.settings()
    gate = OperatorGate(settings.operators_group)
    return serve(
        APP, event, context, [admin or ROOT(), gate], max_body_bytes=settings.api_max_body_bytes
    )
