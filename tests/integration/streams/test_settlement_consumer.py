"""The settlement handler on the real PostgreSQL ledger (a fresh database) with its cursor and
quarantine in moto's DynamoDB: a poisoned batch, its replay, the fees the recorder shows, a
refused event quarantined while the symbol goes on, and its redrive after the fix."""

import io
import json
import secrets
import uuid
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

import msgspec
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from exchange.domain import NewOrder, Side, TimeInForce
from exchange.journal.batch import consume
from exchange.journal.cursors import Cursor, CursorConflict, DynamoCursorStore
from exchange.journal.quarantine import DynamoQuarantineStore
from exchange.ledger import migrations
from exchange.ledger.connection import open_pool
from exchange.ledger.consumer import Settlement
from exchange.ledger.postgres import PostgresLedger
from exchange.ledger.redrive import main as redrive
from exchange.orders.recorder import Recorder
from exchange.settings import DEFAULT_ASSET_SCALES, SettlementSettings, load_settings
from exchange.testing.stores import InMemoryRecorderStore
from exchange.wire import JournalRecord, decode_record
from lambdas.settlement.handler import compose, handler
from tests.integration.ledger.conftest import _create_database, _drop_database, make_ledger, total
from tests.integration.ledger.test_conservation import check_books
from tests.integration.ledger.test_settlement import snapshot
from tests.integration.streams.conftest import Aws
from tests.unit.ledger.helpers import verified_account
from tests.unit.streams.helpers import (
    CATALOG,
    POISON,
    LambdaContext,
    Market,
    encoded,
    failures,
    records,
)


def traded_market(ledger: PostgresLedger, *, unreserved: str = "") -> Market:
    """Funded accounts, their orders reserved as the API does (all but ``unreserved``, e.g.
    ``"b2"``), and a run of the real engine."""
    market = Market(symbol="BTC-USD")
    sellers = [verified_account(ledger, BTC="2") for _ in range(2)]
    buyer = verified_account(ledger, USD="100000")
    market.order(f"s1-{uuid.uuid4().hex[:6]}", Side.SELL, "0.5", "65000.00", account=sellers[0])
    market.order(f"s2-{uuid.uuid4().hex[:6]}", Side.SELL, "0.3333", "65010.01", account=sellers[1])
    market.order(f"b1-{uuid.uuid4().hex[:6]}", Side.BUY, "0.6", "65010.01", account=buyer)
    market.order(f"b2-{uuid.uuid4().hex[:6]}", Side.BUY, "0.4", "65020.00", account=buyer,
                 tif=TimeInForce.IOC)  # fmt: skip
    for order_id, command in market.orders.items():
        if not order_id.startswith(unreserved or "-"):
            ledger.reserve(command)
    return market


def test_settlement_reports_only_the_poison_record_and_a_replay_moves_no_money(
    aws: Aws, ledger_pool: ConnectionPool
) -> None:
    # Given reserved orders and the engine's journal for them, with a poison record inside
    ledger = make_ledger(ledger_pool, CATALOG)
    ledger.bootstrap()
    market = traded_market(ledger)
    payloads = encoded(records(market.events, 2))
    batch = aws.journal_batch([*payloads[:2], POISON, *payloads[2:]])
    usd_before, btc_before = total(ledger_pool, "USD"), total(ledger_pool, "BTC")
    sink = Settlement(ledger, DynamoCursorStore())
    # When the handler consumes it
    first = handler(batch, LambdaContext(), sink=sink)
    # Then only the poison record failed, every order's hold is settled, nothing was created
    assert failures(first) == [batch["Records"][2]["kinesis"]["sequenceNumber"]]
    after = snapshot(ledger_pool)
    assert (total(ledger_pool, "USD"), total(ledger_pool, "BTC")) == (usd_before, btc_before)
    # When the same batch comes again
    second = handler(batch, LambdaContext(), sink=Settlement(ledger, DynamoCursorStore()))
    # Then the same record fails and the ledger is exactly as it was
    assert failures(second) == failures(first)
    assert snapshot(ledger_pool) == after


