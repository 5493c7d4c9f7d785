"""Deposits and payouts: POST /v1/webhooks/deposits and /v1/webhooks/payouts, HMAC-signed by the
payment provider with one webhook secret (no JWT). A credited deposit is pushed to the account's
``balances`` subscribers. After a webhook that changed the ledger (a 200 other than DUPLICATE),
the ledger's notices are relayed to the notifications topic, best effort
(``exchange.notifications.relay``)."""

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.http.app import rest_app, serve
from exchange.http.routes.deposits import deposits_router
from exchange.ledger.deposits import DepositReceiver, webhook_secrets
from exchange.ledger.notices_port import NoticesPort
from exchange.ledger.port import LedgerPort
from exchange.notifications.publisher import NoticePublisher
from exchange.notifications.relay import relay_best_effort
from exchange.observability import logger, metrics, tracer
from exchange.payouts.webhooks import PayoutWebhookReceiver
from exchange.settings import MoneyDepositsSettings


@dataclass(frozen=True, slots=True)
class Webhooks:
    deposits: DepositReceiver
    payouts: PayoutWebhookReceiver
    notices: NoticesPort | None = None  # None: nothing relayed (no topic configured)
    publisher: NoticePublisher | None = None


def compose(settings: MoneyDepositsSettings) -> Webhooks:
    from exchange.instruments.composition import live_catalog  # noqa: PLC0415 - at first use
    from exchange.ledger.postgres import PostgresLedger  # noqa: PLC0415
    from exchange.notifications.publisher import notice_publisher  # noqa: PLC0415

    ledger = PostgresLedger.from_settings(settings, live_catalog(settings))
    port: LedgerPort = ledger
    pushed: Callable[[Iterable[str]], object] | None = None
    if settings.ws_management_endpoint:  # unset: nothing is pushed
        from exchange.realtime.balances import balances_pushed  # noqa: PLC0415 - with the ledger

        pushing = balances_pushed(ledger, settings)
        port, pushed = pushing, pushing.feed.push
    secrets = webhook_secrets(settings)  # one secret for both: the provider signs both alike
    tolerance = settings.ledger_webhook_tolerance_seconds
    return Webhooks(
        deposits=DepositReceiver(ledger=port, secrets=secrets, tolerance_seconds=tolerance),
        payouts=PayoutWebhookReceiver(
            ledger=ledger, secrets=secrets, tolerance_seconds=tolerance, pushed=pushed
        ),
        notices=ledger,
        publisher=notice_publisher(settings),
    )


ROOT = CompositionRoot(MoneyDepositsSettings, compose)
APP = rest_app(deposits_router())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    deposits: DepositReceiver | None = None,
    payouts: PayoutWebhookReceiver | None = None,
) -> dict[str, Any]:
    max_body = ROOT.settings().api_max_body_bytes
    given = [receiver for receiver in (deposits, payouts) if receiver is not None]
    if given:  # tests pass their receivers; nothing is relayed
        return serve(APP, event, context, given, max_body_bytes=max_body)
    webhooks = ROOT()
    response = serve(
        APP, event, context, [webhooks.deposits, webhooks.payouts], max_body_bytes=max_body
    )
    if _changed_the_ledger(response):
        relay_best_effort(webhooks.notices, webhooks.publisher)
    return response


def _changed_the_ledger(response: dict[str, Any]) -> bool:
    if response.get("statusCode") != HTTPStatus.OK:
        return False
    try:
        body = json.loads(response.get("body") or "{}")
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("status") != "DUPLICATE"
