"""The settlement handler on the real PostgreSQL ledger (a fresh database) with its cursor in
moto's DynamoDB: a poisoned batch, its replay, and the fees the recorder shows."""

import uuid
from collections import defaultdict
from decimal import Decimal

from psycopg_pool import ConnectionPool

from exchange.domain import Side, TimeInForce
from exchange.journal.batch import consume
from exchange.journal.cursors import DynamoCursorStore
from exchange.ledger.consumer import Settlement
from exchange.ledger.postgres import PostgresLedger
from exchange.orders.recorder import Recorder
from exchange.settings import DEFAULT_ASSET_SCALES
from exchange.testing.stores import InMemoryRecorderStore
from lambdas.settlement.handler import handler
from tests.integration.ledger.conftest import make_ledger, total
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


def traded_market(ledger: PostgresLedger) -> Market:
    """Funded accounts, their orders reserved as the API does, and a run of the real engine."""
    market = Market(symbol="BTC-USD")
    sellers = [verified_account(ledger, BTC="2") for _ in range(2)]
    buyer = verified_account(ledger, USD="100000")
    market.order(f"s1-{uuid.uuid4().hex[:6]}", Side.SELL, "0.5", "65000.00", account=sellers[0])
    market.order(f"s2-{uuid.uuid4().hex[:6]}", Side.SELL, "0.3333", "65010.01", account=sellers[1])
    market.order(f"b1-{uuid.uuid4().hex[:6]}", Side.BUY, "0.6", "65010.01", account=buyer)
    market.order(f"b2-{uuid.uuid4().hex[:6]}", Side.BUY, "0.4", "65020.00", account=buyer,
                 tif=TimeInForce.IOC)  # fmt: skip
    for command in market.orders.values():
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
