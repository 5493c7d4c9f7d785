"""The reconciliation: the engine, the order store and the ledger must tell one story.

Every 15 minutes (an EventBridge schedule, ``lambdas/reconciliation``), or by hand with
``python -m exchange.operations.reconciliation``, it checks:

- ``snapshots``: each shard's newest snapshot was read and verified; a shard whose stores failed
  or refused every copy is drift, since ``open_orders`` cannot see that shard's books;
- ``open_orders``: the open orders of each shard's newest snapshot (Redis, its MAC verified, else
  S3) against the orders table's open orders and the ledger's open holds, by order id and open
  lots: a hold without an order, an order without a hold, an order missing from the engine or
  the store, open quantities that differ;
- ``solvency``: per asset, Σ (available + held) over every non-EXTERNAL account equals Σ credited
  deposits - Σ completed withdrawals, exactly (one REPEATABLE READ transaction; money only
  enters and leaves through those two, and fees, trades and dividends move it between accounts);
- ``settlement``: the trades table against the ledger's settled trades by (symbol, seq), both
  ways, over the last ``trade_window`` (the trades table expires rows after 30 days).

What is in flight rather than drift is defined in ``exchange.operations.checks``.

Output: EMF metrics ``ReconciliationDrift`` (dimension ``check``; one value per check every run,
0 when clean, so its alarm always has data), ``ReconciliationRuns`` and ``SymbolStatus``
(dimension ``symbol``, ``exchange.orders.business_metrics``' encoding, from each snapshot's
status), and the JSON report at
``reconciliation/YYYY/MM/DD/<HHMMSS>Z.json`` in the reports bucket.
"""

import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit

from exchange.domain.errors import UnknownInstrument
from exchange.domain.instruments import InstrumentCatalog
from exchange.domain.numbers import steps_in
from exchange.ledger.postgres.audit_reads import HoldRow
from exchange.observability import logger, metrics
from exchange.operations.checks import (
    OrderFacts,
    agrees,
    compare_orders,
    compare_trades,
    epoch_ns,
)
from exchange.operations.model import (
    EngineOrder,
    OrdersResult,
    Progress,
    ReconciliationReport,
    SettlementResult,
    ShardBooks,
    StoreOrder,
    TradeDrift,
)
from exchange.operations.ports import (
    ConsumerProgress,
    EngineBooks,
    LedgerAudit,
    OrderStore,
    ReportSink,
    Trades,
)
from exchange.orders.business_metrics import dimensioned, symbol_status

TRADE_WINDOW: Final = timedelta(hours=24)


def report_key(now: datetime) -> str:
    """``reconciliation/YYYY/MM/DD/<HHMMSS>Z.json`` of the run's UTC time.

    >>> report_key(datetime(2025, 3, 7, 9, 5, 2, tzinfo=UTC))
    'reconciliation/2025/03/07/090502Z.json'
    """
    return now.astimezone(UTC).strftime("reconciliation/%Y/%m/%d/%H%M%SZ.json")


