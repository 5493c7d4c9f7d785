"""One Logger, Tracer and Metrics per process, and they emit what CloudWatch reads."""

import importlib
import io
import json
import logging
import re
from pathlib import Path

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from exchange import observability

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ["app.py", "stacks", "lambdas", "engine_service", "layers"]


def test_importing_again_gives_the_same_instances() -> None:
    again = importlib.import_module("exchange.observability")
    assert again.logger is observability.logger
    assert again.metrics is observability.metrics
    assert again.tracer is observability.tracer


def test_no_other_module_creates_a_logger_tracer_or_metrics() -> None:
    # Given every Python source file outside the observability module
    pattern = re.compile(r"\b(Logger|Tracer|Metrics)\(")
    offenders = []
    for entry in SOURCE_DIRS:
        path = ROOT / entry
        files = [path] if path.is_file() else path.rglob("*.py")
        for file in files:
            if file.name == "observability.py" or "site-packages" in file.parts:
                continue
            if pattern.search(file.read_text()):
                offenders.append(str(file.relative_to(ROOT)))
    # Then none of them constructs its own
    assert offenders == []


def test_logger_writes_structured_json_with_the_service() -> None:
    # The handler holds the stdout of import time, so point it at a buffer for this test.
    handler = observability.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    observability.logger.append_keys(correlation_id="req-123")
    try:
        observability.logger.info("order accepted", extra={"order_id": "o-1"})
    finally:
        observability.logger.remove_keys(["correlation_id"])
        handler.setStream(previous)
    record = json.loads(buffer.getvalue().strip().splitlines()[-1])
    assert record["message"] == "order accepted"
    assert record["service"] == "exchange-tests"
    assert record["correlation_id"] == "req-123"
    assert record["order_id"] == "o-1"


def test_metrics_flush_as_emf_in_the_product_namespace(capsys: pytest.CaptureFixture[str]) -> None:
    observability.metrics.add_metric(name="OrdersAccepted", unit=MetricUnit.Count, value=3)
    observability.metrics.flush_metrics()
    emf = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == observability.METRICS_NAMESPACE == "Exchange"
    assert emf["OrdersAccepted"] == [3.0] or emf["OrdersAccepted"] == 3.0
    assert emf["service"] == "exchange-tests"
