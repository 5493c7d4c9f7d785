"""Scheduled every 15 minutes (EventBridge): the engine, the order store and the ledger
reconciled, with metrics and a dated report in the reports bucket
(``exchange.operations.reconciliation``)."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.observability import logger, metrics, tracer
from exchange.operations.ports import EngineBooks, LedgerAudit, ReportSink
from exchange.operations.service import Reconciliation
from exchange.settings import ReconciliationSettings


def compose(
    settings: ReconciliationSettings,
    *,
    engine: EngineBooks | None = None,
    ledger: LedgerAudit | None = None,
    reports: ReportSink | None = None,
) -> Reconciliation:
    """The function's object graph; tests and local mode may replace the adapters named."""
    from exchange.operations.composition import build_reconciliation  # noqa: PLC0415

    return build_reconciliation(settings, engine=engine, ledger=ledger, reports=reports)


ROOT = CompositionRoot(ReconciliationSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, reconciliation: Reconciliation | None = None
) -> dict[str, Any]:
    # The scheduled event only says when the rule fired; the run reads its own clock.
    return (reconciliation or ROOT()).run(datetime.now(UTC)).summary()
