"""DELETE /v1/orders and the by-client-id routes right after an order is placed, when the
indexes they read do not show it yet; and cancel-all retried with its Idempotency-Key.

The fake lookup's ``lagging`` orders are in the table but not yet in its indexes: global
secondary index reads are eventually consistent, and a strongly consistent read of one is refused
("DynamoDB read consistency", Amazon DynamoDB Developer Guide,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html:
"All reads from GSIs and streams are eventually consistent"). The table itself reads
consistently: that is where the routes look for the last seconds' orders.
"""

from dataclasses import replace
from typing import Any

import pytest

from exchange.domain import CancelOrder, OrderStatus
from exchange.ids import new_order_id
from exchange.orders.lookup import INDEX_LAG_ALLOWANCE_NS
from tests.unit.api.conftest import ALICE, LIMIT_BUY, Exchange, Reply
from tests.unit.orders.wiring import Bulk, bulk_exchange, finish

ETH_BUY = {"symbol": "ETH-USD", "side": "BUY", "order_type": "LIMIT", "qty": "1", "price": "3000"}


@pytest.fixture
def bulk() -> tuple[Exchange, Bulk]:
    return bulk_exchange()


def place(exchange: Exchange, body: dict[str, Any] | None = None, key: str | None = None) -> str:
    headers = {"Idempotency-Key": key} if key else None
    reply = exchange.call(
        "POST", "/v1/orders", body=body or LIMIT_BUY, headers=headers, account_id=ALICE
    )
    assert reply.status == 202, reply.body
    return str(reply.body["order_id"])


def cancelled(exchange: Exchange) -> list[str]:
    return [c.order_id for c in exchange.sink.commands if isinstance(c, CancelOrder)]


def cancel_all(exchange: Exchange, **kwargs: Any) -> Reply:
    return exchange.call("DELETE", "/v1/orders", account_id=ALICE, **kwargs)


# --- an order the index does not show yet --------------------------------------------------------


def test_cancel_all_cancels_an_order_placed_a_moment_ago_that_the_index_lacks(
    bulk: tuple[Exchange, Bulk],
) -> None:
    # Given an order placed a minute ago, and one a moment ago the open-orders index lacks
    exchange, fakes = bulk
    old = place(exchange)
    fakes.clock.advance(60)
    new = place(exchange)
    fakes.lookup.lagging.add(new)
    # When alice cancels all
    reply = cancel_all(exchange)
    # Then both got their cancel, each once, oldest first
    assert reply.status == 202
    assert [a["order_id"] for a in reply.body["accepted"]] == [old, new]
    assert cancelled(exchange) == [old, new]
    assert reply.body["truncated"] is False


def test_cancel_all_of_one_symbol_reads_the_recent_orders_of_that_symbol_only(
    bulk: tuple[Exchange, Bulk],
) -> None:
    exchange, fakes = bulk
    btc, eth = place(exchange), place(exchange, ETH_BUY)
    fakes.lookup.lagging.update({btc, eth})
    reply = cancel_all(exchange, query={"symbol": "ETH-USD"})
    assert [a["order_id"] for a in reply.body["accepted"]] == [eth]


def test_cancel_all_skips_a_recent_order_the_table_says_has_finished(
    bulk: tuple[Exchange, Bulk],
) -> None:
    exchange, _ = bulk
    done, live = place(exchange), place(exchange)
    finish(exchange, ALICE, done, OrderStatus.FILLED)
    assert cancelled(exchange) == []
    assert [a["order_id"] for a in cancel_all(exchange).body["accepted"]] == [live]


@pytest.mark.parametrize(("recent_count", "truncated"), [(1, False), (2, True)])
def test_the_recent_orders_count_against_the_cap(recent_count: int, truncated: bool) -> None:
    # Given a cap of three, two open orders in the index and recent ones it lacks (the second
    # written straight to the table: the cap would refuse to place it)
    exchange, fakes = bulk_exchange(max_open_orders=3)
    old = [place(exchange), place(exchange)]
    fakes.clock.advance(INDEX_LAG_ALLOWANCE_NS / 1e9 + 1)
    recent = [place(exchange)]
    for _ in range(recent_count - 1):
        fakes.clock.advance(0.001)
        copy = replace(
            exchange.store.orders[(ALICE, recent[0])], order_id=new_order_id(fakes.clock.ns())
        )
        exchange.store.orders[(ALICE, copy.order_id)] = copy
        recent.append(copy.order_id)
    fakes.lookup.lagging.update(recent)
    # When alice cancels all
    reply = cancel_all(exchange)
    # Then no more than three are cancelled, oldest first, and it says whether some are left
    assert [a["order_id"] for a in reply.body["accepted"]] == [*old, *recent][:3]
    assert reply.body["truncated"] is truncated


