"""The markets function's settings and real adapters, made once per container (on first use)."""

from functools import cache

from exchange.api.settings import MarketsSettings
from exchange.settings import load_settings
from exchange.tables import bind_tables
from exchange.trading import wiring
from exchange.trading.dynamo import DynamoMarketStore
from exchange.trading.markets import MarketService


@cache
def settings() -> MarketsSettings:
    config: MarketsSettings = load_settings(MarketsSettings)
    return config


@cache
def market_service() -> MarketService:
    config = settings()
    bind_tables(config)
    return MarketService(
        instruments=wiring.instruments(config),
        books=wiring.book_source(config),
        store=DynamoMarketStore(),
    )
