"""Markets (public): /v1/markets, assets, time, book, tickers, trades, candles and
/v1/openapi.json."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.http.app import rest_app, serve
from exchange.http.routes.markets import markets_router
from exchange.market.service import MarketService
from exchange.observability import logger, metrics, tracer
from exchange.settings import MarketsSettings


def compose(settings: MarketsSettings) -> MarketService:
    from exchange.instruments.composition import live_catalog  # noqa: PLC0415 - at first use
    from exchange.market.books import RedisBookStore  # noqa: PLC0415
    from exchange.market.dynamo import DynamoMarketStore  # noqa: PLC0415
    from exchange.tables import bind_tables  # noqa: PLC0415

    bind_tables(settings)
    instruments = live_catalog(settings)
    # The ledger's scales, from the variable the ledger functions read.
    scales = settings.ledger_asset_scales
    store = DynamoMarketStore()
    return MarketService(
        instruments=instruments,
        books=RedisBookStore.from_settings(settings),
        store=store,
        history=store,
        asset_scales=scales,
    )


def _openapi_json() -> str:
    # Built from every REST router on first request; importing them here would slow cold starts.
    from exchange.http.openapi import openapi_json  # noqa: PLC0415

    return openapi_json()


ROOT = CompositionRoot(MarketsSettings, compose)
APP = rest_app(markets_router(_openapi_json))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, markets: MarketService | None = None
) -> dict[str, Any]:
    max_body = ROOT.settings().api_max_body_bytes
    return serve(APP, event, context, [markets or ROOT()], max_body_bytes=max_body)
