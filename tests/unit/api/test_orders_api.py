"""The orders function through API Gateway proxy events, over in-memory fakes."""

import base64
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from exchange.domain import AmendOrder, CancelOrder, NewOrder, OrderStatus
from tests.unit.api.conftest import ALICE, BOB, LIMIT_BUY, Exchange, Reply, make_exchange

Place = Callable[..., Reply]


def held(exchange: Exchange, asset: str = "USD", account: str = ALICE) -> Decimal:
    return exchange.ledger.held[(account, asset)]


def test_place_answers_202_pending_new_and_reserves_records_and_publishes(
    exchange: Exchange, place: Place
) -> None:
    # When alice places a limit buy of 0.5 BTC at 65,000
    reply = place()
    # Then it is accepted, and the hold, the record and the command all name the same order
    assert reply.status == 202
    assert reply.body["status"] == "PENDING_NEW"
    order_id = reply.body["order_id"]
    assert held(exchange) == Decimal("32516.25")  # 32,500 notional + 5 bps taker fee
    assert exchange.store.orders[(ALICE, order_id)].status is OrderStatus.PENDING_NEW
    [command] = exchange.sink.commands
    assert isinstance(command, NewOrder)
    assert (command.order_id, command.account_id, command.qty, command.price) == (
        order_id,
        ALICE,
        5000,
        6500000,
    )


def test_order_reads_back_with_exact_decimal_strings(place: Place, exchange: Exchange) -> None:
    order_id = place().body["order_id"]
    reply = exchange.call("GET", f"/v1/orders/{order_id}", account_id=ALICE)
    assert reply.status == 200
    assert (reply.body["qty"], reply.body["price"], reply.body["status"]) == (
        "0.5",
        "65000.00",
        "PENDING_NEW",
    )


def test_another_accounts_order_answers_404_like_a_missing_one(
    place: Place, exchange: Exchange
) -> None:
    # Given alice's order
    order_id = place().body["order_id"]
    missing = "01HF7YAT000000000000000000"
    # When bob reads, amends or cancels it, and reads an id that does not exist
    answers = [
        exchange.call("GET", f"/v1/orders/{order_id}", account_id=BOB),
        exchange.call("DELETE", f"/v1/orders/{order_id}", account_id=BOB),
        exchange.call("PATCH", f"/v1/orders/{order_id}", body={"qty": "0.1"}, account_id=BOB),
        exchange.call("GET", f"/v1/orders/{missing}", account_id=BOB),
    ]
    # Then every answer is the same 404, and nothing was published for bob
    assert {(a.status, a.body["code"]) for a in answers} == {(404, "order_not_found")}
    assert all(a.is_problem for a in answers)
    assert len(exchange.sink.commands) == 1


def test_amend_and_cancel_publish_commands_with_the_same_id_on_retry(
    place: Place, exchange: Exchange
) -> None:
    order_id = place().body["order_id"]
    key = {"Idempotency-Key": "amend-1"}
    amend = [
        exchange.call(
            "PATCH",
            f"/v1/orders/{order_id}",
            body={"price": "64000.00"},
            account_id=ALICE,
            headers=key,
        )
        for _ in range(2)
    ]
    cancel = exchange.call("DELETE", f"/v1/orders/{order_id}", account_id=ALICE)
    assert [a.status for a in amend] == [202, 202]
    assert amend[0].body == amend[1].body
    assert cancel.status == 202
    assert cancel.body["status"] == "PENDING_CANCEL"
    kinds = [type(c) for c in exchange.sink.commands]
    # The retry returned the stored answer: one amend published, then the cancel
    assert kinds == [NewOrder, AmendOrder, CancelOrder]
    amended = exchange.sink.commands[1]
    assert isinstance(amended, AmendOrder)
    assert (amended.price, amended.command_id) == (6400000, amend[0].body["command_id"])


def test_cancel_of_a_final_order_is_a_409(place: Place, exchange: Exchange) -> None:
    order_id = place().body["order_id"]
    exchange.store.set_status(ALICE, order_id, OrderStatus.REJECTED)
    reply = exchange.call("DELETE", f"/v1/orders/{order_id}", account_id=ALICE)
    assert (reply.status, reply.body["code"]) == (409, "order_not_open")


