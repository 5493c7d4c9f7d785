"""The orders function's settings and real adapters, made once per container (on first use)."""

from functools import cache

from exchange.api.settings import OrdersSettings
from exchange.settings import load_settings
from exchange.tables import bind_tables
from exchange.trading import wiring
from exchange.trading.dynamo import DynamoOrderStore
from exchange.trading.orders import OrderService


@cache
def settings() -> OrdersSettings:
    config: OrdersSettings = load_settings(OrdersSettings)
    return config


@cache
def order_service() -> OrderService:
    config = settings()
    bind_tables(config)
    instruments = wiring.instruments(config)
    ledger, _pool = wiring.ledger(config, instruments)
    return OrderService(
        instruments=instruments,
        store=DynamoOrderStore(),
        ledger=ledger,
        sink=wiring.command_sink(config),
        idempotency=wiring.idempotency(config),
        max_open_orders=config.max_open_orders,
    )
