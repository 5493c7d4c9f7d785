"""DELETE /v1/orders (cancel all) and the by-client-id routes, through API Gateway proxy events,
over in-memory fakes (``tests.unit.orders.fakes``)."""

from dataclasses import replace
from typing import Any

import pytest

from exchange.domain import CancelOrder, OrderStatus
from tests.unit.api.conftest import ALICE, BOB, LIMIT_BUY, Exchange, Reply
from tests.unit.orders.wiring import Bulk, bulk_exchange, finish

ETH_BUY = {"symbol": "ETH-USD", "side": "BUY", "order_type": "LIMIT", "qty": "1", "price": "3000"}


@pytest.fixture
def bulk() -> tuple[Exchange, Bulk]:
    return bulk_exchange()


@pytest.fixture
def exchange(bulk: tuple[Exchange, Bulk]) -> Exchange:
    return bulk[0]


def place(exchange: Exchange, account: str = ALICE, body: dict[str, Any] | None = None) -> str:
    reply = exchange.call("POST", "/v1/orders", body=body or LIMIT_BUY, account_id=account)
    assert reply.status == 202, reply.body
    return str(reply.body["order_id"])


def cancels(exchange: Exchange) -> list[CancelOrder]:
    return [c for c in exchange.sink.commands if isinstance(c, CancelOrder)]


def cancel_all(exchange: Exchange, account: str = ALICE, **kwargs: Any) -> Reply:
    return exchange.call("DELETE", "/v1/orders", account_id=account, **kwargs)


# --- DELETE /v1/orders ------------------------------------------------------------------------


def test_cancel_all_sends_one_cancel_per_open_order_of_the_caller_only(exchange: Exchange) -> None:
    # Given alice with three open orders on two symbols and two finished ones, and bob's order
    open_ids = {place(exchange), place(exchange), place(exchange, body=ETH_BUY)}
    filled, cancelled = place(exchange), place(exchange)
    finish(exchange, ALICE, filled, OrderStatus.FILLED)
    finish(exchange, ALICE, cancelled, OrderStatus.CANCELLED)
    bobs = place(exchange, BOB)
    # When alice cancels all her orders
    reply = cancel_all(exchange)
    # Then exactly one cancel went for each of her open orders, none for the rest
    assert reply.status == 202
    assert {a["order_id"] for a in reply.body["accepted"]} == open_ids
    assert {a["status"] for a in reply.body["accepted"]} == {"PENDING_CANCEL"}
    sent = cancels(exchange)
    assert sorted(c.order_id for c in sent) == sorted(open_ids)
    assert {c.account_id for c in sent} == {ALICE}
    assert bobs not in {c.order_id for c in sent}
    assert [a["command_id"] for a in reply.body["accepted"]] == [c.command_id for c in sent]
    assert (reply.body["not_sent"], reply.body["truncated"]) == ([], False)


def test_cancel_all_of_one_symbol_leaves_the_other_symbols(exchange: Exchange) -> None:
    # Given alice's BTC and ETH orders
    place(exchange)
    eth = place(exchange, body=ETH_BUY)
    # When she cancels her ETH-USD orders
    reply = cancel_all(exchange, query={"symbol": "ETH-USD"})
    # Then only the ETH order got a cancel
    assert reply.status == 202
    assert [c.order_id for c in cancels(exchange)] == [eth]


def test_cancel_all_with_nothing_open_answers_202_and_sends_nothing(exchange: Exchange) -> None:
    reply = cancel_all(exchange)
    assert (reply.status, reply.body["accepted"], cancels(exchange)) == (202, [], [])


@pytest.mark.parametrize(("symbol", "code"), [("DOGE-USD", "unknown_instrument"), ("btc", None)])
def test_cancel_all_of_a_symbol_we_do_not_list_is_a_400(
    exchange: Exchange, symbol: str, code: str | None
) -> None:
    place(exchange)
    reply = cancel_all(exchange, query={"symbol": symbol})
    assert reply.status == 400
    assert reply.is_problem
    assert reply.body["code"] == (code or "validation_error")
    assert cancels(exchange) == []


