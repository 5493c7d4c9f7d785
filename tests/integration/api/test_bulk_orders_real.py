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

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from pynamodb.exceptions import PynamoDBException

from exchange.domain import CancelOrder, NewOrder, OrderStatus, OrderType, Side, TimeInForce
from exchange.ids import new_order_id
from exchange.ledger.postgres import PostgresLedger
from exchange.messaging import ShardMap
from exchange.orders.dynamo import DynamoOrderLookup, DynamoOrderStore
from exchange.orders.lookup import recent_window
from exchange.orders.mass_cancel import MassCancel
from exchange.orders.model import Fill, Order, OrderQuery, TimeWindow
from exchange.orders.service import OrderService
from exchange.tables import FillRecord, OrderRecord, symbol_status_key
from exchange.testing.fakes import InMemoryCommandSink, InMemoryOrderStore
from exchange.wire import decode_command
from tests.integration.api.conftest import CATALOG, account, call_orders, queued

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
def orders(make_orders: Callable[..., OrderService], shard: str) -> OrderService:
    """The orders function's service as ``compose`` builds it, on moto and the test's shard."""
    return make_orders(ShardMap({shard: CATALOG.symbols}), lookup=DynamoOrderLookup())


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
    dynamo, fake = DynamoOrderStore(), InMemoryOrderStore()
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


# --- the indexes' eventual consistency -----------------------------------------------------------


def placed(account_id: str, *, age_s: float = 0, client_order_id: str | None = None) -> str:
    """An open order of ``account_id`` placed ``age_s`` seconds ago, written as placement does."""
    created = time.time_ns() - int(age_s * 1e9)
    row = order(0, "BTC-USD", OrderStatus.NEW)
    order_id = new_order_id(created)
    DynamoOrderStore().add(
        replace(
            row,
            account_id=account_id,
            order_id=order_id,
            client_order_id=client_order_id or order_id,
            created_ns=created,
            updated_ns=created,
        )
    )
    return order_id


def not_indexed_yet(account_id: str, order_id: str) -> None:
    """What a reader of the open_orders index sees until the index has caught up with the order's
    write: the item without its index entry (moto updates an index at once; DynamoDB does so
    eventually)."""
    OrderRecord.get(account_id, order_id).update(actions=[OrderRecord.open_order_id.remove()])


@contextmanager
def queries() -> Iterator[list[dict[str, Any]]]:
    """The parameters of each Query the orders table is sent meanwhile."""
    client = OrderRecord._get_connection().connection.client
    sent: list[dict[str, Any]] = []

    def keep(params: dict[str, Any], **_: Any) -> None:
        sent.append(dict(params))

    client.meta.events.register("provide-client-params.dynamodb.Query", keep)
    try:
        yield sent
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.Query", keep)


def test_a_mass_cancel_reads_the_last_seconds_from_the_table_consistently(dynamodb: Any) -> None:
    """GSI reads are eventually consistent and ``ConsistentRead`` on one is refused ("DynamoDB
    read consistency",
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html;
    Query API reference: "If you query a global secondary index with ConsistentRead set to true,
    you will receive a ValidationException"); the table's Query may be strongly consistent."""
    # Given alice's order placed a minute ago, and one a moment ago the index does not show yet
    old, new = placed("alice", age_s=60), placed("alice")
    not_indexed_yet("alice", new)
    placed("bob")
    sink = InMemoryCommandSink()
    # When a mass cancel runs
    with queries() as sent:
        result = MassCancel(lookup=DynamoOrderLookup(), sink=sink, limit=200).cancel_all(
            "alice", source="test"
        )
    # Then both orders were cancelled, each once
    assert [a.order_id for a in result.sent] == [old, new]
    assert [c.order_id for c in sink.commands if isinstance(c, CancelOrder)] == [old, new]
    assert len(sink.commands) == 2
    # the index read eventually consistently, the table's last seconds strongly consistently
    [index] = [q for q in sent if q.get("IndexName") == "open_orders"]
    [table] = [q for q in sent if "IndexName" not in q]
    assert not index.get("ConsistentRead")
    assert table["ConsistentRead"] is True
    # (and DynamoDB would refuse a consistent read of the index)
    with pytest.raises(PynamoDBException, match="ValidationException"):
        list(OrderRecord.open_orders.query("alice", consistent_read=True))


def test_the_newest_orders_with_a_reused_client_order_id_whatever_the_index_returns(
    dynamodb: Any,
) -> None:
    # Given five orders with one client order id (the index's key values need not be unique,
    # and a Query orders its results by the index's sort key alone: these share it)
    ids = [placed("alice", age_s=60 - n, client_order_id="same") for n in range(5)]
    # When the three newest are asked for, Then they are the three newest
    found = DynamoOrderLookup().by_client_order_id("alice", "same", limit=3)
    assert [o.order_id for o in found] == ids[:1:-1]


def test_the_recent_orders_with_a_client_order_id_are_read_from_the_table(dynamodb: Any) -> None:
    placed("alice", client_order_id="q")
    mine = placed("alice", client_order_id="q-1")
    placed("alice", age_s=60, client_order_id="q-1")
    with queries() as sent:
        found = DynamoOrderLookup().recent_orders(
            "alice", recent_window(time.time_ns(), open_ended=True), limit=10, client_order_id="q-1"
        )
    assert [o.order_id for o in found] == [mine]
    assert [q["ConsistentRead"] for q in sent] == [True]


def test_cancel_all_keeps_its_first_answer_per_key_on_the_idempotency_table(
    orders: OrderService, ledger: PostgresLedger, rabbitmq_url: str, shard: str
) -> None:
    alice = account(ledger)
    first_order = call_orders(orders, "POST", "/v1/orders", body=BUY, account_id=alice)
    key = {"Idempotency-Key": "panic"}
    first = call_orders(orders, "DELETE", "/v1/orders", headers=key, account_id=alice)
    call_orders(orders, "POST", "/v1/orders", body=BUY, account_id=alice)
    again = call_orders(orders, "DELETE", "/v1/orders", headers=key, account_id=alice)
    other = call_orders(
        orders, "DELETE", "/v1/orders", query={"symbol": "ETH-USD"}, headers=key, account_id=alice
    )
    assert (first.status, again.body) == (202, first.body)
    assert (other.status, other.body["code"]) == (409, "idempotency_conflict")
    sent = [c for c in commands(rabbitmq_url, shard) if isinstance(c, CancelOrder)]
    assert [c.order_id for c in sent] == [first_order.body["order_id"]]