def test_idempotent_retry_gives_one_order_and_one_reservation(
    place: Place, exchange: Exchange
) -> None:
    # Given the same key twice, first in the header then by client order id alone
    first = place(headers={"Idempotency-Key": "retry-1"})
    again = place(headers={"idempotency-key": "retry-1"})
    by_client_id = [place({**LIMIT_BUY, "client_order_id": "c-42"}) for _ in range(2)]
    # Then each retry answers exactly the first answer
    assert first.status == again.status == 202
    assert first.body == again.body
    assert by_client_id[0].body == by_client_id[1].body
    assert by_client_id[0].body["client_order_id"] == "c-42"
    # And there are two orders, two holds and two commands, not four
    assert len(exchange.store.orders) == len(exchange.ledger.holds) == 2
    assert len(exchange.sink.commands) == 2
    assert held(exchange) == 2 * Decimal("32516.25")


def test_same_key_with_a_different_body_is_a_409(place: Place, exchange: Exchange) -> None:
    place(headers={"Idempotency-Key": "k"})
    reply = place({**LIMIT_BUY, "qty": "0.6"}, headers={"Idempotency-Key": "k"})
    assert (reply.status, reply.body["code"]) == (409, "idempotency_conflict")
    assert len(exchange.store.orders) == 1


def test_the_same_key_of_two_accounts_makes_two_orders(place: Place, exchange: Exchange) -> None:
    a = place(headers={"Idempotency-Key": "shared"})
    b = place(account=BOB, headers={"Idempotency-Key": "shared"})
    assert a.body["order_id"] != b.body["order_id"]


def test_a_publish_failure_keeps_the_order_pending_with_its_hold(
    place: Place, exchange: Exchange
) -> None:
    # Given a broker that takes nothing (neither the order nor its cancel)
    exchange.sink.fail = True
    # When alice places an order without a key
    reply = place()
    # Then 503 problem naming the order, which is kept PENDING_NEW with its hold: only the
    # engine's answer (or the reconciler) settles it, never the API
    assert (reply.status, reply.body["code"]) == (503, "broker_unavailable")
    assert reply.is_problem
    [order] = exchange.store.orders.values()
    assert order.order_id in reply.body["detail"]
    assert order.status is OrderStatus.PENDING_NEW
    assert held(exchange) == Decimal("32516.25")


def test_a_store_failure_keeps_the_hold_and_publishes_nothing(
    place: Place, exchange: Exchange
) -> None:
    exchange.store.fail_writes = True
    reply = place()
    assert (reply.status, reply.body["code"]) == (503, "store_unavailable")
    assert held(exchange) == Decimal("32516.25")
    assert exchange.sink.commands == []


def test_open_orders_are_capped_per_account() -> None:
    # Given a cap of 2
    exchange = make_exchange(max_open_orders=2)
    answers = [
        exchange.call("POST", "/v1/orders", body=LIMIT_BUY, account_id=ALICE) for _ in range(3)
    ]
    # Then the third is refused with a clear error, and bob is not affected
    assert [a.status for a in answers] == [202, 202, 422]
    assert answers[2].body["code"] == "too_many_open_orders"
    assert exchange.call("POST", "/v1/orders", body=LIMIT_BUY, account_id=BOB).status == 202


def test_insufficient_funds_and_kyc_are_refused_without_writes(exchange: Exchange) -> None:
    exchange.ledger.open_account("carol")  # KYC pending, no money
    huge = {**LIMIT_BUY, "qty": "99"}
    rich = exchange.call("POST", "/v1/orders", body=huge, account_id=ALICE)
    pending = exchange.call("POST", "/v1/orders", body=LIMIT_BUY, account_id="carol")
    assert (rich.status, rich.body["code"]) == (422, "insufficient_funds")
    assert (pending.status, pending.body["code"]) == (403, "kyc_not_allowed")
    assert exchange.store.orders == {}
    assert exchange.sink.commands == []