def test_a_retry_with_the_same_key_answers_the_same_command_ids(exchange: Exchange) -> None:
    # Given two open orders, cancelled with a key
    place(exchange), place(exchange)
    first = cancel_all(exchange, headers={"Idempotency-Key": "panic-1"})
    # When the client retries (the engine has not answered yet, so both are still open)
    again = cancel_all(exchange, headers={"Idempotency-Key": "panic-1"})
    other = cancel_all(exchange, headers={"Idempotency-Key": "panic-2"})
    # Then the retry answers the first call's command ids and sends nothing; another key sends
    # cancels of its own (ids derived from it, so they are not the first key's)
    ids = [[a["command_id"] for a in r.body["accepted"]] for r in (first, again, other)]
    assert ids[0] == ids[1]
    assert not set(ids[0]) & set(ids[2])
    assert len(cancels(exchange)) == 4


def test_cancel_all_with_the_broker_down_is_a_503_and_sends_nothing(exchange: Exchange) -> None:
    place(exchange)
    exchange.sink.fail = True
    reply = cancel_all(exchange)
    assert (reply.status, reply.body["code"]) == (503, "broker_unavailable")
    assert cancels(exchange) == []


def test_cancel_all_stops_at_the_first_failed_publish_and_lists_what_was_not_sent(
    exchange: Exchange,
) -> None:
    # Given three open orders, and a broker that refuses the second cancel
    ids = [place(exchange) for _ in range(3)]
    exchange.sink.script = ["ok", "refused"]
    # When alice cancels all
    reply = cancel_all(exchange)
    # Then the first was sent, the second refused, and the third not even tried
    assert reply.status == 202
    assert [a["order_id"] for a in reply.body["accepted"]] == ids[:1]
    assert [(n["order_id"], n["reason"]) for n in reply.body["not_sent"]] == [
        (ids[1], "broker_unavailable"),
        (ids[2], "not_attempted"),
    ]
    assert [c.order_id for c in cancels(exchange)] == ids[:1]


def test_an_unconfirmed_cancel_is_listed_as_maybe_sent(exchange: Exchange) -> None:
    order_id = place(exchange)
    place(exchange)
    exchange.sink.script = ["ok", "unconfirmed"]
    reply = cancel_all(exchange)
    assert reply.body["accepted"][0]["order_id"] == order_id
    assert reply.body["not_sent"][0]["reason"] == "publish_unconfirmed"


def test_cancel_all_is_bounded_by_the_open_order_cap() -> None:
    # Given an account whose index lists more open orders than the cap (e.g. entries its writer
    # did not remove)
    exchange, _ = bulk_exchange(max_open_orders=3)
    ids = [place(exchange) for _ in range(3)]
    first = exchange.store.orders[(ALICE, ids[0])]
    for suffix in "12":
        extra = replace(first, order_id=first.order_id[:-1] + suffix)
        exchange.store.orders[(ALICE, extra.order_id)] = extra
    # When alice cancels all
    reply = cancel_all(exchange)
    # Then one request cancels no more than the cap, and says there are more
    assert (len(reply.body["accepted"]), len(cancels(exchange))) == (3, 3)
    assert reply.body["truncated"] is True


# --- by client order id -------------------------------------------------------------------------


def test_an_order_reads_back_by_its_client_order_id(exchange: Exchange) -> None:
    order_id = place(exchange, body={**LIMIT_BUY, "client_order_id": "mm-bid-1"})
    reply = exchange.call("GET", "/v1/orders/by-client-id/mm-bid-1", account_id=ALICE)
    assert reply.status == 200
    assert (reply.body["order_id"], reply.body["client_order_id"]) == (order_id, "mm-bid-1")


def test_an_order_without_a_client_order_id_reads_back_by_its_order_id(
    exchange: Exchange,
) -> None:
    order_id = place(exchange)
    reply = exchange.call("GET", f"/v1/orders/by-client-id/{order_id}", account_id=ALICE)
    assert (reply.status, reply.body["order_id"]) == (200, order_id)


