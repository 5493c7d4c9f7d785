"""Deposits: POST /v1/webhooks/deposits, HMAC-signed by the provider (no JWT). A credited
deposit is pushed to the account's ``balances`` subscribers."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.http.app import rest_app, serve
from exchange.http.routes.deposits import deposits_router
from exchange.ledger.deposits import DepositReceiver, webhook_secrets
from exchange.ledger.port import LedgerPort
from exchange.observability import logger, metrics, tracer
from exchange.settings import DepositsSettings


def compose(settings: DepositsSettings) -> DepositReceiver:
    from exchange.instruments.composition import live_catalog  # noqa: PLC0415 - at first use
    from exchange.ledger.postgres import PostgresLedger  # noqa: PLC0415

    ledger: LedgerPort = PostgresLedger.from_settings(settings, live_catalog(settings))
    if settings.ws_management_endpoint:  # unset: nothing is pushed
        from exchange.realtime.balances import balances_pushed  # noqa: PLC0415 - with the ledger

        ledger = balances_pushed(ledger, settings)
    return DepositReceiver(
        ledger=ledger,
        secrets=webhook_secrets(settings),
        tolerance_seconds=settings.ledger_webhook_tolerance_seconds,
    )


ROOT = CompositionRoot(DepositsSettings, compose)
APP = rest_app(deposits_router())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, deposits: DepositReceiver | None = None
) -> dict[str, Any]:
    max_body = ROOT.settings().api_max_body_bytes
    return serve(APP, event, context, [deposits or ROOT()], max_body_bytes=max_body)