BAD_BODIES: list[tuple[str, Any, str]] = [
    ("malformed JSON", '{"symbol": "BTC-USD",', "validation_error"),
    ("JSON array", "[1, 2]", "validation_error"),
    ("unknown field", {**LIMIT_BUY, "leverage": "10"}, "validation_error"),
    ("qty as a JSON number", {**LIMIT_BUY, "qty": 0.5}, "validation_error"),
    ("price as a JSON number", {**LIMIT_BUY, "price": 65000}, "validation_error"),
    ("post_only as a string", {**LIMIT_BUY, "post_only": "yes"}, "validation_error"),
    ("negative qty", {**LIMIT_BUY, "qty": "-1"}, "validation_error"),
    ("exponent qty", {**LIMIT_BUY, "qty": "1e3"}, "validation_error"),
    ("NaN qty", {**LIMIT_BUY, "qty": "NaN"}, "validation_error"),
    ("zero qty", {**LIMIT_BUY, "qty": "0"}, "invalid_quantity"),
    ("huge qty", {**LIMIT_BUY, "qty": "99999999999999999999"}, "quantity_out_of_range"),
    ("qty below the minimum", {**LIMIT_BUY, "qty": "0.00001"}, "off_lot"),
    ("off-lot qty", {**LIMIT_BUY, "qty": "0.00015"}, "off_lot"),
    ("off-tick price", {**LIMIT_BUY, "price": "65000.001"}, "off_tick"),
    ("zero price", {**LIMIT_BUY, "price": "0"}, "invalid_price"),
    ("unknown symbol", {**LIMIT_BUY, "symbol": "DOGE-USD"}, "unknown_instrument"),
    ("lower-case symbol", {**LIMIT_BUY, "symbol": "btc-usd"}, "validation_error"),
    ("limit without price", {k: v for k, v in LIMIT_BUY.items() if k != "price"}, "invalid_order"),
    ("market with price", {**LIMIT_BUY, "order_type": "MARKET"}, "invalid_order"),
    ("stop without stop_price", {**LIMIT_BUY, "order_type": "STOP_LIMIT"}, "invalid_order"),
    ("post-only IOC", {**LIMIT_BUY, "post_only": True, "tif": "IOC"}, "invalid_order"),
    ("unknown side", {**LIMIT_BUY, "side": "HOLD"}, "validation_error"),
    ("duplicate key", '{"symbol":"BTC-USD","symbol":"ETH-USD"}', "validation_error"),
    ("deep nesting", "[" * 5000 + "]" * 5000, "validation_error"),
    ("a 5000-digit integer", '{"qty": ' + "9" * 5000 + "}", "validation_error"),
    ("bad client order id", {**LIMIT_BUY, "client_order_id": "a/b"}, "validation_error"),
]


@pytest.mark.parametrize(("case", "body", "code"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_order_input_is_a_4xx_problem_and_writes_nothing(
    exchange: Exchange, case: str, body: Any, code: str
) -> None:
    reply = exchange.call("POST", "/v1/orders", body=body, account_id=ALICE)
    assert 400 <= reply.status < 500, reply.body
    assert reply.is_problem
    assert reply.body["code"] == code
    if code == "validation_error":
        assert reply.body["errors"], "validation problems name the offending fields"
    assert exchange.store.orders == {}
    assert exchange.ledger.holds == {}


def test_validation_problem_names_each_offending_field(exchange: Exchange) -> None:
    body = {**LIMIT_BUY, "qty": 1, "extra": True}
    reply = exchange.call("POST", "/v1/orders", body=body, account_id=ALICE)
    assert {e["field"] for e in reply.body["errors"]} == {"body.qty", "body.extra"}


def test_oversized_body_is_a_413(exchange: Exchange) -> None:
    reply = exchange.call(
        "POST", "/v1/orders", body={**LIMIT_BUY, "pad": "x" * 20_000}, account_id=ALICE
    )
    assert (reply.status, reply.body["code"]) == (413, "payload_too_large")
    assert reply.is_problem


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"Content-Type": "text/plain"}, "qty=1", 415),
        ({"Content-Type": "multipart/form-data"}, "--x", 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "qty=1", 415),
    ],
)
def test_non_json_bodies_are_refused(
    exchange: Exchange, headers: dict[str, str], body: str, status: int
) -> None:
    reply = exchange.call("POST", "/v1/orders", body=body, headers=headers, account_id=ALICE)
    assert reply.status == status
    assert reply.is_problem


def test_base64_bodies_are_decoded_and_bad_base64_is_a_400(exchange: Exchange) -> None:
    good = exchange.call("POST", "/v1/orders", body=b'{"symbol": "BTC-USD"}', account_id=ALICE)
    bad = exchange.call(
        "POST", "/v1/orders", body="not base64!", base64_body=True, account_id=ALICE
    )
    not_utf8 = exchange.call(
        "POST",
        "/v1/orders",
        body=base64.b64encode(b"\xff\xfe").decode(),
        base64_body=True,
        account_id=ALICE,
    )
    assert (good.status, good.body["code"]) == (400, "validation_error")  # fields missing
    assert (bad.status, bad.body["code"]) == (400, "malformed_request")
    assert (not_utf8.status, not_utf8.body["code"]) == (400, "malformed_request")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/orders/../../etc/passwd",
        "/v1/orders/01HF7YAT000000000000000000/extra",
        "/v1/orders/01HF7YAT00000000000000000.",
        "/v1/orders/%2E%2E%2Fsecrets",
        "/v1/orders/ÖRDER",
        "/v1/orders/" + "A" * 5000,
        "/v1/orders/01hf7yat000000000000000000",
        "/v1/orders/<script>",
    ],
)
def test_path_injection_is_a_400_or_404_problem(exchange: Exchange, path: str) -> None:
    reply = exchange.call("GET", path, account_id=ALICE)
    assert reply.status in {400, 404}
    assert reply.is_problem