def test_fills_show_the_fee_the_ledger_charged(aws: Aws, ledger_pool: ConnectionPool) -> None:
    # Given one journal settled by the ledger and recorded by the recorder
    ledger = make_ledger(ledger_pool, CATALOG)
    ledger.bootstrap()
    market = traded_market(ledger)
    settlement = Settlement(ledger, DynamoCursorStore())
    store = InMemoryRecorderStore()
    recorder = Recorder(store, catalog=CATALOG, asset_scales=DEFAULT_ASSET_SCALES)
    for record in records(market.events, 3):
        consume(settlement, record, {})
        consume(recorder, record, {})
    # Then, order by order, the fees on its fills add up to what the ledger charged it
    shown: dict[str, Decimal] = defaultdict(Decimal)
    for row in store.fills.values():
        shown[row.order_id] += row.fee
    with ledger_pool.connection() as conn:
        charged: dict[str, Decimal] = dict(
            conn.execute(
                "SELECT order_id, fee_charged FROM ledger.reservations WHERE order_id = ANY(%s)",
                (list(market.orders),),
            ).fetchall()
        )
    assert set(shown) == set(charged)
    assert {oid: fee.normalize() for oid, fee in shown.items()} == {
        oid: Decimal(fee).normalize() for oid, fee in charged.items()
    }
    assert all(fee > 0 for fee in shown.values())


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """A fresh, migrated database, by URL: the function's settings name it."""
    name = f"settlement_test_{secrets.token_hex(4)}"
    url = _create_database(postgres_url, name)
    try:
        with psycopg.connect(url) as conn:
            migrations.upgrade(conn)
        yield url
    finally:
        _drop_database(postgres_url, name)