class Reconciliation:
    def __init__(
        self,
        *,
        engine: EngineBooks,
        orders: OrderStore,
        progress: ConsumerProgress,
        ledger: LedgerAudit,
        trades: Trades,
        catalog: InstrumentCatalog,
        reports: ReportSink | None,
        grace_seconds: int,
        trade_window: timedelta = TRADE_WINDOW,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._engine = engine
        self._orders = orders
        self._progress = progress
        self._ledger = ledger
        self._trades = trades
        self._catalog = catalog
        self._reports = reports
        self._grace = timedelta(seconds=grace_seconds)
        self._trade_window = trade_window
        self._timer = timer

    def run(self, now: datetime) -> ReconciliationReport:
        """One pass of every check at ``now`` (timezone-aware): the report, written to the
        reports bucket (when there is one) and emitted as metrics."""
        started = self._timer()
        cutoff = now - self._grace
        # The order matters: the snapshot first, then how far the consumers are, then what they
        # wrote (see exchange.operations.checks).
        shards = tuple(self._engine.shards())
        seqs = {symbol: seq for shard in shards for symbol, seq in shard.seqs.items()}
        symbols = sorted(set(seqs) | set(self._catalog.symbols))
        progress = self._progress.progress(symbols)
        lot_sizes = {symbol: size for shard in shards for symbol, size in shard.lot_sizes.items()}
        orders = self._open_orders(shards, seqs, progress, lot_sizes, cutoff)
        assets = tuple(self._ledger.solvency())
        settlement = self._settlement(symbols, progress, now, cutoff)
        report = ReconciliationReport(
            run_at=now,
            duration_ms=(self._timer() - started) * 1000,
            grace_seconds=int(self._grace.total_seconds()),
            snapshots=shards,
            orders=orders,
            assets=assets,
            settlement=settlement,
        )
        # The metrics first: a report the bucket refuses must not hide the drift from its alarm.
        emit_metrics(report)
        if self._reports is not None:
            body = json.dumps(report.as_dict(), indent=2).encode()
            report = replace(report, location=self._reports.put(report_key(now), body))
        log = logger.info if report.clean else logger.error
        log("reconciliation finished", extra=report.summary())
        return report

    def _open_orders(
        self,
        shards: tuple[ShardBooks, ...],
        seqs: dict[str, int],
        progress: dict[str, Progress],
        lot_sizes: dict[str, Decimal],
        cutoff: datetime,
    ) -> OrdersResult:
        lots = partial(self._lots, lot_sizes)
        engine = {order.order_id: order for shard in shards for order in shard.orders}
        scanned = {order.order_id: order for order in self._orders.open_orders()}
        ledger_open = {hold.order_id: hold for hold in self._ledger.open_holds()}
        changed = self._ledger.changed_after(seqs)
        # Every order the three do not agree on is read again by key: consistently from the
        # orders table (its index may lag the table), and from the ledger for when it was held
        # (the in-flight rules need a closed row's last_seq, a released hold's created_at).
        suspects: dict[str, EngineOrder | StoreOrder | HoldRow] = {}
        for order_id in set(engine) | set(scanned) | set(ledger_open):
            views = engine.get(order_id), scanned.get(order_id), ledger_open.get(order_id)
            if not agrees(*views, lots):
                suspects[order_id] = next(view for view in views if view is not None)
        keys = sorted((view.account_id, order_id) for order_id, view in suspects.items())
        rows = {row.order_id: row for row in self._orders.orders(keys)}
        store_open = {i: order for i, order in scanned.items() if i not in rows}
        store_open.update({i: row for i, row in rows.items() if row.is_open})
        facts = OrderFacts(
            engine=engine,
            store_open=store_open,
            ledger_open=ledger_open,
            seqs=seqs,
            progress=progress,
            changed_after=changed,
            store_rows=rows,
            ledger_rows={hold.order_id: hold for hold in self._ledger.holds(suspects)},
        )
        return compare_orders(facts, lots=lots, cutoff=cutoff)

    def _lots(self, lot_sizes: dict[str, Decimal], order: StoreOrder) -> int | None:
        """The row's open quantity in lots, by the lot size the snapshot carries (an instrument
        listed at run time), else the catalog's; None when neither knows it or it is not whole
        lots."""
        lot_size = lot_sizes.get(order.symbol)
        if lot_size is None:
            try:
                lot_size = self._catalog.get(order.symbol).lot_size
            except UnknownInstrument:
                return None
        return steps_in(order.open_qty, lot_size)

    def _settlement(
        self, symbols: list[str], progress: dict[str, Progress], now: datetime, cutoff: datetime
    ) -> SettlementResult:
        since = now - self._trade_window
        compared = in_flight = 0
        drifted: list[TradeDrift] = []
        window_from: dict[str, int | None] = {}
        for symbol in symbols:
            trades = self._trades.since(symbol, epoch_ns(since))
            window_from[symbol] = min(trades) if trades else None
            settled = self._ledger.settled_trades(symbol, from_seq=window_from[symbol], since=since)
            result = compare_trades(
                symbol,
                trades=trades,
                settled=settled,
                progress=progress.get(symbol, Progress(0, 0)),
                cutoff=cutoff,
                trade_exists=partial(self._trades.exists, symbol),
            )
            compared += result.compared
            in_flight += result.in_flight
            drifted.extend(result.drifted)
        return SettlementResult(compared, in_flight, tuple(drifted), window_from)


def emit_metrics(report: ReconciliationReport) -> None:
    """One ``ReconciliationDrift`` per check (0 too) and each symbol's ``SymbolStatus`` the
    snapshots carry, each with its own dimension and so flushed at once (EMF on stdout);
    ``ReconciliationRuns`` into the process's metrics, flushed with the invocation's."""
    for check, count in report.drift().items():
        dimensioned("ReconciliationDrift", count, unit=MetricUnit.Count, check=check.value)
    metrics.add_metric(name="ReconciliationRuns", unit=MetricUnit.Count, value=1)
    for shard in report.snapshots:
        for symbol, status in sorted(shard.statuses.items()):
            symbol_status(symbol, status)
