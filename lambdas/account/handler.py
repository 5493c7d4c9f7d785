"""Account: GET /v1/account, /v1/balances, /v1/positions; withdrawal destinations
(POST/GET /v1/withdrawal-destinations, DELETE .../{destination_id}); withdrawals (POST/GET
/v1/withdrawals, GET/DELETE /v1/withdrawals/{withdrawal_id}: a new one is sent to the payout
queue, its hold pushed to the account's ``balances`` subscribers); the email notification
preferences (GET/PUT /v1/account/notifications)."""

from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.http.app import rest_app, serve
from exchange.http.routes.account import account_router
from exchange.http.routes.statements import statements_router
from exchange.http.routes.withdrawals import withdrawals_router
from exchange.ledger.accounts import AccountService
from exchange.ledger.port import LedgerPort
from exchange.observability import logger, metrics, tracer
from exchange.payouts.queue import PayoutQueue
from exchange.payouts.withdrawals import WithdrawalService
from exchange.settings import MoneyAccountSettings


def compose(
    settings: MoneyAccountSettings, *, queue: PayoutQueue | None = None
) -> tuple[object, ...]:
    """The services the routes look up (``exchange.http.app.service``): the account service,
    the withdrawal service, and the ledger itself for its read ports (notification
    preferences, statements). Tests and local mode may pass the payout ``queue``."""
    from exchange.instruments.composition import live_catalog  # noqa: PLC0415 - at first use
    from exchange.ledger.postgres import PostgresLedger  # noqa: PLC0415
    from exchange.ledger.postgres.directory import PostgresAccountDirectory  # noqa: PLC0415
    from exchange.payouts.queue import payout_queue  # noqa: PLC0415
    from exchange.tables import bind_tables  # noqa: PLC0415

    bind_tables(settings)  # rate_limits (API keys' limit) and connections (balances pushes)
    ledger = PostgresLedger.from_settings(settings, live_catalog(settings))
    port: LedgerPort = ledger
    pushed: Callable[[Iterable[str]], object] | None = None
    if settings.ws_management_endpoint:  # unset: nothing is pushed
        from exchange.realtime.balances import balances_pushed  # noqa: PLC0415 - with the ledger

        pushing = balances_pushed(ledger, settings)
        port, pushed = pushing, pushing.feed.push
    if queue is None and settings.payout_queue_url:
        queue = payout_queue(settings)
    if queue is None:  # every withdrawal waits for the sweeper: slow, but nothing is lost
        logger.warning("EXCHANGE_PAYOUT_QUEUE_URL is unset: withdrawals are not queued")
    accounts = AccountService(ledger=port, directory=PostgresAccountDirectory(ledger.pool))
    withdrawals = WithdrawalService(
        accounts=accounts,
        withdrawals=ledger,
        queue=queue,
        destination_delay=timedelta(seconds=settings.destination_delay_seconds),
        pushed=pushed,
    )
    return (accounts, withdrawals, ledger)


ROOT = CompositionRoot(MoneyAccountSettings, compose)
APP = rest_app(
    account_router(),
    withdrawals_router(),
    statements_router(),
    rejections={("POST", "/v1/withdrawals"): "WithdrawalsRejected"},
)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, services: Sequence[object] | None = None
) -> dict[str, Any]:
    """``services``: what ``compose`` builds (tests pass their own: fakes, or the real ledger)."""
    max_body = ROOT.settings().api_max_body_bytes
    return serve(APP, event, context, services or ROOT(), max_body_bytes=max_body)