def test_an_unknown_or_another_accounts_client_order_id_is_a_404(exchange: Exchange) -> None:
    place(exchange, body={**LIMIT_BUY, "client_order_id": "mine"})
    for account, client_id in ((ALICE, "nobody"), (BOB, "mine")):
        for method in ("GET", "DELETE"):
            reply = exchange.call(
                method, f"/v1/orders/by-client-id/{client_id}", account_id=account
            )
            assert (reply.status, reply.body["code"]) == (404, "order_not_found"), (method, account)
    assert cancels(exchange) == []


def test_a_malformed_client_order_id_is_a_400(exchange: Exchange) -> None:
    reply = exchange.call("GET", "/v1/orders/by-client-id/" + "x" * 65, account_id=ALICE)
    assert (reply.status, reply.body["code"]) == (400, "validation_error")


def test_a_reused_client_order_id_names_the_newest_open_order_else_the_newest(
    exchange: Exchange,
) -> None:
    # Given three orders with one client order id (each sent with its own Idempotency-Key)
    ids = [
        exchange.call(
            "POST",
            "/v1/orders",
            body={**LIMIT_BUY, "client_order_id": "reused"},
            headers={"Idempotency-Key": f"k{n}"},
            account_id=ALICE,
        ).body["order_id"]
        for n in range(3)
    ]

    def named() -> str:
        reply = exchange.call("GET", "/v1/orders/by-client-id/reused", account_id=ALICE)
        return str(reply.body["order_id"])

    # Then it names the newest open one...
    assert named() == ids[2]
    finish(exchange, ALICE, ids[2], OrderStatus.FILLED)
    assert named() == ids[1]
    # ...and, when all have finished, the newest
    finish(exchange, ALICE, ids[1], OrderStatus.CANCELLED)
    finish(exchange, ALICE, ids[0], OrderStatus.CANCELLED)
    assert named() == ids[2]


def test_cancel_by_client_order_id_cancels_the_newest_open_order_with_it(
    exchange: Exchange,
) -> None:
    older, newer = (
        exchange.call(
            "POST",
            "/v1/orders",
            body={**LIMIT_BUY, "client_order_id": "quote"},
            headers={"Idempotency-Key": key},
            account_id=ALICE,
        ).body["order_id"]
        for key in ("a", "b")
    )
    reply = exchange.call("DELETE", "/v1/orders/by-client-id/quote", account_id=ALICE)
    assert (reply.status, reply.body["status"], reply.body["order_id"]) == (
        202,
        "PENDING_CANCEL",
        newer,
    )
    assert [(c.order_id, c.account_id) for c in cancels(exchange)] == [(newer, ALICE)]
    assert older != newer


def test_cancel_by_client_order_id_of_finished_orders_is_a_409(exchange: Exchange) -> None:
    order_id = place(exchange, body={**LIMIT_BUY, "client_order_id": "done"})
    finish(exchange, ALICE, order_id, OrderStatus.FILLED)
    reply = exchange.call("DELETE", "/v1/orders/by-client-id/done", account_id=ALICE)
    assert (reply.status, reply.body["code"]) == (409, "order_not_open")
    assert cancels(exchange) == []


def test_cancel_by_client_order_id_retried_with_a_key_repeats_its_command_id(
    exchange: Exchange,
) -> None:
    place(exchange, body={**LIMIT_BUY, "client_order_id": "q"})
    replies = [
        exchange.call(
            "DELETE",
            "/v1/orders/by-client-id/q",
            headers={"Idempotency-Key": "cancel-q"},
            account_id=ALICE,
        )
        for _ in range(2)
    ]
    assert replies[0].body == replies[1].body
    assert len(cancels(exchange)) == 1  # the retry is answered from the idempotency record


@pytest.mark.parametrize("method", ["PATCH", "DELETE", "PUT"])
def test_other_methods_on_cancel_after_are_405_not_a_bad_order_id(
    exchange: Exchange, method: str
) -> None:
    # API Gateway matches the /v1/orders/cancel-after resource before /v1/orders/{order_id}
    reply = exchange.call(method, "/v1/orders/cancel-after", account_id=ALICE)
    assert (reply.status, reply.headers["Allow"], reply.body["code"]) == (
        405,
        "GET, POST",
        "method_not_allowed",
    )
