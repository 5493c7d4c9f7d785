"""The reconciliation, run once by hand: ``python -m exchange.operations.reconciliation``.

Settings come from the environment (``ReconciliationSettings``), as the scheduled function's do;
it prints the report as JSON and exits 1 when anything drifted. What it checks and how:
``exchange.operations.service``; what is in flight rather than drift: ``exchange.operations
.checks``.
"""

import json
import sys
from datetime import UTC, datetime

from exchange.observability import metrics
from exchange.operations.composition import build_reconciliation
from exchange.operations.model import ReconciliationReport
from exchange.operations.service import Reconciliation
from exchange.settings import ReconciliationSettings, load_settings


def main() -> int:
    """Run once from the environment's settings; print the report; 1 on drift."""
    report = build_reconciliation(load_settings(ReconciliationSettings)).run(datetime.now(UTC))
    metrics.flush_metrics()  # no handler decorator flushes them here
    print(json.dumps({**report.as_dict(), "report": report.location}, indent=2))
    return 0 if report.clean else 1


__all__ = ["Reconciliation", "ReconciliationReport", "main"]

if __name__ == "__main__":
    sys.exit(main())
