"""The sparse ``open_orders`` index on moto's DynamoDB: the API puts an order in it, the recorder
takes it out when the order reaches a final status (and puts in the ones it creates open), so
the API's open-order count never counts finished orders."""

from exchange.domain import OrderStatus, Side
from exchange.journal.batch import consume
from exchange.orders.dynamo import DynamoOrderStore
from exchange.orders.model import Order
from exchange.settings import RecorderSettings
from exchange.tables import OrderRecord
from lambdas.recorder.handler import compose as build_recorder
from tests.integration.streams.conftest import Aws
from tests.unit.streams.helpers import BTC, Market, busy_market, records


def open_order_ids(account_id: str) -> list[str]:
    return [row.order_id for row in OrderRecord.open_orders.query(account_id)]


def record(market: Market, first_event: int = 0) -> None:
    """Feed the recorder the market's events from ``first_event`` on, as journal records."""
    sink = build_recorder(RecorderSettings())
    for journal_record in records(market.events[first_event:], 3):
        consume(sink, journal_record, {})


def place_through_the_api(market: Market) -> None:
    """Each order as the REST API records it before publishing (PENDING_NEW, in the index)."""
    store = DynamoOrderStore()
    for order_id, command in market.orders.items():
        store.add(
            Order(
                account_id=command.account_id,
                order_id=order_id,
                client_order_id=command.client_order_id,
                symbol=command.symbol,
                side=command.side,
                order_type=command.order_type,
                tif=command.tif,
                status=OrderStatus.PENDING_NEW,
                qty=BTC.format_qty(command.qty),
                price=None if command.price is None else BTC.format_price(command.price),
                created_ns=command.ts,
                updated_ns=command.ts,
            )
        )


def test_orders_filled_cancelled_or_expired_by_the_recorder_leave_the_open_orders_index(
    aws: Aws,
) -> None:
    # Given the busy market's orders placed through the API, each in the open_orders index
    market = busy_market()
    place_through_the_api(market)
    accounts = {command.account_id for command in market.orders.values()}
    assert sorted(oid for account in accounts for oid in open_order_ids(account)) == sorted(
        market.orders
    )
    # When the recorder applies the engine's events (fills, an IOC expiry, a cancel)
    record(market)
    # Then every order is final, and none is left in the index
    assert {row.status for row in OrderRecord.scan()} == {"FILLED", "CANCELLED", "EXPIRED"}
    assert {account: open_order_ids(account) for account in accounts} == {
        account: [] for account in accounts
    }
    assert DynamoOrderStore().count_open("carol", up_to=10) == 0


def test_an_order_the_recorder_creates_open_is_indexed_until_it_is_cancelled(aws: Aws) -> None:
    # Given no API rows (a replay into the DR region): a maker that rests and is partly filled
    market = Market()
    market.order("m1", Side.SELL, "1", "65000.00", account="alice")
    market.order("t1", Side.BUY, "0.4", "65000.00", account="bob")
    # When the recorder creates the rows from the engine's events
    record(market)
    # Then the partly filled maker is in the index and the filled taker is not
    assert OrderRecord.get("alice", "m1").status == "PARTIALLY_FILLED"
    assert (open_order_ids("alice"), open_order_ids("bob")) == (["m1"], [])
    # When the maker is cancelled and the recorder applies that too
    recorded = len(market.events)
    market.cancel("m1", account="alice")
    record(market, recorded)
    # Then it has left the index
    assert OrderRecord.get("alice", "m1").status == "CANCELLED"
    assert open_order_ids("alice") == []
