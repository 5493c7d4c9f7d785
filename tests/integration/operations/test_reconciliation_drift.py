"""The reconciliation on real parties: a real engine's snapshot stored by the engine's own adapters
(real Redis, signed; S3 on moto), the orders and trades tables on moto written by the real
recorder, the real PostgreSQL ledger written by real settlement, read as the function's own
read-only database role. A clean exchange reports zero drift; a planted hold without an order and
a fill without settlement are named in the report, counted in ``ReconciliationDrift`` and written
to the reports bucket.

The report goes to S3 with no encryption header: "If a PUT Object request doesn't specify any
server-side encryption, this default encryption will be applied" (Amazon S3 API Reference,
ServerSideEncryptionByDefault), so the bucket's SSE-KMS default covers it.
"""

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import psycopg
import pytest
import redis
from moto import mock_aws
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from engine_service.adapters.snapshots import RedisSnapshotStore, S3SnapshotStore
from engine_service.core import Engine
from exchange.domain import Event, InstrumentCatalog, NewOrder, Side
from exchange.journal.cursors import DynamoCursorStore
from exchange.ledger import KycStatus, migrations
from exchange.ledger.connection import open_pool
from exchange.ledger.consumer import Settlement
from exchange.ledger.model import DepositNotice
from exchange.ledger.postgres import PostgresLedger
from exchange.ledger.roles import grant_logins
from exchange.operations.model import Check, OrderDriftKind, TradeDriftKind
from exchange.operations.service import report_key
from exchange.orders.recorder import Recorder
from exchange.orders.recorder_dynamo import DynamoRecorderStore
from exchange.settings import DEFAULT_ASSET_SCALES, ReconciliationSettings
from exchange.snapshots import snapshot_key
from exchange.tables import TABLE_SPECS, TradeRecord, bind_tables
from exchange.wire import JournalRecord
from lambdas.reconciliation.handler import compose
from tests.integration.ledger.conftest import _create_database, _drop_database, destination
from tests.unit.operations.test_reconciliation_snapshots import engine_snapshot, limit

KEY = "reconciliation-test-key"
SNAPSHOTS = "exchange-snapshots"
REPORTS = "exchange-reports"
ROLE = "exchange_reconciliation"
CATALOG = InstrumentCatalog.demo()
NANOS = 1_000_000_000
# Redis database of its own: the engine tests' snapshots (database 15) never meet this one's.
REDIS_DB = 13


@pytest.fixture(scope="module")
def database(postgres_url: str) -> Iterator[str]:
    """A migrated ledger database; yields the admin's conninfo."""
    name = f"reconciliation_test_{int(time.time() * 1000)}"
    url = _create_database(postgres_url, name)
    try:
        with psycopg.connect(url) as conn:
            migrations.upgrade(conn)
            grant_logins(conn, {ROLE: None})
        yield url
    finally:
        _drop_database(postgres_url, name)


@pytest.fixture
def admin(database: str) -> Iterator[ConnectionPool]:
    pool = open_pool(lambda: database, min_size=0, max_size=2)
    yield pool
    pool.close()


@pytest.fixture
def cache_url(redis_url: str) -> Iterator[str]:
    url = urlunsplit(urlsplit(redis_url)._replace(path=f"/{REDIS_DB}"))
    client = redis.Redis.from_url(url)
    client.delete(snapshot_key("s1"))
    yield url
    client.delete(snapshot_key("s1"))
    client.close()


@pytest.fixture
def settings(
    database: str, cache_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ReconciliationSettings]:
    """The function's environment: its own database role, Redis, the buckets and the key."""
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    for name, value in {
        "DATABASE_URL": make_conninfo(database, user=ROLE),
        "REDIS_URL": cache_url,
        "SNAPSHOT_BUCKET": SNAPSHOTS,
        "SNAPSHOT_HMAC_KEY": KEY,
        "REPORTS_BUCKET": REPORTS,
        "RECONCILE_GRACE_SECONDS": "120",
    }.items():
        monkeypatch.setenv(f"EXCHANGE_{name}", value)
    with mock_aws():
        settings = ReconciliationSettings()
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        for spec in TABLE_SPECS:
            dynamodb.create_table(
                **spec.create_table_kwargs(getattr(settings, spec.settings_field))
            )
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in (SNAPSHOTS, REPORTS):
            s3.create_bucket(Bucket=bucket)
        bind_tables(settings)
        yield settings


def deposit(ledger: PostgresLedger, account_id: str, asset: str, amount: str) -> None:
    ledger.credit_deposit(
        DepositNotice(
            f"evt-{account_id}-{asset}",
            f"dep-{account_id}-{asset}",
            account_id,
            asset,
            Decimal(amount),
            "CREDITED",
            0,
        )
    )


def journal(events: list[Event], *, after: int, ledger: PostgresLedger) -> int:
    """Each consumer applies the engine's events as from the journal: the recorder (orders,
    trades, its audit chain) and settlement (the ledger and its cursor)."""
    record = JournalRecord.of(events)
    recorder = Recorder(
        DynamoRecorderStore(CATALOG), catalog=CATALOG, asset_scales=DEFAULT_ASSET_SCALES
    )
    recorder.apply(record, list(record.events), after)
    Settlement(ledger, DynamoCursorStore()).apply(record, list(record.events), after)
    return record.last_seq


def trade(engine: Engine, ledger: PostgresLedger, orders: list[NewOrder]) -> int:
    """Hold each order, send it to the engine, journal what it did; the last seq."""
    events: list[Event] = []
    for order in orders:
        ledger.reserve(order)
        events.extend(engine.apply(order))
    return journal(events, after=0, ledger=ledger)


