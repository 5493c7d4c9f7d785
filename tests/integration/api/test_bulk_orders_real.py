"""Cancel-all, orders by client order id and time windows on the real adapters: DynamoDB on moto
(its ``open_orders``, ``by_client_order_id`` and ``by_symbol_status`` indexes), the real
RabbitMQ publish path, PostgreSQL for the ledger; and the in-memory fakes checked against them.

DynamoDB facts relied on: "Key condition expressions for the Query operation in DynamoDB"
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.KeyConditionExpressions.html):
a Query's sort-key condition may be ``BETWEEN`` (inclusive), ``<=`` or ``begins_with``, and
results come in sort-key order (reversed with ``ScanIndexForward=false``); "Paginating table
query results in DynamoDB"
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html): a Query
continues from its ``LastEvaluatedKey`` given back as ``ExclusiveStartKey`` with the same key
condition, which is what a cursor holds.
"""

from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from exchange.domain import CancelOrder, NewOrder, OrderStatus, OrderType, Side, TimeInForce
from exchange.ids import new_order_id
from exchange.ledger.postgres import PostgresLedger
from exchange.messaging import ShardMap
from exchange.orders.dynamo import DynamoOrderLookup, DynamoOrderStore
from exchange.orders.idempotency import IdempotentRunner
from exchange.orders.keys_dynamo import DynamoOrderKeys
from exchange.orders.model import Fill, Order, OrderQuery, TimeWindow
from exchange.orders.publisher import RabbitCommandSink
from exchange.orders.service import OrderService
from exchange.settings import ConsumerSettings
from exchange.tables import FillRecord, OrderRecord, symbol_status_key
from exchange.wire import decode_command
from tests.integration.api.conftest import CATALOG, account, call_orders, queued
from tests.unit.orders.fakes import WindowedOrderStore

BUY: dict[str, Any] = {
    "symbol": "BTC-USD",
    "side": "BUY",
    "order_type": "LIMIT",
    "qty": "0.01",
    "price": "65000.00",
}
ETH = {**BUY, "symbol": "ETH-USD", "price": "3000", "qty": "0.1"}
MINUTE = 60_000_000_000
T0 = 1_800_000_000_000_000_000


@pytest.fixture
def orders(
    dynamodb: Any,
    ledger: PostgresLedger,
    rabbitmq_url: str,
    shard: str,
    sinks: list[RabbitCommandSink],
) -> OrderService:
    """The orders function's service as ``compose`` builds it, on moto and the test's shard."""
    sink = RabbitCommandSink(
        lambda: rabbitmq_url, ShardMap({shard: CATALOG.symbols}), connection_name="bulk-tests"
    )
    sinks.append(sink)
    persistence = DynamoDBPersistenceLayer(
        table_name=ConsumerSettings().idempotency_table, boto3_client=dynamodb
    )
    return OrderService(
        instruments=CATALOG,
        store=DynamoOrderStore(),
        keys=DynamoOrderKeys(),
        ledger=ledger,
        sink=sink,
        idempotency=IdempotentRunner(persistence),
        lookup=DynamoOrderLookup(),
    )


def finish(account_id: str, order_id: str, status: OrderStatus) -> None:
    """What the recorder writes when the engine finishes an order: the status, and the order
    out of the sparse open_orders index."""
    row = OrderRecord.get(account_id, order_id)
    row.update(
        actions=[
            OrderRecord.status.set(status.value),
            OrderRecord.symbol_status.set(symbol_status_key(row.symbol, status.value, order_id)),
            OrderRecord.open_order_id.remove(),
        ]
    )


def commands(rabbitmq_url: str, shard: str) -> list[Any]:
    return [decode_command(body) for body in queued(rabbitmq_url, shard)]


def test_cancel_all_publishes_one_cancel_per_open_order_and_none_for_the_others(
    orders: OrderService, ledger: PostgresLedger, rabbitmq_url: str, shard: str
) -> None:
    # Given alice's open BTC and ETH orders, one of hers filled, and bob's open order
    alice, bob = account(ledger), account(ledger)
    placed = [
        call_orders(orders, "POST", "/v1/orders", body=body, account_id=alice).body["order_id"]
        for body in (BUY, BUY, ETH, BUY)
    ]
    finish(alice, placed[3], OrderStatus.FILLED)
    call_orders(orders, "POST", "/v1/orders", body=BUY, account_id=bob)
    assert len([c for c in commands(rabbitmq_url, shard) if isinstance(c, NewOrder)]) == 5
    # When alice cancels all her BTC orders, then all the rest
    btc = call_orders(orders, "DELETE", "/v1/orders", query={"symbol": "BTC-USD"}, account_id=alice)
    btc_sent = commands(rabbitmq_url, shard)
    rest = call_orders(orders, "DELETE", "/v1/orders", account_id=alice)
    # Then each open order of hers got exactly one confirmed cancel, and nothing else did
    assert btc.status == 202
    assert sorted(a["order_id"] for a in btc.body["accepted"]) == sorted(placed[:2])
    assert all(isinstance(c, CancelOrder) for c in btc_sent)
    assert sorted((c.order_id, c.account_id) for c in btc_sent) == sorted(
        (order_id, alice) for order_id in placed[:2]
    )
    # (the BTC orders are still open until the engine answers, so the second run repeats them)
    rest_sent = commands(rabbitmq_url, shard)
    assert sorted(c.order_id for c in rest_sent) == sorted(placed[:3])
    assert [a["command_id"] for a in rest.body["accepted"]] == [c.command_id for c in rest_sent]


