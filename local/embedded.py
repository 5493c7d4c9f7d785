"""The orders function with the in-process broker (embedded mode, no RabbitMQ).

In AWS and with a real RabbitMQ the function builds its own ``RabbitCommandSink`` from
``EXCHANGE_BROKER_URL``. With the in-process broker there is no URL to give it, so the stack
builds the same ``OrderService`` as ``lambdas.orders.wiring.order_service`` with the in-process
sink instead, and passes it to the handler through its ``orders`` parameter (the injection point
the handler offers for tests).
"""

import functools
from typing import Any

from exchange.orders import wiring
from exchange.orders.dynamo import DynamoOrderStore
from exchange.orders.publisher import CommandSink
from exchange.orders.service import OrderService
from exchange.tables import bind_tables
from local.functions import Handler


def orders_handler(sink: CommandSink) -> Handler:
    """The orders handler, publishing to ``sink``. Built lazily: the first call is the cold
    start, as for every other function."""
    from lambdas.orders import handler as module  # noqa: PLC0415 - after the environment is set
    from lambdas.orders.wiring import settings  # noqa: PLC0415

    @functools.cache
    def service() -> OrderService:
        config = settings()
        bind_tables(config)
        instruments = wiring.instruments(config)
        ledger, _pool = wiring.ledger(config, instruments)
        return OrderService(
            instruments=instruments,
            store=DynamoOrderStore(),
            ledger=ledger,
            sink=sink,
            idempotency=wiring.idempotency(config),
            max_open_orders=config.max_open_orders,
        )

    def handler(event: dict[str, Any], context: Any) -> Any:
        return module.handler(event, context, orders=service())

    return handler