@pytest.fixture
def database_pool(database_url: str) -> Iterator[ConnectionPool]:
    pool = open_pool(lambda: database_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        pool.close()


def placed(market: Market, prefix: str) -> NewOrder:
    return next(o for order_id, o in market.orders.items() if order_id.startswith(prefix))


def poisoned_journal(ledger: PostgresLedger) -> tuple[Market, list[bytes]]:
    """The engine's journal, in records of 5 events: seqs 11-15 hold b2's trade and expiry, whose
    hold the ledger never got; 16-18 a later trade between two reserved orders."""
    market = traded_market(ledger, unreserved="b2")
    seller, buyer = verified_account(ledger, BTC="1"), verified_account(ledger, USD="10000")
    market.order("s3", Side.SELL, "0.1", "65000.00", account=seller)
    market.order("b3", Side.BUY, "0.1", "65000.00", account=buyer)
    ledger.reserve(market.orders["s3"])
    ledger.reserve(market.orders["b3"])
    return market, encoded(records(market.events, 5))


def test_a_refused_event_is_quarantined_with_its_payload_and_the_symbol_settles_on(
    aws: Aws, database_url: str, database_pool: ConnectionPool
) -> None:
    # Given the settlement function as composed in AWS, on a ledger that never got b2's hold
    ledger = make_ledger(database_pool, CATALOG)
    ledger.bootstrap()
    sink = compose(
        SettlementSettings(database_url=database_url, ledger_fee_account_id=ledger.fee_account_id)
    )
    market, payloads = poisoned_journal(ledger)
    before = {asset: total(database_pool, asset) for asset in ("USD", "BTC")}
    # When the handler consumes the journal
    try:
        response = handler(aws.journal_batch(payloads), LambdaContext(), sink=sink)
    finally:
        assert isinstance(sink, Settlement)  # no replication gate without a replica region
        assert isinstance(sink.ledger, PostgresLedger)
        sink.ledger.pool.close()
    # Then no record fails: the symbol's settlement goes on past the refused events
    assert failures(response) == []
    assert DynamoCursorStore().get("settlement", "BTC-USD") == market.events[-1].seq
    # And the record of the refused events is quarantined whole, with why
    (item,) = DynamoQuarantineStore().items("settlement")
    assert (item.symbol, item.first_seq, item.last_seq) == ("BTC-USD", 11, 15)
    assert item.payload == payloads[2]
    assert decode_record(item.payload).events == tuple(market.events[10:15])
    assert "seq 11 Trade: UnknownReservation" in item.error
    assert "seq 13 OrderExpired: UnknownReservation" in item.error
    assert placed(market, "b2").order_id in item.error
    # And the next record settled: b3 bought 0.1 BTC; money is conserved
    b3 = market.orders["b3"].account_id
    assert [b.total for b in ledger.balances(b3) if b.asset == "BTC"] == [Decimal("0.1")]
    assert {asset: total(database_pool, asset) for asset in ("USD", "BTC")} == before
    check_books(database_pool)


def test_redrive_applies_a_quarantined_record_after_the_fix(
    aws: Aws,
    database_url: str,
    database_pool: ConnectionPool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a record quarantined because b2 was never reserved
    ledger = make_ledger(database_pool, CATALOG)
    ledger.bootstrap()
    market, payloads = poisoned_journal(ledger)
    sink = Settlement(ledger, DynamoCursorStore(), DynamoQuarantineStore())
    assert failures(handler(aws.journal_batch(payloads), LambdaContext(), sink=sink)) == []
    # And the redrive command configured as the settlement function is
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", database_url)
    monkeypatch.setenv("EXCHANGE_LEDGER_FEE_ACCOUNT_ID", ledger.fee_account_id)
    load_settings.cache_clear()

    def replay() -> tuple[int, list[dict[str, object]]]:
        out = io.StringIO()
        code = redrive(["replay", "--consumer", "settlement", "--symbol", "BTC-USD"], out=out)
        return code, [json.loads(line) for line in out.getvalue().splitlines()]

    try:
        # When it replays before the fix, Then the record still fails and stays quarantined
        code, outcomes = replay()
        assert code == 1
        assert [(o["first_seq"], o["status"]) for o in outcomes] == [(11, "failed")]
        # When b2's hold is restored (the fix) and it replays again
        ledger.reserve(placed(market, "b2"))
        code, outcomes = replay()
    finally:
        load_settings.cache_clear()
    # Then the record is applied and marked redriven, and nothing is left to replay
    assert code == 0
    assert [(o["first_seq"], o["status"], o["applied"]) for o in outcomes] == [(11, "redriven", 2)]
    assert DynamoQuarantineStore().items("settlement") == []
    (item,) = DynamoQuarantineStore().items("settlement", redriven=True)
    assert item.redriven_ns is not None
    # And b2 settled: it bought 0.2333 BTC, holds nothing more, and the books balance
    b2 = placed(market, "b2")
    with database_pool.connection() as conn:
        held = conn.execute(
            "SELECT held, open_lots FROM ledger.reservations WHERE order_id = %s",
            (b2.order_id,),
        ).fetchone()
    assert held == (Decimal(0), 0)
    check_books(database_pool)


def test_the_cursor_keeps_its_epochs_and_refusals_on_dynamodb(aws: Aws) -> None:
    store = DynamoCursorStore()
    # A refusal before the symbol's first record leaves a cursor at 0 that it can advance
    store.refuse("settlement", "ETH-USD", 2, now_ns=1)
    store.advance("settlement", "ETH-USD", after=0, to=3, now_ns=2)
    assert store.read("settlement", "ETH-USD") == Cursor(3, (), frozenset({2}))
    # An epoch history written at a change stays through advances that do not write one
    store.advance("settlement", "BTC-USD", after=0, to=6, now_ns=1)
    store.advance("settlement", "BTC-USD", after=6, to=9, now_ns=2, epochs=((7, 1),))
    store.advance("settlement", "BTC-USD", after=9, to=12, now_ns=3)
    store.refuse("settlement", "BTC-USD", 0, now_ns=4)
    assert store.read("settlement", "BTC-USD") == Cursor(12, ((7, 1),), frozenset({0}))
    assert store.get("settlement", "BTC-USD") == 12
    with pytest.raises(CursorConflict):
        store.advance("settlement", "BTC-USD", after=9, to=15, now_ns=5)
    assert store.read("settlement", "NONE-USD") == Cursor()


def test_a_seq_the_dr_engine_reused_fails_and_stops_the_symbols_settlement(
    aws: Aws, ledger_pool: ConnectionPool
) -> None:
    # Given the primary's journal (epoch 0) settled, its cursor in DynamoDB at the last seq
    ledger = make_ledger(ledger_pool, CATALOG)
    ledger.bootstrap()
    market = traded_market(ledger)
    last = market.events[-1].seq
    first = handler(
        aws.journal_batch(encoded(records(market.events, 3))),
        LambdaContext(),
        sink=Settlement(ledger, DynamoCursorStore()),
    )
    assert failures(first) == []
    before = snapshot(ledger_pool)
    # When the promoted DR engine (epoch 1) journals other events at the last two seqs, and its
    # next ones after them; the batch holds the primary's records again too
    other = Market(symbol="BTC-USD")
    other.order("dr1", Side.BUY, "0.01", "60000.00", account="erin")
    other.order("dr2", Side.BUY, "0.01", "60001.00", account="erin")
    dr = [msgspec.structs.replace(e, seq=last - 1 + i) for i, e in enumerate(other.events[:4])]
    batch = aws.journal_batch(
        encoded([JournalRecord.of(dr[:2], epoch=1), JournalRecord.of(dr[2:], epoch=1)])
    )
    numbers = [record["kinesis"]["sequenceNumber"] for record in batch["Records"]]
    response = handler(batch, LambdaContext(), sink=Settlement(ledger, DynamoCursorStore()))
    # Then both DR records failed (the reuse, and the one after it), the primary's passed as
    # duplicates, no money moved, and the cursor refuses epoch 1 for the symbol
    assert failures(response) == numbers[-2:]
    assert snapshot(ledger_pool) == before
    assert DynamoCursorStore().read("settlement", "BTC-USD") == Cursor(last, (), frozenset({1}))
    # And so does the retry: the symbol stays stopped until an operator clears the refusal
    again = handler(batch, LambdaContext(), sink=Settlement(ledger, DynamoCursorStore()))
    assert failures(again) == numbers[-2:]


def test_a_refused_event_in_a_record_too_large_for_one_item_is_kept_in_parts(aws: Aws) -> None:
    """A journal record may be 1 MB (Kinesis' limit), a DynamoDB item 400 KB (Amazon DynamoDB
    Developer Guide, "Constraints in Amazon DynamoDB": Items; moto enforces it too). A refused
    event in such a record is quarantined as the record's parts that hold it, each one item, and
    the symbol settles on: the put no longer fails, which retried the record for ever."""
    from exchange.journal.quarantine import MAX_PAYLOAD_BYTES, Quarantined, pieces  # noqa: PLC0415
    from exchange.wire import encode_record  # noqa: PLC0415
    from tests.unit.engine_service.test_runtime import commands, uninterrupted  # noqa: PLC0415
    from tests.unit.ledger.test_settlement_quarantine import ScriptedLedger  # noqa: PLC0415

    history = uninterrupted(commands(8_000))
    record = JournalRecord.of(history[:14_000])
    assert len(encode_record(record)) > 2 * 400 * 1024
    store = DynamoQuarantineStore()
    # Kept whole, the record is refused by DynamoDB
    with pytest.raises(Exception, match="Item size has exceeded the maximum allowed size"):
        store.put(Quarantined.of("settlement", record, error="too big", now_ns=1))
    refused = {record.first_seq + 10, record.last_seq - 3}
    sink = Settlement(ScriptedLedger(refused), DynamoCursorStore(), DynamoQuarantineStore())  # type: ignore[arg-type]
    assert consume(sink, record, {}) == len(record.events)
    # Then each refused seq is in exactly one item, each item small and gap-free, in seq order
    items = store.items("settlement", symbol=record.symbol)
    assert [(i.first_seq, i.last_seq) for i in items] == [
        (p.first_seq, p.last_seq) for p in pieces(record, refused)
    ]
    assert 2 <= len(items) < 10
    held = sorted(s for item in items for s in refused if item.first_seq <= s <= item.last_seq)
    assert held == sorted(refused)
    for item in items:
        assert len(item.payload) <= MAX_PAYLOAD_BYTES
        events = decode_record(item.payload).events
        assert [e.seq for e in events] == list(range(item.first_seq, item.last_seq + 1))
        assert events == tuple(history[item.first_seq - 1 : item.last_seq])
        assert [f"seq {s} " in item.error for s in sorted(refused)] == [
            item.first_seq <= s <= item.last_seq for s in sorted(refused)
        ]
    assert DynamoCursorStore().get("settlement", record.symbol) == record.last_seq