@pytest.fixture
def exchange(admin: ConnectionPool, settings: ReconciliationSettings, cache_url: str) -> Any:
    """Alice buys 10 lots of BTC-USD, bob sells her 4 (a trade) and offers 5 more: two orders
    stay open. Alice withdraws 100 USD. The engine snapshots (Redis and S3, as it does)."""
    ledger = PostgresLedger(admin, instruments=CATALOG, asset_scales=DEFAULT_ASSET_SCALES)
    ledger.bootstrap()
    for account in ("alice", "bob"):
        ledger.open_account(account, kyc_status=KycStatus.VERIFIED)
    deposit(ledger, "alice", "USD", "10000")
    deposit(ledger, "bob", "BTC", "1")
    target = destination(ledger, "alice", "USD")
    ledger.request_withdrawal("wd-1", "alice", "USD", Decimal(100), destination_id=target)
    ledger.claim_payout("wd-1")
    ledger.complete_withdrawal("wd-1")
    engine = Engine([CATALOG.get("BTC-USD")])
    seq = trade(
        engine,
        ledger,
        [
            limit("o-bid", Side.BUY, 10, 6_500_000),
            limit("o-ask", Side.SELL, 4, 6_500_000, account="bob"),
            limit("o-offer", Side.SELL, 5, 6_600_000, account="bob"),
        ],
    )
    payload = engine_snapshot(engine, taken_ns=time.time_ns())
    RedisSnapshotStore(redis.Redis.from_url(cache_url), KEY.encode).save("s1", payload)
    S3SnapshotStore(boto3.client("s3", region_name="us-east-1"), SNAPSHOTS).save("s1", payload)
    return ledger, seq


def drift_metrics(out: str) -> dict[str, list[float]]:
    lines = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    return {m["check"]: m["ReconciliationDrift"] for m in lines if "ReconciliationDrift" in m}


def test_a_clean_exchange_reports_no_drift_and_a_planted_one_is_named(
    exchange: Any, settings: ReconciliationSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger, seq = exchange
    # Everything above happened more than the grace ago by the time the runs look at it
    later = datetime.now(UTC) + timedelta(minutes=10)
    capsys.readouterr()

    # When the function's graph reconciles the clean exchange
    clean = compose(settings).run(later)

    # Then every check compared something and found no drift, on the Redis snapshot
    assert clean.drift() == {
        Check.SNAPSHOTS: 0,
        Check.OPEN_ORDERS: 0,
        Check.SOLVENCY: 0,
        Check.SETTLEMENT: 0,
    }
    assert clean.snapshots[0].source == "redis"
    assert clean.snapshots[0].seqs == {"BTC-USD": seq}
    assert clean.orders.compared == 2  # o-bid (6 lots left) and o-offer
    assert clean.settlement.compared == 1  # the trade
    usd = next(totals for totals in clean.assets if totals.asset == "USD")
    assert (usd.balances, usd.expected) == (Decimal(9900), Decimal(9900))
    assert drift_metrics(capsys.readouterr().out) == {
        "snapshots": [0.0],
        "open_orders": [0.0],
        "solvency": [0.0],
        "settlement": [0.0],
    }

    # Given a hold without an order (held, then never recorded nor sent: the API died between)
    orphan = limit("o-orphan", Side.BUY, 2, 6_400_000)
    ledger.reserve(orphan)
    # and a fill in the trades table that settlement passed over (its cursor moved on past it)
    TradeRecord(
        "BTC-USD",
        seq + 1,
        price="65000.00",
        qty="0.0001",
        aggressor_side="BUY",
        ts_ns=time.time_ns(),
    ).save()
    DynamoCursorStore().advance(
        Settlement.name, "BTC-USD", after=seq, to=seq + 1, now_ns=time.time_ns()
    )

    # When it reconciles again
    later = later + timedelta(minutes=1)
    drifted = compose(settings).run(later)

    # Then the report names both, and nothing else
    (hold,) = drifted.orders.drifted
    assert (hold.kind, hold.order_id, hold.account_id, hold.ledger_lots) == (
        OrderDriftKind.HOLD_WITHOUT_ORDER,
        "o-orphan",
        "alice",
        2,
    )
    (fill,) = drifted.settlement.drifted
    assert (fill.kind, fill.symbol, fill.seq) == (TradeDriftKind.NOT_SETTLED, "BTC-USD", seq + 1)
    assert drifted.drift()[Check.SOLVENCY] == 0
    # And ReconciliationDrift is non-zero for those two checks
    assert drift_metrics(capsys.readouterr().out) == {
        "snapshots": [0.0],
        "open_orders": [1.0],
        "solvency": [0.0],
        "settlement": [1.0],
    }
    # And the report is in the reports bucket under its dated key
    key = report_key(later)
    assert drifted.location == f"s3://{REPORTS}/{key}"
    stored = boto3.client("s3", region_name="us-east-1").get_object(Bucket=REPORTS, Key=key)
    report = json.loads(stored["Body"].read())
    assert report["drift"] == {"snapshots": 0, "open_orders": 1, "solvency": 0, "settlement": 1}
    assert report["checks"]["open_orders"]["drifted"][0]["order_id"] == "o-orphan"
    assert report["checks"]["settlement"]["drifted"] == [
        {"kind": "trade_not_settled", "symbol": "BTC-USD", "seq": seq + 1}
    ]
    assert stored["ContentType"] == "application/json"
