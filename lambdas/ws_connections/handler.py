"""WebSocket ``$connect`` and ``$disconnect``: the connection store."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.observability import logger, metrics, tracer
from exchange.realtime.connections import DynamoConnectionStore
from exchange.realtime.session import Lifecycle
from exchange.settings import ConnectionSettings
from exchange.tables import bind_tables


def compose(settings: ConnectionSettings) -> Lifecycle:
    bind_tables(settings)
    return Lifecycle(DynamoConnectionStore(), ttl_seconds=settings.ws_connection_ttl_seconds)


ROOT = CompositionRoot(ConnectionSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, lifecycle: Lifecycle | None = None
) -> dict[str, Any]:
    return (lifecycle or ROOT()).handle(event)