def test_orders_by_client_order_id_on_the_index(
    orders: OrderService, ledger: PostgresLedger, rabbitmq_url: str, shard: str
) -> None:
    alice = account(ledger)
    ids = [
        call_orders(
            orders,
            "POST",
            "/v1/orders",
            body={**BUY, "client_order_id": "bot-7"},
            headers={"Idempotency-Key": key},
            account_id=alice,
        ).body["order_id"]
        for key in ("a", "b")
    ]
    read = call_orders(orders, "GET", "/v1/orders/by-client-id/bot-7", account_id=alice)
    assert (read.status, read.body["order_id"]) == (200, ids[1])
    finish(alice, ids[1], OrderStatus.CANCELLED)
    cancel = call_orders(orders, "DELETE", "/v1/orders/by-client-id/bot-7", account_id=alice)
    assert (cancel.status, cancel.body["order_id"]) == (202, ids[0])
    sent = [c for c in commands(rabbitmq_url, shard) if isinstance(c, CancelOrder)]
    assert [c.order_id for c in sent] == [ids[0]]
    missing = call_orders(orders, "GET", "/v1/orders/by-client-id/bot-8", account_id=alice)
    assert missing.status == 404


def order(minute: int, symbol: str, status: OrderStatus, n: int = 0) -> Order:
    created = T0 + minute * MINUTE + n
    return Order(
        account_id="alice",
        order_id=new_order_id(created),
        client_order_id=f"c{minute}",
        symbol=symbol,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        status=status,
        qty="1",
        created_ns=created,
        updated_ns=created,
        price="1",
    )


def every_page(store: Any, query: OrderQuery) -> list[list[str]]:
    pages, after = [], None
    while True:
        page = store.list("alice", query, after)
        pages.append([o.order_id for o in page.items])
        if page.next_key is None:
            return pages
        after = page.next_key


@pytest.mark.parametrize(
    "shape",
    [
        {},
        {"symbol": "ETH-USD"},
        {"symbol": "BTC-USD", "status": OrderStatus.NEW},
        {"status": OrderStatus.CANCELLED},
    ],
)
@pytest.mark.parametrize(
    ("start", "end"), [(2, 7), (None, 4), (5, None), (3, 4), (9, 20), (None, None)]
)
def test_the_fake_store_pages_windows_as_dynamodb_does(
    dynamodb: Any, shape: dict[str, Any], start: int | None, end: int | None
) -> None:
    # Given the same orders, one a minute over two symbols and three statuses, in both stores
    statuses = [OrderStatus.NEW, OrderStatus.CANCELLED, OrderStatus.FILLED]
    rows = [
        order(minute, "BTC-USD" if minute % 2 else "ETH-USD", statuses[minute % 3])
        for minute in range(10)
    ]
    dynamo, fake = DynamoOrderStore(), WindowedOrderStore()
    for row in rows:
        dynamo.add(row)
        fake.add(row)
    window = TimeWindow(
        start_ns=None if start is None else T0 + start * MINUTE,
        end_ns=None if end is None else T0 + end * MINUTE,
    )
    query = OrderQuery(limit=2, window=window, **shape)
    # When each pages through the window, Then they page alike
    assert every_page(dynamo, query) == every_page(fake, query)


def test_fills_in_a_window_on_dynamodb(dynamodb: Any) -> None:
    store = DynamoOrderStore()
    for n in range(6):
        ts = T0 + n * 1_000_000_000
        FillRecord(
            account_id="alice",
            fill_id=f"{ts:020d}#BTC-USD#{n:012d}#MAKER",
            order_id="01HF7YAT000000000000000001",
            symbol="BTC-USD",
            seq=n,
            side="BUY",
            role="MAKER",
            price="1",
            qty="1",
            ts_ns=ts,
        ).save()
    window = TimeWindow(start_ns=T0 + 1_000_000_000, end_ns=T0 + 4_000_000_000)
    first = store.fills("alice", order_id=None, limit=2, after=None, window=window)
    second = store.fills("alice", order_id=None, limit=2, after=first.next_key, window=window)
    by_order = store.fills(
        "alice", order_id="01HF7YAT000000000000000001", limit=10, after=None, window=window
    )
    assert [f.seq for f in first.items] == [3, 2]
    assert ([f.seq for f in second.items], second.next_key) == ([1], None)
    assert [f.seq for f in by_order.items] == [3, 2, 1]
    assert isinstance(first.items[0], Fill)
