"""Session-wide test set-up.

Powertools reads its switches at import, so they are set here, before any test imports
``exchange.observability``.
"""

import os

import pytest

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "exchange-tests")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Exchange")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# No test may reach real AWS: moto, or nothing.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture(autouse=True)
def _no_metrics_left_over() -> None:
    """Each test starts with nothing in the shared Powertools ``metrics``: code called without its
    handler (whose ``log_metrics`` flushes) leaves figures there that the next flush would print."""
    from exchange.observability import metrics  # noqa: PLC0415 - after the switches above

    metrics.clear_metrics()