def test_no_identity_is_a_401(exchange: Exchange) -> None:
    reply = exchange.call("GET", "/v1/orders")
    weird = exchange.call("GET", "/v1/orders", claims={"sub": "a b/../c"})
    assert (reply.status, reply.body["code"]) == (401, "unauthorized")
    assert weird.status == 401


def test_every_response_carries_the_security_headers(place: Place, exchange: Exchange) -> None:
    replies = [place(), place({"bad": 1}), exchange.call("GET", "/nope", account_id=ALICE)]
    for reply in replies:
        assert reply.headers["Strict-Transport-Security"].startswith("max-age=")
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in reply.headers["Content-Security-Policy"]
        assert reply.headers["Cache-Control"] == "no-store"


def test_listing_pages_newest_first_and_filters_by_symbol_and_status(
    place: Place, exchange: Exchange
) -> None:
    # Given five BTC orders and one ETH order, one of the BTC ones rejected
    ids = [place().body["order_id"] for _ in range(5)]
    eth = place({**LIMIT_BUY, "symbol": "ETH-USD", "qty": "1", "price": "3000.00"})
    exchange.store.set_status(ALICE, ids[0], OrderStatus.REJECTED)
    # When paging all orders two at a time
    seen, cursor = [], None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = exchange.call("GET", "/v1/orders", query=query, account_id=ALICE).body
        seen += [o["order_id"] for o in page["orders"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # Then every order comes once, newest first
    assert seen == sorted([*ids, eth.body["order_id"]], reverse=True)
    btc_pending = exchange.call(
        "GET", "/v1/orders", query={"symbol": "BTC-USD", "status": "PENDING_NEW"}, account_id=ALICE
    ).body["orders"]
    assert [o["order_id"] for o in btc_pending] == sorted(ids[1:], reverse=True)
    rejected = exchange.call("GET", "/v1/orders", query={"status": "REJECTED"}, account_id=ALICE)
    assert [o["order_id"] for o in rejected.body["orders"]] == [ids[0]]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        base64.urlsafe_b64encode(b'{"v":1,"k":{"account_id":"bob-sub","order_id":"x"}}').decode(),
        base64.urlsafe_b64encode(b'{"v":1,"k":{"account_id":"alice-sub"}}').decode(),
        base64.urlsafe_b64encode(b'{"v":1,"k":{"account_id":"alice-sub","order_id":[1]}}').decode(),
        base64.urlsafe_b64encode(b'{"v":2}').decode(),
    ],
)
def test_a_tampered_cursor_is_a_400(place: Place, exchange: Exchange, cursor: str) -> None:
    place()
    reply = exchange.call(
        "GET", "/v1/orders", query={"cursor": cursor.rstrip("=")}, account_id=ALICE
    )
    assert reply.status == 400
    assert reply.is_problem


def test_rejections_are_counted_by_reason(
    exchange: Exchange, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange.call("POST", "/v1/orders", body={**LIMIT_BUY, "price": "1.001"}, account_id=ALICE)
    out = capsys.readouterr().out
    assert '"OrdersRejected"' in out
    assert '"reason":"off_tick"' in out


@pytest.mark.parametrize("query", [{"symbl": "BTC-USD"}, {"": "false"}])
def test_an_unknown_query_parameter_is_a_400(exchange: Exchange, query: dict[str, str]) -> None:
    # As an unknown body field: a typo must not pass for a filter that was applied
    reply = exchange.call("GET", "/v1/orders", query=query, account_id=ALICE)
    assert (reply.status, reply.body["code"]) == (400, "validation_error")
    assert reply.body["errors"][0]["field"].startswith("query.")
    markets = exchange.call("GET", "/v1/markets", query={"x": "1"})
    assert markets.status == 400
