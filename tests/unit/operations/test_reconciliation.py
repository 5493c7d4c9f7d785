"""The reconciliation over in-memory parties: each check finds what it must, names it, tolerates
what is in flight (and only that), and says so in its metrics and its report."""

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from exchange.domain import InstrumentCatalog, InstrumentStatus
from exchange.ledger.postgres.audit_reads import AssetTotals, HoldRow
from exchange.observability import metrics
from exchange.operations import reconciliation as by_hand
from exchange.operations.model import (
    Check,
    EngineOrder,
    OrderDriftKind,
    Progress,
    ShardBooks,
    StoreOrder,
    TradeDriftKind,
)
from exchange.operations.reconciliation import Reconciliation, ReconciliationReport
from exchange.testing.lambda_events import LambdaContextStub, scheduled_event
from lambdas.reconciliation.handler import handler

NANOS = 1_000_000_000
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
GRACE_S = 120
OLD = NOW - timedelta(minutes=10)  # well past the grace
SEQ = 50  # the snapshot's seq of BTC-USD


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * NANOS


def engine_order(order_id: str, lots: int, symbol: str = "BTC-USD") -> EngineOrder:
    return EngineOrder(order_id, "alice", symbol, lots)


def store_order(
    order_id: str,
    qty: str,
    *,
    status: str = "NEW",
    last_seq: int = 10,
    created: datetime = OLD,
    symbol: str = "BTC-USD",
) -> StoreOrder:
    return StoreOrder(order_id, "alice", symbol, status, Decimal(qty), ns(created), last_seq)


def hold(order_id: str, lots: int, *, created: datetime = OLD, symbol: str = "BTC-USD") -> HoldRow:
    return HoldRow(order_id, "alice", symbol, lots, created)


@dataclass
class World:
    """Every party at once: the engine's snapshots, the orders table, the consumers' progress,
    the ledger, the trades table and the reports bucket (each port's methods, by name)."""

    books: list[ShardBooks] = field(default_factory=list)
    rows: dict[str, StoreOrder] = field(default_factory=dict)  # the orders table, by order id
    index: list[StoreOrder] | None = None  # what the open_orders index says, when it lags
    reservations: dict[str, HoldRow] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    progress_by: dict[str, Progress] = field(default_factory=dict)
    assets: list[AssetTotals] = field(default_factory=list)
    tape: dict[str, dict[int, int]] = field(default_factory=dict)  # symbol -> seq -> ts_ns
    settled: dict[str, dict[int, datetime]] = field(default_factory=dict)
    reports: dict[str, bytes] = field(default_factory=dict)
    reread: list[tuple[str, str]] = field(default_factory=list)

    # EngineBooks
    def shards(self) -> list[ShardBooks]:
        return self.books

    # OrderStore
    def open_orders(self) -> list[StoreOrder]:
        if self.index is not None:
            return self.index
        return [row for row in self.rows.values() if row.is_open]

    def orders(self, keys: Sequence[tuple[str, str]]) -> list[StoreOrder]:
        self.reread.extend(keys)
        return [self.rows[order_id] for _, order_id in keys if order_id in self.rows]

    # ConsumerProgress: caught up with every snapshot unless told otherwise
    def progress(self, symbols: Collection[str]) -> dict[str, Progress]:
        return {
            symbol: self.progress_by.get(symbol, Progress(10_000, 10_000)) for symbol in symbols
        }

    # LedgerAudit
    def open_holds(self) -> list[HoldRow]:
        return [row for row in self.reservations.values() if row.open_lots > 0]

    def holds(self, order_ids: Collection[str]) -> list[HoldRow]:
        return [self.reservations[i] for i in order_ids if i in self.reservations]

    def changed_after(self, seqs: Mapping[str, int]) -> set[str]:
        return self.changed

    def solvency(self) -> list[AssetTotals]:
        return self.assets

    def settled_trades(
        self, symbol: str, *, from_seq: int | None, since: datetime
    ) -> dict[int, datetime]:
        rows = self.settled.get(symbol, {})
        if from_seq is None:
            return {seq: at for seq, at in rows.items() if at >= since}
        return {seq: at for seq, at in rows.items() if seq >= from_seq}

    # Trades
    def since(self, symbol: str, since_ns: int) -> dict[int, int]:
        return {seq: ts for seq, ts in self.tape.get(symbol, {}).items() if ts >= since_ns}

    def exists(self, symbol: str, seq: int) -> bool:
        return seq in self.tape.get(symbol, {})

    # ReportSink
    def put(self, key: str, body: bytes) -> str:
        self.reports[key] = body
        return f"mem://{key}"


