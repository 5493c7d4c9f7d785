"""Account: GET /v1/account, /v1/balances, /v1/positions; POST /v1/withdrawals."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.api.http import rest_app, serve
from exchange.api.routes.account import account_router
from exchange.observability import logger, metrics, tracer
from exchange.trading.accounts import AccountService
from lambdas.account.wiring import account_service, settings

APP = rest_app(account_router())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, accounts: AccountService | None = None
) -> dict[str, Any]:
    service = accounts or account_service()
    return serve(APP, event, context, [service], max_body_bytes=settings().api_max_body_bytes)
