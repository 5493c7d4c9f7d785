"""WebSocket ``$connect`` REQUEST authorizer: verifies the Cognito access token in ``?token=``."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.observability import logger, metrics, tracer
from exchange.realtime.auth import Authorizer
from exchange.realtime.settings import AuthorizerSettings
from exchange.realtime.wiring import build_authorizer
from exchange.settings import load_settings


@cache
def _authorizer() -> Authorizer:
    return build_authorizer(load_settings(AuthorizerSettings))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, authorizer: Authorizer | None = None
) -> dict[str, Any]:
    return (authorizer or _authorizer()).authorize(event)
