"""Orders: POST/GET/DELETE /v1/orders, GET/PATCH/DELETE /v1/orders/{order_id}, GET/DELETE
/v1/orders/by-client-id/{client_order_id}, POST/GET /v1/orders/cancel-after, GET /v1/fills."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.http.app import rest_app, serve
from exchange.http.routes.orders import orders_router
from exchange.observability import logger, metrics, tracer
from exchange.orders.cancel_after import DeadMansSwitch, TimerQueue
from exchange.orders.lookup import OrderLookup
from exchange.orders.publisher import CommandSink
from exchange.orders.service import OrderService
from exchange.settings import OrdersSettings


def compose(
    settings: OrdersSettings,
    *,
    sink: CommandSink | None = None,
    timers: TimerQueue | None = None,
) -> OrderService:
    """The function's object graph; local mode passes its in-process broker as ``sink``. The
    dead man's switch's timers go to ``cancel_after_queue_url`` (SQS); without one (and no
    ``timers``) the switch's routes answer 503."""
    # Imported here, not at the top: each adapter's client library loads at the cold start's
    # first invocation, not at import (make bench-api measures imports).
    from exchange.instruments.composition import live_catalog  # noqa: PLC0415
    from exchange.ledger.postgres import PostgresLedger  # noqa: PLC0415
    from exchange.orders.dynamo import DynamoOrderLookup, DynamoOrderStore  # noqa: PLC0415
    from exchange.orders.idempotency import IdempotentRunner  # noqa: PLC0415
    from exchange.orders.keys_dynamo import DynamoOrderKeys  # noqa: PLC0415
    from exchange.orders.publisher import RabbitCommandSink  # noqa: PLC0415
    from exchange.tables import bind_tables  # noqa: PLC0415

    bind_tables(settings)
    instruments = live_catalog(settings)
    sink = sink or RabbitCommandSink.from_settings(settings, shard_fallback=instruments.shard_for)
    lookup = DynamoOrderLookup()
    return OrderService(
        instruments=instruments,
        store=DynamoOrderStore(),
        keys=DynamoOrderKeys(),
        ledger=PostgresLedger.from_settings(settings, instruments),
        sink=sink,
        idempotency=IdempotentRunner.from_settings(settings),
        max_open_orders=settings.max_open_orders,
        market_makers=settings.market_maker_accounts,
        lookup=lookup,
        cancel_after=_dead_mans_switch(settings, lookup, sink, timers),
    )


def _dead_mans_switch(
    settings: OrdersSettings, lookup: OrderLookup, sink: CommandSink, timers: TimerQueue | None
) -> DeadMansSwitch | None:
    from exchange.orders.cancel_after import SwitchTrigger  # noqa: PLC0415
    from exchange.orders.cancel_after_aws import DynamoSwitchStore, SqsTimerQueue  # noqa: PLC0415
    from exchange.orders.mass_cancel import MassCancel  # noqa: PLC0415

    if timers is None and settings.cancel_after_queue_url is None:
        return None
    switches = DynamoSwitchStore()
    mass_cancel = MassCancel(lookup=lookup, sink=sink, limit=settings.max_open_orders)
    return DeadMansSwitch(
        switches=switches,
        timers=timers
        or SqsTimerQueue.from_settings(str(settings.cancel_after_queue_url), settings),
        trigger=SwitchTrigger(switches=switches, mass_cancel=mass_cancel),
        min_seconds=settings.cancel_after_min_seconds,
        max_seconds=settings.cancel_after_max_seconds,
    )


ROOT = CompositionRoot(OrdersSettings, compose)
APP = rest_app(orders_router(), rejections={("POST", "/v1/orders"): "OrdersRejected"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, orders: OrderService | None = None
) -> dict[str, Any]:
    max_body = ROOT.settings().api_max_body_bytes
    return serve(APP, event, context, [orders or ROOT()], max_body_bytes=max_body)
