"""KYC: POST /v1/webhooks/kyc, the KYC provider's verdicts, HMAC-signed (no JWT)."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.http.app import rest_app, serve
from exchange.http.routes.kyc import kyc_router
from exchange.ledger.verification import KycRegistry, KycWebhookReceiver, kyc_webhook_secrets
from exchange.observability import logger, metrics, tracer
from exchange.settings import KycSettings


def compose(settings: KycSettings, *, registry: KycRegistry | None = None) -> KycWebhookReceiver:
    """The function's object graph: the ledger through RDS Proxy as ``exchange_kyc``."""
    if registry is None:
        from exchange.ledger.connection import function_pool  # noqa: PLC0415 - at first use
        from exchange.ledger.postgres.kyc import PostgresKycRegistry  # noqa: PLC0415

        registry = PostgresKycRegistry(function_pool(settings))
    return KycWebhookReceiver(
        registry=registry,
        secrets=kyc_webhook_secrets(settings),
        tolerance_seconds=settings.ledger_webhook_tolerance_seconds,
    )


ROOT = CompositionRoot(KycSettings, compose)
APP = rest_app(kyc_router())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, receiver: KycWebhookReceiver | None = None
) -> dict[str, Any]:
    max_body = ROOT.settings().api_max_body_bytes
    return serve(APP, event, context, [receiver or ROOT()], max_body_bytes=max_body)