def snapshot(*orders: EngineOrder, seq: int = SEQ, **extra: object) -> ShardBooks:
    return ShardBooks("s1", "redis", seqs={"BTC-USD": seq}, orders=orders, **extra)  # type: ignore[arg-type]


def reconciliation(world: World) -> Reconciliation:
    return Reconciliation(
        engine=world,
        orders=world,
        progress=world,
        ledger=world,
        trades=world,
        catalog=InstrumentCatalog.demo(),
        reports=world,
        grace_seconds=GRACE_S,
    )


def run(world: World) -> ReconciliationReport:
    return reconciliation(world).run(NOW)


def agreed(order_id: str = "o-1") -> World:
    """One BTC-USD order of 5 lots (0.0005 BTC) open and agreed by all three."""
    return World(
        books=[snapshot(engine_order(order_id, 5))],
        rows={order_id: store_order(order_id, "0.0005")},
        reservations={order_id: hold(order_id, 5)},
    )


def emitted(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


# --- open orders -------------------------------------------------------------------------------


def test_a_clean_state_reports_zero_drift_for_every_check() -> None:
    # Given an agreed order, exact solvency and a settled trade
    world = agreed()
    world.assets = [AssetTotals("USD", Decimal("100.5"), Decimal("101"), Decimal("0.5"))]
    world.tape = {"BTC-USD": {7: ns(OLD)}}
    world.settled = {"BTC-USD": {7: OLD}}
    # When it runs
    report = run(world)
    # Then nothing drifted, and each check compared something
    assert report.clean
    assert report.drift() == {
        Check.SNAPSHOTS: 0,
        Check.OPEN_ORDERS: 0,
        Check.SOLVENCY: 0,
        Check.SETTLEMENT: 0,
    }
    assert (report.orders.compared, report.settlement.compared) == (1, 1)
    # And the orders index was trusted as it was: nothing differed, nothing was read again
    assert world.reread == []


def test_a_hold_without_an_order_is_named() -> None:
    # Given a hold (10 minutes old) whose order neither the engine nor the orders table has
    world = agreed()
    world.reservations["o-orphan"] = hold("o-orphan", 3)
    # When it runs
    report = run(world)
    # Then the report names it, with each side's open lots
    (drift,) = report.orders.drifted
    assert (drift.kind, drift.order_id, drift.symbol) == (
        OrderDriftKind.HOLD_WITHOUT_ORDER,
        "o-orphan",
        "BTC-USD",
    )
    assert (drift.engine_lots, drift.store_lots, drift.ledger_lots) == (None, None, 3)
    assert report.drift()[Check.OPEN_ORDERS] == 1


def test_an_order_whose_hold_was_released_is_an_order_without_a_hold() -> None:
    world = agreed()
    world.reservations["o-1"] = hold("o-1", 0)  # released, by no event after the snapshot
    (drift,) = run(world).orders.drifted
    assert drift.kind is OrderDriftKind.ORDER_WITHOUT_HOLD
    assert (drift.engine_lots, drift.store_lots, drift.ledger_lots) == (5, 5, None)


def test_an_order_the_engine_lacks_and_one_the_store_closed_are_named() -> None:
    # Given an order open in the store and the ledger that the engine does not have, and one
    # the engine has open that the store closed at a seq the snapshot already covers
    world = agreed()
    world.rows["o-lost"] = store_order("o-lost", "0.0002", last_seq=SEQ - 1)
    world.reservations["o-lost"] = hold("o-lost", 2)
    world.books = [snapshot(engine_order("o-1", 5), engine_order("o-early", 4))]
    world.rows["o-early"] = store_order("o-early", "0", status="CANCELLED", last_seq=SEQ)
    world.reservations["o-early"] = hold("o-early", 4)
    # Then both are named, each with its kind
    kinds = {drift.order_id: drift.kind for drift in run(world).orders.drifted}
    assert kinds == {
        "o-lost": OrderDriftKind.NOT_IN_ENGINE,
        "o-early": OrderDriftKind.NOT_IN_STORE,
    }


def test_open_quantities_that_differ_are_compared_in_lots() -> None:
    # Given the engine and the store at 5 lots and the ledger at 4
    world = agreed()
    world.reservations["o-1"] = hold("o-1", 4)
    (drift,) = run(world).orders.drifted
    assert drift.kind is OrderDriftKind.OPEN_QTY_MISMATCH
    assert (drift.engine_lots, drift.store_lots, drift.ledger_lots) == (5, 5, 4)


def test_a_store_quantity_that_is_not_whole_lots_is_a_mismatch_with_its_reason() -> None:
    world = agreed()
    world.rows["o-1"] = store_order("o-1", "0.00051")
    (drift,) = run(world).orders.drifted
    assert drift.kind is OrderDriftKind.OPEN_QTY_MISMATCH
    assert drift.store_lots is None
    assert "0.00051" in drift.detail


def test_a_symbol_listed_at_run_time_is_compared_by_the_lot_size_its_snapshot_carries() -> None:
    # Given ACME-USD (in no instruments file) with its lot size in the snapshot (version 3)
    world = World(
        books=[
            ShardBooks(
                "s1",
                "s3",
                seqs={"ACME-USD": 9},
                orders=(engine_order("o-acme", 3, "ACME-USD"),),
                lot_sizes={"ACME-USD": Decimal(1)},
            )
        ],
        rows={"o-acme": store_order("o-acme", "3", symbol="ACME-USD")},
        reservations={"o-acme": hold("o-acme", 3, symbol="ACME-USD")},
    )
    assert run(world).orders.drifted == ()


def test_a_shard_no_store_could_give_a_trusted_snapshot_of_is_drift() -> None:
    # Given a shard whose Redis copy was refused (a bad MAC) and whose S3 read failed: its books
    # are unknown, so the open orders on it were compared with nothing and none could be drift
    world = agreed()
    problems = ("redis snapshot refused: bad MAC", "s3 unavailable: ClientError: AccessDenied")
    world.books.append(ShardBooks("s2", None, problems=problems))
    # And a shard that never snapshotted (no event yet), with no store failing
    world.books.append(ShardBooks("s3", None))
    # When it runs
    report = run(world)
    # Then the unreadable shard is drift, and alarms; the shard without a snapshot is not
    assert report.drift()[Check.SNAPSHOTS] == 1
    assert not report.clean
    checked = report.as_dict()["checks"]["snapshots"]
    assert checked == {"read": 1, "drifted": [{"shard": "s2", "problems": list(problems)}]}


# --- in flight ---------------------------------------------------------------------------------


def test_a_hold_younger_than_the_grace_is_in_flight_and_one_just_older_is_drift() -> None:
    # Given two orphan holds: one held exactly at the grace's edge, one a second before it
    world = agreed()
    edge = NOW - timedelta(seconds=GRACE_S)
    world.reservations["o-young"] = hold("o-young", 1, created=edge)
    world.reservations["o-stale"] = hold("o-stale", 1, created=edge - timedelta(seconds=1))
    # When it runs
    report = run(world)
    # Then the young one may still be on its way to the engine; the older one is drift
    assert [drift.order_id for drift in report.orders.drifted] == ["o-stale"]
    assert report.orders.in_flight == 1


def test_an_order_recorded_within_the_grace_is_in_flight_whatever_the_engine_says() -> None:
    # Given a placement resumed by a retry: held 3 minutes ago, recorded PENDING_NEW 5 s ago,
    # not yet in the engine
    world = agreed()
    world.rows["o-new"] = store_order(
        "o-new", "0.0001", status="PENDING_NEW", last_seq=0, created=NOW - timedelta(seconds=5)
    )
    world.reservations["o-new"] = hold("o-new", 1, created=NOW - timedelta(minutes=3))
    report = run(world)
    assert report.clean
    assert report.orders.in_flight == 1


def test_an_order_the_store_moved_past_the_snapshot_is_in_flight() -> None:
    # Given an order the snapshot (seq 50) has open, that filled at seq 51: the store has
    # recorded it, settlement not yet (the ledger still holds it as of the snapshot)
    world = agreed()
    world.rows["o-1"] = store_order("o-1", "0", status="FILLED", last_seq=SEQ + 1)
    # Then it is no drift
    report = run(world)
    assert report.clean
    assert report.orders.in_flight == 1


def test_a_hold_the_ledger_changed_after_the_snapshot_is_in_flight() -> None:
    # Given a partial fill after the snapshot that settlement applied but the recorder not yet
    world = agreed()
    world.reservations["o-1"] = hold("o-1", 3)
    world.changed = {"o-1"}
    assert run(world).clean


@pytest.mark.parametrize(
    ("recorded", "settled"), [(SEQ - 2, SEQ), (SEQ, SEQ - 2)], ids=["recorder", "settlement"]
)
def test_differences_on_a_symbol_a_consumer_lags_on_are_in_flight_and_the_lag_is_reported(
    recorded: int, settled: int
) -> None:
    # Given a consumer at seq 48 while the snapshot is at 50: the engine cancelled o-1 at 49,
    # and whichever consumer lags still shows it open (the other has closed it)
    world = agreed()
    world.books = [snapshot()]
    if recorded < SEQ:
        world.reservations["o-1"] = hold("o-1", 0)
    else:
        world.rows["o-1"] = store_order("o-1", "0", status="CANCELLED", last_seq=SEQ - 1)
    world.progress_by["BTC-USD"] = Progress(recorded=recorded, settled=settled)
    # Then that is no drift yet, and the report says which symbol waits on whom
    report = run(world)
    assert report.clean
    assert report.orders.in_flight == 1
    assert report.orders.lagging == {
        "BTC-USD": {"snapshot_seq": SEQ, "recorded_seq": recorded, "settled_seq": settled}
    }


def test_once_the_consumers_caught_up_the_same_difference_is_drift() -> None:
    world = agreed()
    world.books = [snapshot()]
    world.reservations["o-1"] = hold("o-1", 0)
    world.progress_by["BTC-USD"] = Progress(recorded=SEQ, settled=SEQ)
    (drift,) = run(world).orders.drifted
    assert drift.kind is OrderDriftKind.ORDER_WITHOUT_HOLD


def test_an_index_entry_that_lags_the_table_is_read_again_consistently() -> None:
    # Given the open_orders index still listing an order the table has already cancelled (at a
    # seq the snapshot covers; the engine and the ledger agree it is gone)
    world = agreed()
    world.rows["o-gone"] = store_order("o-gone", "0", status="CANCELLED", last_seq=SEQ - 3)
    world.index = [world.rows["o-1"], store_order("o-gone", "0.0002", last_seq=SEQ - 5)]
    # When it runs
    report = run(world)
    # Then the stale entry was read again by key, and is no drift
    assert world.reread == [("alice", "o-gone")]
    assert report.clean


# --- solvency ----------------------------------------------------------------------------------


def test_solvency_is_exact_to_the_last_unit_of_the_scale() -> None:
    # Given USD balances one 10^-18 above what came in minus what went out, BTC exact
    world = agreed()
    world.assets = [
        AssetTotals("BTC", Decimal("2.5"), Decimal("3"), Decimal("0.5")),
        AssetTotals("USD", Decimal("1000.000000000000000001"), Decimal("1500"), Decimal("500")),
    ]
    # When it runs
    report = run(world)
    # Then USD is named with both sides and the difference, as exact decimal strings
    assert report.drift()[Check.SOLVENCY] == 1
    (usd,) = report.as_dict()["checks"]["solvency"]["drifted"]
    assert usd == {
        "asset": "USD",
        "balances": "1000.000000000000000001",
        "deposits": "1500",
        "withdrawals": "500",
        "expected": "1000",
        "difference": "0.000000000000000001",
    }


# --- settlement --------------------------------------------------------------------------------


def test_fills_and_settled_trades_are_compared_both_ways_by_symbol_and_seq() -> None:
    # Given the tape: 7 settled, 8 never settled (settlement is past it), 9 traded 3 s ago,
    # 10 beyond settlement's cursor; the ledger: 7, and 11 whose trade the tape never had (and
    # 3, before the window's first trade: not compared)
    world = agreed()
    world.progress_by["BTC-USD"] = Progress(recorded=10_000, settled=9)
    recent = ns(NOW - timedelta(seconds=3))
    world.tape = {"BTC-USD": {7: ns(OLD), 8: ns(OLD), 9: recent, 10: ns(OLD)}}
    world.settled = {"BTC-USD": {3: OLD, 7: OLD, 11: OLD}}
    # When it runs
    report = run(world)
    # Then 8 (a fill without settlement) and 11 (a settlement without a trade) are named; 9 (too
    # recent) and 10 (settlement has not got there) are in flight
    assert [(d.kind, d.symbol, d.seq) for d in report.settlement.drifted] == [
        (TradeDriftKind.NOT_SETTLED, "BTC-USD", 8),
        (TradeDriftKind.NO_TRADE, "BTC-USD", 11),
    ]
    assert report.settlement.in_flight == 2
    assert report.settlement.window_from["BTC-USD"] == 7


def test_a_settled_trade_older_than_the_window_is_looked_up_before_it_is_called_drift() -> None:
    # Given no trade within the window (the first recent trade is absent) and a trade settled
    # recently whose tape row is older than the window, plus one with no tape row at all
    world = agreed()
    world.tape = {"BTC-USD": {4: ns(NOW - timedelta(days=3))}}
    world.settled = {"BTC-USD": {4: NOW - timedelta(hours=1), 5: NOW - timedelta(hours=1)}}
    report = run(world)
    assert [(d.kind, d.seq) for d in report.settlement.drifted] == [(TradeDriftKind.NO_TRADE, 5)]
    assert report.settlement.window_from["BTC-USD"] is None


def test_a_settled_trade_the_recorder_has_not_reached_or_just_settled_is_in_flight() -> None:
    # Given the recorder at seq 4: seq 5 settled long ago, seq 2 settled just now
    world = agreed()
    world.progress_by["BTC-USD"] = Progress(recorded=4, settled=10_000)
    world.settled = {"BTC-USD": {5: OLD, 2: NOW - timedelta(seconds=1)}}
    report = run(world)
    assert report.clean
    assert report.settlement.in_flight == 2


# --- metrics and the report --------------------------------------------------------------------


def test_drift_metrics_carry_every_check_and_symbol_status_the_snapshot_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a hold without an order, and BTC-USD halted in the snapshot
    world = agreed()
    world.books = [snapshot(engine_order("o-1", 5), statuses={"BTC-USD": InstrumentStatus.HALTED})]
    world.reservations["o-orphan"] = hold("o-orphan", 3)
    capsys.readouterr()
    # When it runs (and the invocation's metrics are flushed, as the handler's decorator does)
    run(world)
    metrics.flush_metrics()
    # Then one ReconciliationDrift per check (the clean ones at 0, so the alarm has data)
    lines = emitted(capsys.readouterr().out)
    drift = {m["check"]: m["ReconciliationDrift"] for m in lines if "ReconciliationDrift" in m}
    assert drift == {
        "snapshots": [0.0],
        "open_orders": [1.0],
        "solvency": [0.0],
        "settlement": [0.0],
    }
    dimensions = {
        tuple(m["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0])  # type: ignore[index]
        for m in lines
        if "ReconciliationDrift" in m
    }
    assert dimensions == {("check", "service")}
    # And one run, and the status encoded as the dashboard reads it (3: HALTED)
    assert [m["ReconciliationRuns"] for m in lines if "ReconciliationRuns" in m] == [[1.0]]
    (status,) = [m for m in lines if "SymbolStatus" in m]
    assert (status["symbol"], status["SymbolStatus"]) == ("BTC-USD", [3.0])


def test_the_report_is_written_under_its_dated_key_and_names_what_drifted() -> None:
    world = agreed()
    world.reservations["o-orphan"] = hold("o-orphan", 3)
    report = run(world)
    # The key is the run's UTC time; the report returned says where it went
    assert list(world.reports) == ["reconciliation/2025/06/01/120000Z.json"]
    assert report.location == "mem://reconciliation/2025/06/01/120000Z.json"
    written = json.loads(world.reports["reconciliation/2025/06/01/120000Z.json"])
    assert written["clean"] is False
    assert written["drift"] == {"snapshots": 0, "open_orders": 1, "solvency": 0, "settlement": 0}
    (drift,) = written["checks"]["open_orders"]["drifted"]
    assert (drift["kind"], drift["order_id"], drift["ledger_lots"]) == (
        "hold_without_order",
        "o-orphan",
        3,
    )
    assert written["snapshots"][0]["seqs"] == {"BTC-USD": SEQ}
    assert written["grace_seconds"] == GRACE_S


def test_the_scheduled_handler_returns_the_summary() -> None:
    world = agreed()
    world.reservations["o-orphan"] = hold("o-orphan", 3)
    summary = handler(
        scheduled_event("exchange-reconciliation"),
        LambdaContextStub(),
        reconciliation=reconciliation(world),
    )
    assert summary["clean"] is False
    assert summary["drift"] == {"snapshots": 0, "open_orders": 1, "solvency": 0, "settlement": 0}
    assert str(summary["report"]).startswith("mem://reconciliation/")


def test_run_by_hand_prints_the_report_and_exits_1_on_drift(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the environment's graph (here over the in-memory parties), a clean run, then a drift
    world = agreed()
    built = reconciliation(world)
    monkeypatch.setattr(by_hand, "load_settings", lambda model: model)
    monkeypatch.setattr(by_hand, "build_reconciliation", lambda settings: built)
    capsys.readouterr()
    assert by_hand.main() == 0
    world.reservations["o-orphan"] = hold("o-orphan", 3)
    # When it is run by hand
    status = by_hand.main()
    # Then it exits 1 and prints the report, with where it was written
    assert status == 1
    printed = capsys.readouterr().out
    report = json.loads(printed[printed.rindex('{\n  "run_at"') :])
    assert report["drift"]["open_orders"] == 1
    assert report["report"].startswith("mem://reconciliation/")
