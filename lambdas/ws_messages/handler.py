"""WebSocket ``subscribe``, ``unsubscribe``, ``ping`` and ``$default`` (malformed or unknown)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.instruments.composition import live_catalog
from exchange.market.books import RedisBookStore
from exchange.observability import logger, metrics, tracer
from exchange.realtime.connections import DynamoConnectionStore
from exchange.realtime.sender import ManagementApiSender
from exchange.realtime.session import Session
from exchange.realtime.statuses import RedisStatusBoard
from exchange.settings import MessagesSettings
from exchange.tables import bind_tables


def compose(settings: MessagesSettings) -> Session:
    bind_tables(settings)
    books = RedisBookStore.from_settings(settings)
    return Session(
        connections=DynamoConnectionStore(),
        sender=ManagementApiSender.from_settings(settings),
        books=books,
        catalog=live_catalog(settings),
        max_subscriptions=settings.ws_max_subscriptions,
        statuses=RedisStatusBoard(lambda: books.client),  # what fan-out posted, for snapshots
    )


ROOT = CompositionRoot(MessagesSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, session: Session | None = None
) -> dict[str, Any]:
    return (session or ROOT()).handle(event)
