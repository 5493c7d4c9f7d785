"""API keys: POST/GET /v1/api-keys, DELETE /v1/api-keys/{key_id} (the access token only). A new
key is told to its owner: an ``api_key.created`` notice on the notifications topic."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.apikeys.cipher import SecretCipher
from exchange.apikeys.service import ApiKeyService
from exchange.apikeys.store import ApiKeyStore
from exchange.composition import CompositionRoot
from exchange.http.app import rest_app, serve
from exchange.http.routes.api_keys import api_keys_router
from exchange.notifications.publisher import NoticePublisher, notice_publisher
from exchange.observability import logger, metrics, tracer
from exchange.settings import MoneyApiKeysSettings


def compose(
    settings: MoneyApiKeysSettings,
    *,
    store: ApiKeyStore | None = None,
    cipher: SecretCipher | None = None,
    notices: NoticePublisher | None = None,
) -> ApiKeyService:
    """The function's object graph; tests and local mode may pass the store, the cipher or the
    notices' publisher (by default the topic's; none when ``notifications_topic_arn`` is unset)."""
    from exchange.apikeys.cipher import KmsCipher  # noqa: PLC0415 - at first use
    from exchange.apikeys.store_dynamo import DynamoApiKeyStore  # noqa: PLC0415
    from exchange.tables import bind_tables  # noqa: PLC0415

    bind_tables(settings)
    return ApiKeyService(
        store=store or DynamoApiKeyStore(),
        cipher=cipher or KmsCipher.from_settings(settings),
        default_rate_limit=settings.api_key_default_rate_limit,
        max_per_account=settings.api_key_max_per_account,
        notices=notices or notice_publisher(settings),
    )


ROOT = CompositionRoot(MoneyApiKeysSettings, compose)
APP = rest_app(api_keys_router(), rejections={("POST", "/v1/api-keys"): "ApiKeysRejected"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, keys: ApiKeyService | None = None
) -> dict[str, Any]:
    max_body = ROOT.settings().api_max_body_bytes
    return serve(APP, event, context, [keys or ROOT()], max_body_bytes=max_body)
