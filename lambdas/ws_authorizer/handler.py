"""WebSocket ``$connect`` REQUEST authorizer: verifies the Cognito access token in ``?token=``, or
a connect signed with an API key (``?api_key=&timestamp=&window=&signature=``)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.apikeys.cipher import SecretCipher
from exchange.apikeys.store import ApiKeyStore
from exchange.composition import CompositionRoot
from exchange.observability import logger, metrics, tracer
from exchange.realtime.auth import Authorizer
from exchange.settings import AuthorizerSettings


def compose(
    settings: AuthorizerSettings,
    *,
    store: ApiKeyStore | None = None,
    cipher: SecretCipher | None = None,
) -> Authorizer:
    from exchange.apikeys.verifier import ConnectKeys, verifiers  # noqa: PLC0415 - at first use

    tokens, keys = verifiers(settings, store=store, cipher=cipher)
    return Authorizer(tokens, allow_anonymous=settings.ws_allow_anonymous, keys=ConnectKeys(keys))


ROOT = CompositionRoot(AuthorizerSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, authorizer: Authorizer | None = None
) -> dict[str, Any]:
    return (authorizer or ROOT()).authorize(event)
