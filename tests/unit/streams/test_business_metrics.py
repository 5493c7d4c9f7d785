"""The recorder's business metrics, read back from the EMF documents it prints.

An EMF document has one set of dimension values for all the metrics it carries
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
the dimensionless counts ride the process' ``metrics`` (``service`` only), each dimensioned
figure is a document of its own (Powertools' ``single_metric``, given the ``service`` dimension
as ``default_dimensions``: https://docs.powertools.aws.dev/lambda/python/latest/core/metrics/).
"""

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from exchange.domain import (
    InstrumentCatalog,
    InstrumentStatus,
    OrderAccepted,
    OrderRejected,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
    Trade,
    TradingStatusChanged,
)
from exchange.journal.batch import consume
from exchange.observability import METRICS_NAMESPACE, metrics
from exchange.orders.business_metrics import STATUS_CODES
from exchange.orders.recorder import Recorder
from exchange.settings import DEFAULT_ASSET_SCALES
from exchange.testing.stores import InMemoryRecorderStore
from exchange.wire import JournalRecord

CATALOG = InstrumentCatalog.demo()
SERVICE = "exchange-tests"  # POWERTOOLS_SERVICE_NAME of the test run


def documents(out: str) -> Iterator[dict[str, Any]]:
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            yield json.loads(line)


def figures(out: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``(metric, ((dimension, value), ...)) -> summed value`` over every document printed."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for document in documents(out):
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == METRICS_NAMESPACE
        [names] = directive["Dimensions"]
        dimensions = tuple(sorted((name, document[name]) for name in names))
        for metric in directive["Metrics"]:
            raw = document[metric["Name"]]
            value = sum(raw) if isinstance(raw, list) else raw
            key = (metric["Name"], dimensions)
            found[key] = found.get(key, 0) + value
    return found


def accepted(order_id: str, seq: int, side: Side, price: int, qty: int) -> OrderAccepted:
    return OrderAccepted(
        symbol="BTC-USD", ts=seq, seq=seq, order_id=order_id, account_id=f"acct-{order_id}",
        client_order_id=order_id, side=side, order_type=OrderType.LIMIT, tif=TimeInForce.GTC,
        qty=qty, price=price,
    )  # fmt: skip


@pytest.fixture
def out(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    metrics.clear_metrics()  # what earlier tests left unflushed is not this test's
    capsys.readouterr()
    yield capsys
    metrics.clear_metrics()


def test_a_record_emits_orders_fills_rejects_by_reason_notional_and_status(
    out: pytest.CaptureFixture[str],
) -> None:
    # Given a record: two orders accepted and matched twice, two new orders rejected (two
    # reasons, one twice), a refused cancel, and a halt
    events = [
        accepted("m1", 1, Side.SELL, 6_500_000, 5_000),  # 0.5 BTC at 65,000.00
        accepted("t1", 2, Side.BUY, 6_500_100, 3_000),
        Trade(symbol="BTC-USD", ts=3, seq=3, maker_order_id="m1", taker_order_id="t1",
              maker_account_id="acct-m1", taker_account_id="acct-t1", price=6_500_000,
              qty=1_000, aggressor_side=Side.BUY),
        Trade(symbol="BTC-USD", ts=4, seq=4, maker_order_id="m1", taker_order_id="t1",
              maker_account_id="acct-m1", taker_account_id="acct-t1", price=6_500_001,
              qty=2_000, aggressor_side=Side.BUY),
        OrderRejected(symbol="BTC-USD", ts=5, seq=5, order_id="r1", account_id="a",
                      reason=RejectReason.PRICE_OUT_OF_BAND),
        OrderRejected(symbol="BTC-USD", ts=6, seq=6, order_id="r2", account_id="a",
                      reason=RejectReason.PRICE_OUT_OF_BAND),
        OrderRejected(symbol="BTC-USD", ts=7, seq=7, order_id="r3", account_id="a",
                      reason=RejectReason.ACCOUNT_FROZEN),
        OrderRejected(symbol="BTC-USD", ts=8, seq=8, order_id="m1", account_id="x",
                      reason=RejectReason.NOT_ORDER_OWNER, command_id="k1"),
        TradingStatusChanged(symbol="BTC-USD", ts=9, seq=9, command_id="adm_1",
                             status=InstrumentStatus.HALTED, previous=InstrumentStatus.TRADING,
                             actor="olga"),
    ]  # fmt: skip
    recorder = Recorder(InMemoryRecorderStore(), catalog=CATALOG, asset_scales=DEFAULT_ASSET_SCALES)
    # When the recorder applies it and the handler flushes its metrics
    consume(recorder, JournalRecord.of(events), {})
    metrics.flush_metrics()
    found = figures(out.readouterr().out)
    service = (("service", SERVICE),)
    # Then the counts ride the service-only document
    assert found[("OrdersAccepted", service)] == 2
    assert found[("Fills", service)] == 2
    # And each reason of a new order's rejection is its own series (a refused cancel is none)
    assert found[("OrdersRejected", (("reason", "PRICE_OUT_OF_BAND"), *service))] == 2
    assert found[("OrdersRejected", (("reason", "ACCOUNT_FROZEN"), *service))] == 1
    assert not any(
        name == "OrdersRejected" and ("reason", "NOT_ORDER_OWNER") in dims for name, dims in found
    )
    # And the notional is exact before it becomes the metric's float: 0.1 x 65,000.00 +
    # 0.2 x 65,000.01 = 19,500.002
    notional = found[("TradedNotional", (*service, ("symbol", "BTC-USD")))]
    assert Decimal(repr(notional)) == Decimal("19500.002")
    # And the symbol's status is its number: HALTED is 3
    assert found[("SymbolStatus", (*service, ("symbol", "BTC-USD")))] == 3


def test_status_numbers_follow_how_much_each_status_allows() -> None:
    assert [STATUS_CODES[status] for status in InstrumentStatus] == [0, 1, 2, 3, 4]
    assert list(InstrumentStatus) == [
        InstrumentStatus.TRADING,
        InstrumentStatus.POST_ONLY,
        InstrumentStatus.CANCEL_ONLY,
        InstrumentStatus.HALTED,
        InstrumentStatus.DELISTED,
    ]


def test_accepted_orders_alone_print_no_document_of_their_own(
    out: pytest.CaptureFixture[str],
) -> None:
    recorder = Recorder(InMemoryRecorderStore(), catalog=CATALOG, asset_scales=DEFAULT_ASSET_SCALES)
    consume(recorder, JournalRecord.of([accepted("m1", 1, Side.SELL, 6_500_000, 5_000)]), {})
    found = figures(out.readouterr().out)  # nothing flushed: no dimensioned document either
    assert found == {}
