"""The recorder's business metrics: what the dashboard's trading figures are drawn from.

CloudWatch embedded metric format (EMF), namespace ``Exchange``, every one with the ``service``
dimension (``recorder``; Powertools adds it from ``POWERTOOLS_SERVICE_NAME``):

=============== ================ ===== ===================================================
metric          dimensions       unit  value
=============== ================ ===== ===================================================
OrdersAccepted  service          Count new orders the engine accepted (``OrderAccepted``)
OrdersRejected  service, reason  Count new orders the engine rejected; ``reason``: its
                                       ``RejectReason`` (a refused cancel or amend is not
                                       an order, and is not counted)
Fills           service          Count matches (``Trade``), each one maker and one taker
                                       fill
TradedNotional  service, symbol  None  sum of price x quantity of the symbol's trades, in
                                       its quote asset (a float here only: money stays
                                       Decimal)
SymbolStatus    service, symbol  None  the status a ``TradingStatusChanged`` set:
                                       0 TRADING, 1 POST_ONLY, 2 CANCEL_ONLY, 3 HALTED,
                                       4 DELISTED
=============== ================ ===== ===================================================

The API's ``OrdersRejected`` (service ``orders``, ``reason`` its problem code) counts the orders
refused before they reach the engine; the two series differ by ``service``.

Dimension values come from closed sets only (the ``RejectReason`` enum, the listed symbols), never
an account or order id: each name-and-dimensions combination is a metric CloudWatch keeps and
bills. An EMF document has one set of dimension values for all its metrics
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html),
so the process' ``metrics`` (``service`` only) takes the dimensionless counts, aggregated until
the handler flushes, and each dimensioned figure is a document of its own: Powertools'
``single_metric``, which leaves out the ``metrics`` dimensions unless given them as
``default_dimensions`` (https://docs.powertools.aws.dev/lambda/python/latest/core/metrics/#single-metric).
One document per reason, or per symbol, per journal record: a record is one symbol's, so its
figures are summed before they are written.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from exchange.domain.enums import InstrumentStatus
from exchange.domain.events import (
    AnyEvent,
    OrderAccepted,
    OrderRejected,
    Trade,
    TradingStatusChanged,
)
from exchange.domain.instruments import Instrument
from exchange.ledger.money import ZERO, add, notional
from exchange.observability import METRICS_NAMESPACE, metrics

# The dashboard plots the number: a status's place in this order (the most open first).
STATUS_CODES: Final[Mapping[InstrumentStatus, int]] = {
    InstrumentStatus.TRADING: 0,
    InstrumentStatus.POST_ONLY: 1,
    InstrumentStatus.CANCEL_ONLY: 2,
    InstrumentStatus.HALTED: 3,
    InstrumentStatus.DELISTED: 4,
}


def dimensioned(name: str, value: float, *, unit: MetricUnit, **dimensions: str) -> None:
    """One EMF document: ``name`` with ``dimensions`` beside the process' own (``service``)."""
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=METRICS_NAMESPACE,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        for key, text in dimensions.items():
            metric.add_dimension(name=key, value=text)


def symbol_status(symbol: str, status: InstrumentStatus) -> None:
    """``SymbolStatus`` of ``symbol``: the recorder's on each change; the reconciliation's on
    each run (so the dashboard shows a status that has not changed for days)."""
    dimensioned("SymbolStatus", STATUS_CODES[status], unit=MetricUnit.NoUnit, symbol=symbol)


def record_figures(instrument: Instrument, events: Sequence[AnyEvent]) -> None:
    """The business metrics of one journal record's events (all of ``instrument``'s symbol)."""
    accepted, fills, traded = 0, 0, ZERO
    rejected: Counter[str] = Counter()
    for event in events:
        match event:
            case OrderAccepted():
                accepted += 1
            case OrderRejected(command_id=None):
                rejected[event.reason.value] += 1
            case Trade():
                fills += 1
                traded = add(
                    traded, notional(instrument, price_ticks=event.price, qty_lots=event.qty)
                )
            case TradingStatusChanged():
                symbol_status(event.symbol, event.status)
    if accepted:
        metrics.add_metric(name="OrdersAccepted", unit=MetricUnit.Count, value=accepted)
    if fills:
        metrics.add_metric(name="Fills", unit=MetricUnit.Count, value=fills)
        dimensioned("TradedNotional", _as_float(traded), unit=MetricUnit.NoUnit,
                    symbol=instrument.symbol)  # fmt: skip
    for reason, count in sorted(rejected.items()):
        dimensioned("OrdersRejected", count, unit=MetricUnit.Count, reason=reason)


def _as_float(amount: Decimal) -> float:
    """The one place money becomes a float: a metric's value, which CloudWatch keeps as a
    double anyway."""
    return float(amount)
