"""WebSocket ``$connect`` REQUEST authorizer: verifies the Cognito access token in ``?token=``."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.observability import logger, metrics, tracer
from exchange.realtime.auth import Authorizer, TokenVerifier
from exchange.settings import AuthorizerSettings


def compose(settings: AuthorizerSettings) -> Authorizer:
    assert settings.app_client_id is not None  # noqa: S101 - checked by the settings
    verifier = TokenVerifier.for_pool(
        issuer=settings.issuer_url,
        client_id=settings.app_client_id,
        jwks_url=settings.jwks_endpoint,
    )
    return Authorizer(verifier, allow_anonymous=settings.ws_allow_anonymous)


ROOT = CompositionRoot(AuthorizerSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, authorizer: Authorizer | None = None
) -> dict[str, Any]:
    return (authorizer or ROOT()).authorize(event)
