"""WebSocket ``subscribe``, ``unsubscribe``, ``ping`` and ``$default`` (malformed or unknown)."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.observability import logger, metrics, tracer
from exchange.realtime.session import Session
from exchange.realtime.settings import MessagesSettings
from exchange.realtime.wiring import build_session
from exchange.settings import load_settings


@cache
def _session() -> Session:
    return build_session(load_settings(MessagesSettings))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, session: Session | None = None
) -> dict[str, Any]:
    return (session or _session()).handle(event)
