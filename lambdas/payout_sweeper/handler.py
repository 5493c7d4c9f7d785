"""Scheduled every five minutes (EventBridge): queues stuck payouts again (the worker sends them
with the same idempotency key) and counts those past their last attempt as ``PayoutsStuck``,
which the CDK alarms on (``exchange.payouts.sweeper``)."""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.observability import logger, metrics, tracer
from exchange.payouts.sweeper import PayoutSweeper
from exchange.settings import PayoutSweeperSettings


def compose(settings: PayoutSweeperSettings) -> PayoutSweeper:
    """The function's object graph: the ledger as the function's own role and the payout queue."""
    from exchange.ledger.postgres import PostgresLedger  # noqa: PLC0415 - at first use
    from exchange.payouts.queue import payout_queue  # noqa: PLC0415

    return PayoutSweeper(
        PostgresLedger.from_settings(settings, settings.catalog()),
        payout_queue(settings),
        stuck_after=timedelta(seconds=settings.payout_stuck_seconds),
        max_attempts=settings.payout_max_attempts,
        limit=settings.payout_sweep_limit,
    )


ROOT = CompositionRoot(PayoutSweeperSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, sweeper: PayoutSweeper | None = None
) -> dict[str, int]:
    # The scheduled event only says when the rule fired; the ledger's clock says what is stuck.
    return (sweeper or ROOT()).run().as_dict()
