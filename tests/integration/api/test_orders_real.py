"""The orders function end to end on real services: DynamoDB (moto), RabbitMQ, PostgreSQL."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from exchange.domain import AmendOrder, CancelOrder, Command, NewOrder
from exchange.ledger.postgres import PostgresLedger
from exchange.messaging import ShardMap
from exchange.orders.dynamo import DynamoOrderStore
from exchange.orders.publisher import RabbitCommandSink
from exchange.orders.service import OrderService
from exchange.tables import OrderRecord
from exchange.wire import decode_command
from tests.integration.api.conftest import CATALOG, account, call_orders, queued

BUY: dict[str, Any] = {
    "symbol": "BTC-USD",
    "side": "BUY",
    "order_type": "LIMIT",
    "qty": "0.5",
    "price": "65000.00",
}
HOLD = Decimal("32516.25")  # 0.5 x 65,000 plus the 5 bps taker fee


def usd(ledger: PostgresLedger, account_id: str) -> tuple[Decimal, Decimal]:
    balance = next(b for b in ledger.balances(account_id) if b.asset == "USD")
    return balance.available, balance.held


def reservations(pool: ConnectionPool, account_id: str) -> int:
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM ledger.reservations WHERE account_id = %s AND held > 0",
            (account_id,),
        ).fetchone()
    assert row is not None
    return int(str(row[0]))


def test_place_amend_cancel_and_query(
    orders: OrderService, ledger: PostgresLedger, rabbitmq_url: str, shard: str
) -> None:
    alice = account(ledger)
    # When alice places, reads, amends and cancels an order
    placed = call_orders(orders, "POST", "/v1/orders", body=BUY, account_id=alice)
    order_id = placed.body["order_id"]
    read = call_orders(orders, "GET", f"/v1/orders/{order_id}", account_id=alice)
    amended = call_orders(
        orders, "PATCH", f"/v1/orders/{order_id}", body={"qty": "0.2"}, account_id=alice
    )
    cancelled = call_orders(orders, "DELETE", f"/v1/orders/{order_id}", account_id=alice)
    # Then each step is accepted
    assert [placed.status, read.status, amended.status, cancelled.status] == [202, 200, 202, 202]
    assert (read.body["status"], read.body["qty"], read.body["price"]) == (
        "PENDING_NEW",
        "0.5",
        "65000.00",
    )
    # And the funds are held in PostgreSQL
    assert usd(ledger, alice)[1] == HOLD
    # And the shard's queue holds the three commands, in order, for the same order
    commands = [decode_command(body) for body in queued(rabbitmq_url, shard)]
    assert [type(c) for c in commands] == [NewOrder, AmendOrder, CancelOrder]
    assert {c.order_id for c in commands if isinstance(c, Command)} == {order_id}
    assert isinstance(commands[1], AmendOrder)
    assert commands[1].qty == 2000


def test_listing_uses_the_symbol_status_index_and_pages(
    orders: OrderService, ledger: PostgresLedger
) -> None:
    alice = account(ledger)
    ids = [
        call_orders(orders, "POST", "/v1/orders", body=BUY, account_id=alice).body["order_id"]
        for _ in range(3)
    ]
    eth = {**BUY, "symbol": "ETH-USD", "qty": "1", "price": "3000.00"}
    call_orders(orders, "POST", "/v1/orders", body=eth, account_id=alice)
    seen, cursor = [], None
    for _ in range(5):
        query = {"symbol": "BTC-USD", "status": "PENDING_NEW", "limit": "2"}
        page = call_orders(
            orders,
            "GET",
            "/v1/orders",
            query={**query, **({"cursor": cursor} if cursor else {})},
            account_id=alice,
        ).body
        seen += [o["order_id"] for o in page["orders"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)


def test_cross_account_access_answers_404(orders: OrderService, ledger: PostgresLedger) -> None:
    alice, bob = account(ledger), account(ledger)
    order_id = call_orders(orders, "POST", "/v1/orders", body=BUY, account_id=alice).body[
        "order_id"
    ]
    replies = [
        call_orders(orders, "GET", f"/v1/orders/{order_id}", account_id=bob),
        call_orders(orders, "DELETE", f"/v1/orders/{order_id}", account_id=bob),
    ]
    assert [(r.status, r.body["code"]) for r in replies] == [(404, "order_not_found")] * 2
    listed = call_orders(orders, "GET", "/v1/orders", account_id=bob).body["orders"]
    assert listed == []


def test_idempotent_retry_gives_one_order_and_one_reservation(
    orders: OrderService,
    ledger: PostgresLedger,
    api_pool: ConnectionPool,
    rabbitmq_url: str,
    shard: str,
) -> None:
    alice = account(ledger)
    # When the same request is sent three times with one key (as after a client timeout)
    replies = [
        call_orders(
            orders,
            "POST",
            "/v1/orders",
            body=BUY,
            account_id=alice,
            headers={"Idempotency-Key": "k1"},
        )
        for _ in range(3)
    ]
    # Then the answers are identical, and there is one order, one hold and one command
    assert len({r.body["order_id"] for r in replies}) == 1
    assert {r.status for r in replies} == {202}
    assert OrderRecord.count(alice) == 1
    assert reservations(api_pool, alice) == 1
    assert usd(ledger, alice)[1] == HOLD
    assert len(queued(rabbitmq_url, shard)) == 1
    # And the same key with another body is refused without a second order
    other = call_orders(
        orders,
        "POST",
        "/v1/orders",
        body={**BUY, "qty": "0.3"},
        account_id=alice,
        headers={"Idempotency-Key": "k1"},
    )
    assert (other.status, other.body["code"]) == (409, "idempotency_conflict")
    assert OrderRecord.count(alice) == 1


@pytest.mark.parametrize("failure", ["unroutable shard", "broker unreachable"])
def test_an_unpublishable_order_is_kept_pending_with_its_hold(
    make_orders: Callable[..., OrderService],
    ledger: PostgresLedger,
    api_pool: ConnectionPool,
    rabbitmq_url: str,
    failure: str,
) -> None:
    # Given a real broker that cannot take the command (nor its cancel): a shard no queue is
    # bound to, or no broker listening at all
    if failure == "unroutable shard":
        service = make_orders(ShardMap({"api-no-such-shard": CATALOG.symbols}))
    else:
        service = make_orders(
            ShardMap({"s1": CATALOG.symbols}), broker_url="amqp://guest:guest@127.0.0.1:1/%2F"
        )
    alice = account(ledger)
    # When alice places an order
    reply = call_orders(service, "POST", "/v1/orders", body=BUY, account_id=alice)
    # Then 503, and the order stays PENDING_NEW with its hold: the API never releases a hold or
    # rejects an order; the engine's answer (or the reconciler) settles it
    assert (reply.status, reply.body["code"]) == (503, "broker_unavailable")
    assert usd(ledger, alice)[1] == HOLD
    assert reservations(api_pool, alice) == 1
    [record] = list(OrderRecord.query(alice))
    assert record.status == "PENDING_NEW"
    assert record.order_id in reply.body["detail"]


def test_a_closed_broker_connection_is_replaced(
    orders: OrderService,
    sinks: list[RabbitCommandSink],
    ledger: PostgresLedger,
    rabbitmq_url: str,
    shard: str,
) -> None:
    alice = account(ledger)
    assert call_orders(orders, "POST", "/v1/orders", body=BUY, account_id=alice).status == 202
    sinks[0].close()  # as when a frozen container's connection was dropped
    assert call_orders(orders, "POST", "/v1/orders", body=BUY, account_id=alice).status == 202
    assert len(queued(rabbitmq_url, shard)) == 2


def test_open_order_cap_is_enforced_by_the_counter(
    make_orders: Callable[..., OrderService], ledger: PostgresLedger, shard: str
) -> None:
    service = make_orders(ShardMap({shard: CATALOG.symbols}), max_open_orders=2)
    alice = account(ledger)
    statuses = [
        call_orders(service, "POST", "/v1/orders", body=BUY, account_id=alice).status
        for _ in range(3)
    ]
    assert statuses == [202, 202, 422]


def test_a_finished_order_left_in_the_open_index_is_not_counted(
    orders: OrderService, ledger: PostgresLedger
) -> None:
    # Given one open order, and one whose writer set FILLED but left open_order_id behind
    alice = account(ledger)
    call_orders(orders, "POST", "/v1/orders", body=BUY, account_id=alice)
    [record] = list(OrderRecord.query(alice))
    record.order_id, record.open_order_id, record.status = (
        "01HF7YAT000000000000000000",
        "x",
        "FILLED",
    )
    record.save()
    # Then only the open one counts towards the cap
    assert OrderRecord.open_orders.count(alice) == 2
    assert DynamoOrderStore().count_open(alice, 200) == 1
