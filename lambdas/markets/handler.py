"""Markets (public): /v1/markets, book, trades, candles, /v1/health and /v1/openapi.json."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.api.http import rest_app, serve
from exchange.api.routes.markets import markets_router
from exchange.observability import logger, metrics, tracer
from exchange.trading.markets import MarketService
from lambdas.markets.wiring import market_service, settings


def _openapi_json() -> str:
    # Built from all four routers on first request; importing them here would slow cold starts.
    from exchange.api.openapi import openapi_json  # noqa: PLC0415

    return openapi_json()


APP = rest_app(markets_router(_openapi_json))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, markets: MarketService | None = None
) -> dict[str, Any]:
    service = markets or market_service()
    return serve(APP, event, context, [service], max_body_bytes=settings().api_max_body_bytes)
