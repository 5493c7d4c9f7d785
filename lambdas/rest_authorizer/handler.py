"""The REST API's Lambda REQUEST authorizer: a Cognito access token or a request signed with an
API key (``exchange.apikeys.authorizer``, where the event, the policy and the context are
described). A refusal raises ``Exception("Unauthorized")``, which API Gateway answers 401."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.apikeys.authorizer import RestAuthorizer
from exchange.apikeys.cipher import SecretCipher
from exchange.apikeys.scopes import ACCESS_TOKEN_SCOPE
from exchange.apikeys.store import ApiKeyStore
from exchange.composition import CompositionRoot
from exchange.observability import logger, metrics, tracer
from exchange.settings import RestAuthorizerSettings


def compose(
    settings: RestAuthorizerSettings,
    *,
    store: ApiKeyStore | None = None,
    cipher: SecretCipher | None = None,
) -> RestAuthorizer:
    from exchange.apikeys.verifier import verifiers  # noqa: PLC0415 - at first use

    tokens, keys = verifiers(settings, store=store, cipher=cipher)
    assert settings.app_client_id is not None  # noqa: S101 - checked by the settings
    return RestAuthorizer(
        tokens=tokens, client_id=settings.app_client_id, token_scope=ACCESS_TOKEN_SCOPE, keys=keys
    )


ROOT = CompositionRoot(RestAuthorizerSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, authorizer: RestAuthorizer | None = None
) -> dict[str, Any]:
    return (authorizer or ROOT()).authorize(event)
