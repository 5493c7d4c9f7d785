"""Scheduled every minute (EventBridge): pays the cash dividends whose pay time has come, each
exactly once, from its issuer to the holders of record (``exchange.ledger.payouts``); an unfunded
one stays declared and counts ``DividendsUnfunded``."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.instruments.composition import live_catalog
from exchange.ledger.payouts import DividendPayer
from exchange.ledger.postgres import PostgresLedger
from exchange.observability import logger, metrics, tracer
from exchange.settings import DividendsSettings


def compose(settings: DividendsSettings) -> DividendPayer:
    """The function's object graph: the ledger as the function's own role (``exchange_dividends``)
    with the live catalog, so an equity listed at run time is payable."""
    ledger = PostgresLedger.from_settings(settings, live_catalog(settings))
    return DividendPayer(ledger, limit=settings.dividend_batch_limit)


ROOT = CompositionRoot(DividendsSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, payer: DividendPayer | None = None
) -> dict[str, object]:
    # The scheduled event only says when the rule fired; the payer reads its own clock.
    return (payer or ROOT()).run().as_dict()
