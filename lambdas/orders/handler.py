"""Orders: POST/GET /v1/orders, GET/PATCH/DELETE /v1/orders/{order_id}, GET /v1/fills."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.api.http import rest_app, serve
from exchange.api.routes.orders import orders_router
from exchange.observability import logger, metrics, tracer
from exchange.trading.orders import OrderService
from lambdas.orders.wiring import order_service, settings

APP = rest_app(orders_router(), rejections={("POST", "/v1/orders"): "OrdersRejected"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, orders: OrderService | None = None
) -> dict[str, Any]:
    service = orders or order_service()
    return serve(APP, event, context, [service], max_body_bytes=settings().api_max_body_bytes)