def test_cancel_by_client_order_id_right_after_placing_finds_the_order(
    bulk: tuple[Exchange, Bulk],
) -> None:
    # Given an order with client id "q-1" that the client-id index does not show yet
    exchange, fakes = bulk
    order_id = place(exchange, {**LIMIT_BUY, "client_order_id": "q-1"})
    fakes.lookup.lagging.add(order_id)
    # When alice reads it and cancels it by its client id
    read = exchange.call("GET", "/v1/orders/by-client-id/q-1", account_id=ALICE)
    cancel = exchange.call("DELETE", "/v1/orders/by-client-id/q-1", account_id=ALICE)
    # Then both find it
    assert (read.status, read.body["order_id"]) == (200, order_id)
    assert (cancel.status, cancel.body["order_id"]) == (202, order_id)
    assert cancelled(exchange) == [order_id]


def test_a_reused_client_order_id_names_the_newest_even_before_the_index_has_it(
    bulk: tuple[Exchange, Bulk],
) -> None:
    exchange, fakes = bulk
    body = {**LIMIT_BUY, "client_order_id": "reused"}
    older = place(exchange, body, key="a")
    fakes.clock.advance(60)
    newer = place(exchange, body, key="b")
    fakes.lookup.lagging.add(newer)
    reply = exchange.call("GET", "/v1/orders/by-client-id/reused", account_id=ALICE)
    assert reply.body["order_id"] == newer != older


# --- cancel-all retried with its key -------------------------------------------------------------


def test_cancel_all_retried_with_its_key_answers_as_first_and_leaves_orders_placed_since(
    bulk: tuple[Exchange, Bulk],
) -> None:
    # Given alice's order, cancelled all with a key
    exchange, _ = bulk
    first_order = place(exchange)
    first = cancel_all(exchange, headers={"Idempotency-Key": "panic-1"})
    # When she places another order, then retries the cancel-all with the same key
    later_order = place(exchange)
    again = cancel_all(exchange, headers={"Idempotency-Key": "panic-1"})
    # Then the retry answers as the first did, and sent nothing more
    assert (first.status, again.status) == (202, 202)
    assert again.body == first.body
    assert [a["order_id"] for a in again.body["accepted"]] == [first_order]
    assert cancelled(exchange) == [first_order]
    assert later_order not in cancelled(exchange)


def test_the_same_cancel_all_key_with_another_symbol_is_a_409(
    bulk: tuple[Exchange, Bulk],
) -> None:
    exchange, _ = bulk
    place(exchange), place(exchange, ETH_BUY)
    first = cancel_all(exchange, query={"symbol": "BTC-USD"}, headers={"Idempotency-Key": "k"})
    for other in ({"symbol": "ETH-USD"}, None):
        reply = cancel_all(exchange, query=other, headers={"Idempotency-Key": "k"})
        assert (reply.status, reply.body["code"]) == (409, "idempotency_conflict"), other
    assert len(cancelled(exchange)) == len(first.body["accepted"]) == 1


def test_a_cancel_all_that_could_send_nothing_is_not_kept_so_its_retry_runs(
    bulk: tuple[Exchange, Bulk],
) -> None:
    exchange, _ = bulk
    order_id = place(exchange)
    exchange.sink.fail = True
    assert cancel_all(exchange, headers={"Idempotency-Key": "k"}).status == 503
    exchange.sink.fail = False
    reply = cancel_all(exchange, headers={"Idempotency-Key": "k"})
    assert (reply.status, [a["order_id"] for a in reply.body["accepted"]]) == (202, [order_id])
    assert cancelled(exchange) == [order_id]


def test_a_partial_cancel_all_is_kept_and_a_new_key_sends_the_rest(
    bulk: tuple[Exchange, Bulk],
) -> None:
    # Given two open orders and a broker that refuses the second cancel
    exchange, _ = bulk
    ids = [place(exchange), place(exchange)]
    exchange.sink.script = ["ok", "refused"]
    first = cancel_all(exchange, headers={"Idempotency-Key": "k1"})
    assert [n["order_id"] for n in first.body["not_sent"]] == [ids[1]]
    # When she retries with the same key she gets that answer; with a new key, the rest is sent
    assert cancel_all(exchange, headers={"Idempotency-Key": "k1"}).body == first.body
    retry = cancel_all(exchange, headers={"Idempotency-Key": "k2"})
    assert ids[1] in [a["order_id"] for a in retry.body["accepted"]]
