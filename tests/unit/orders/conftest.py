"""The bulk order operations' unit tests: the REST handlers' settings (as ``tests.unit.api``),
and Powertools' warning about flushing no metric (a read-only route, a stale timer) silenced."""

import pytest

from tests.unit.api.conftest import handler_settings  # noqa: F401 - autouse


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.filterwarnings("ignore:No application metrics to publish"))
