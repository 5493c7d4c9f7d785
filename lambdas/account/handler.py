"""Account: GET /v1/account, /v1/balances, /v1/positions; POST /v1/withdrawals (its hold is
pushed to the account's ``balances`` subscribers)."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.http.app import rest_app, serve
from exchange.http.routes.account import account_router
from exchange.ledger.accounts import AccountService
from exchange.ledger.port import LedgerPort
from exchange.observability import logger, metrics, tracer
from exchange.settings import AccountSettings


def compose(settings: AccountSettings) -> AccountService:
    from exchange.instruments.composition import live_catalog  # noqa: PLC0415 - at first use
    from exchange.ledger.postgres import PostgresLedger  # noqa: PLC0415
    from exchange.ledger.postgres.directory import PostgresAccountDirectory  # noqa: PLC0415
    from exchange.tables import bind_tables  # noqa: PLC0415

    bind_tables(settings)  # rate_limits (API keys' limit) and connections (balances pushes)
    ledger = PostgresLedger.from_settings(settings, live_catalog(settings))
    port: LedgerPort = ledger
    if settings.ws_management_endpoint:  # unset: nothing is pushed
        from exchange.realtime.balances import balances_pushed  # noqa: PLC0415 - with the ledger

        port = balances_pushed(ledger, settings)
    return AccountService(ledger=port, directory=PostgresAccountDirectory(ledger.pool))


ROOT = CompositionRoot(AccountSettings, compose)
APP = rest_app(account_router())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, accounts: AccountService | None = None
) -> dict[str, Any]:
    max_body = ROOT.settings().api_max_body_bytes
    return serve(APP, event, context, [accounts or ROOT()], max_body_bytes=max_body)
