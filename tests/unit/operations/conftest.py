"""Metrics added outside a handler (the logic called directly) stay in Powertools' process-wide
buffer until a flush; each test here starts and ends with it empty."""

from collections.abc import Iterator

import pytest

from exchange.observability import metrics


@pytest.fixture(autouse=True)
def empty_metrics() -> Iterator[None]:
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()
