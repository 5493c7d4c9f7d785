"""WebSocket ``$connect`` and ``$disconnect``: the connection store."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.observability import logger, metrics, tracer
from exchange.realtime.session import Lifecycle
from exchange.realtime.settings import ConnectionSettings
from exchange.realtime.wiring import build_lifecycle
from exchange.settings import load_settings


@cache
def _lifecycle() -> Lifecycle:
    return build_lifecycle(load_settings(ConnectionSettings))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, lifecycle: Lifecycle | None = None
) -> dict[str, Any]:
    return (lifecycle or _lifecycle()).handle(event)
