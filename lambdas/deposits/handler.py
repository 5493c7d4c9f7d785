"""Deposits: POST /v1/webhooks/deposits, HMAC-signed by the provider (no JWT)."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.api.http import rest_app, serve
from exchange.api.routes.deposits import deposits_router
from exchange.observability import logger, metrics, tracer
from exchange.trading.deposits import DepositReceiver
from lambdas.deposits.wiring import deposit_receiver, settings

APP = rest_app(deposits_router())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, deposits: DepositReceiver | None = None
) -> dict[str, Any]:
    service = deposits or deposit_receiver()
    return serve(APP, event, context, [service], max_body_bytes=settings().api_max_body_bytes)
