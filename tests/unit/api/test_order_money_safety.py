"""Money safety of the orders function, each test named after the attack or fault it stops:
one order and one hold per key whatever fails, holds kept until the engine answers, protected
market and stop orders, no self-trades for ordinary accounts, bounds on prices and notionals, an
atomic open-order cap, and amends that hold their increase before they are sent."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from exchange.domain import (
    AmendOrder,
    CancelOrder,
    Instrument,
    InstrumentCatalog,
    NewOrder,
    OrderStatus,
)
from exchange.settings import OrdersSettings
from lambdas.catalog import FUNCTIONS
from tests.unit.api.conftest import ALICE, LIMIT_BUY, MAKER, Exchange, Reply, make_exchange

Place = Callable[..., Reply]
HOLD = Decimal("32516.25")  # 0.5 BTC at 65,000 plus the 5 bps taker fee
MARKET_BUY: dict[str, Any] = {
    "symbol": "BTC-USD",
    "side": "BUY",
    "order_type": "MARKET",
    "qty": "0.1",
}


def held(exchange: Exchange, asset: str = "USD") -> Decimal:
    return exchange.ledger.held[(ALICE, asset)]


def new_orders(exchange: Exchange) -> list[NewOrder]:
    return [c for c in exchange.sink.commands if isinstance(c, NewOrder)]


# BTC-USD's guards, set here so the tests do not depend on the demo catalog's values.
BTC_GUARDS: dict[str, Any] = {
    "reference_price": "65000",
    "band_min_qty": "0.01",
    "max_price": "650000",
    "max_notional": "10000000",
}


def catalog_with(btc: dict[str, Any] = BTC_GUARDS, **everyone: Any) -> InstrumentCatalog:
    """The demo catalog with ``everyone``'s changes to every instrument and ``btc`` to BTC-USD."""
    instruments = []
    for instrument in InstrumentCatalog.demo():
        fields = {**instrument.model_dump(exclude_none=True), **everyone}
        if instrument.symbol == "BTC-USD":
            fields.update(btc)
        instruments.append(Instrument.model_validate(fields))
    return InstrumentCatalog(instruments)


@pytest.fixture
def exchange() -> Exchange:
    return make_exchange(catalog=catalog_with())


def expire_idempotency_records(exchange: Exchange) -> None:
    """As DynamoDB's TTL does after a day, or the in-progress record of a timed-out invocation."""
    exchange.idempotency.records.clear()


# --- one order per key, whatever fails ----------------------------------------------------------


def test_a_retry_after_the_idempotency_record_expired_resumes_the_same_order(
    exchange: Exchange, place: Place
) -> None:
    # Given an order placed with a key, whose idempotency record has since expired
    first = place(headers={"Idempotency-Key": "k"})
    expire_idempotency_records(exchange)
    # When the client retries with the same key
    again = place(headers={"Idempotency-Key": "k"})
    # Then it is the same order: one row, one hold, and only that order id was ever published
    assert (first.status, again.status) == (202, 202)
    assert again.body["order_id"] == first.body["order_id"]
    assert len(exchange.store.orders) == len(exchange.ledger.holds) == 1
    assert held(exchange) == HOLD
    assert {c.order_id for c in new_orders(exchange)} == {first.body["order_id"]}
    assert exchange.keys.open_orders[ALICE] == 1


def test_a_retry_after_the_first_attempt_died_before_recording_resumes_it(
    exchange: Exchange, place: Place
) -> None:
    # Given a first attempt that reserved the funds, then could not record the order
    exchange.store.fail_writes = True
    first = place(headers={"Idempotency-Key": "k"})
    assert (first.status, first.body["code"]) == (503, "store_unavailable")
    assert held(exchange) == HOLD  # the hold is kept: only the engine's answer releases it
    # When the client retries once the store is back
    exchange.store.fail_writes = False
    again = place(headers={"Idempotency-Key": "k"})
    # Then the retry resumes the claimed order: one row, one hold, one order id
    [claim] = exchange.keys.claims.values()
    assert again.status == 202
    assert again.body["order_id"] == claim.order_id
    assert len(exchange.store.orders) == len(exchange.ledger.holds) == 1
    assert held(exchange) == HOLD


def test_the_same_key_with_another_body_after_expiry_is_a_409(
    exchange: Exchange, place: Place
) -> None:
    place(headers={"Idempotency-Key": "k"})
    expire_idempotency_records(exchange)
    reply = place({**LIMIT_BUY, "qty": "0.6"}, headers={"Idempotency-Key": "k"})
    assert (reply.status, reply.body["code"]) == (409, "idempotency_conflict")
    assert len(exchange.store.orders) == len(exchange.ledger.holds) == len(exchange.sink.commands)
    assert held(exchange) == HOLD


def test_a_key_reused_after_its_order_finished_answers_that_order(
    exchange: Exchange, place: Place
) -> None:
    # Given an order the engine filled, and an expired idempotency record
    order_id = place(headers={"Idempotency-Key": "k"}).body["order_id"]
    exchange.store.set_status(ALICE, order_id, OrderStatus.FILLED)
    expire_idempotency_records(exchange)
    # When the key comes again
    reply = place(headers={"Idempotency-Key": "k"})
    # Then it answers that order as it is, and publishes and holds nothing more
    assert (reply.status, reply.body["order_id"], reply.body["status"]) == (202, order_id, "FILLED")
    assert len(exchange.sink.commands) == len(exchange.ledger.holds) == 1


def test_a_definite_ledger_refusal_frees_the_key_and_the_open_order_slot(
    exchange: Exchange, place: Place
) -> None:
    # Given a placement the ledger refuses (nothing is held)
    poor = {**LIMIT_BUY, "qty": "99"}
    refused = place(poor, headers={"Idempotency-Key": "k"})
    assert (refused.status, refused.body["code"]) == (422, "insufficient_funds")
    # Then neither the key nor a slot stays taken, and a retry once funded is a fresh placement
    assert exchange.keys.claims == {}
    assert exchange.keys.open_orders[ALICE] == 0
    exchange.ledger.fund(ALICE, "USD", Decimal("10000000"))
    assert place(poor, headers={"Idempotency-Key": "k"}).status == 202


# --- an ambiguous publish is not a failure ------------------------------------------------------


@pytest.mark.parametrize("fault", ["unconfirmed", "lost"])
def test_a_lost_confirm_keeps_the_order_pending_with_its_hold_and_cancels_it(
    exchange: Exchange, place: Place, fault: str
) -> None:
    # Given a publish whose confirm never comes (the command may or may not be queued)
    exchange.sink.script = [fault, "ok"]
    # When alice places an order
    reply = place(headers={"Idempotency-Key": "k"})
    # Then it is accepted as PENDING_NEW, keeps its hold, and a cancel for the same id follows
    assert (reply.status, reply.body["status"]) == (202, "PENDING_NEW")
    order_id = reply.body["order_id"]
    assert exchange.store.orders[(ALICE, order_id)].status is OrderStatus.PENDING_NEW
    assert held(exchange) == HOLD
    [cancel] = [c for c in exchange.sink.commands if isinstance(c, CancelOrder)]
    assert (cancel.order_id, cancel.account_id) == (order_id, ALICE)


def test_a_broker_outage_keeps_the_order_pending_and_a_retry_resumes_it(
    exchange: Exchange, place: Place
) -> None:
    # Given a broker that takes nothing, neither the order nor its cancel
    exchange.sink.fail = True
    down = place(headers={"Idempotency-Key": "k"})
    # Then 503, and the order is kept PENDING_NEW with its hold (never REJECTED by the API)
    assert (down.status, down.body["code"]) == (503, "broker_unavailable")
    [order] = exchange.store.orders.values()
    assert order.status is OrderStatus.PENDING_NEW
    assert held(exchange) == HOLD
    # When the client retries once the broker is back
    exchange.sink.fail = False
    again = place(headers={"Idempotency-Key": "k"})
    # Then the same order is published: one row, one hold, one slot
    assert (again.status, again.body["order_id"]) == (202, order.order_id)
    assert [c.order_id for c in exchange.sink.commands if isinstance(c, NewOrder)] == [
        order.order_id
    ]
    assert len(exchange.sink.commands) == 1
    assert len(exchange.ledger.holds) == 1
    assert exchange.keys.open_orders[ALICE] == 1


# --- protected market and stop orders -----------------------------------------------------------


def test_a_market_buy_is_protected_at_the_band_above_the_last_trade(
    exchange: Exchange, place: Place
) -> None:
    exchange.store.trade_rows["BTC-USD"] = [("60000.00", "0.5")]
    buy = place(MARKET_BUY)
    sell = place({**MARKET_BUY, "side": "SELL"})
    assert (buy.status, sell.status) == (202, 202)
    [bought, sold] = new_orders(exchange)
    assert (bought.protection_price, sold.protection_price) == (6_600_000, 5_400_000)  # +-10%


def test_a_market_buy_holds_its_funds_at_its_protection_price(
    exchange: Exchange, place: Place
) -> None:
    exchange.store.trade_rows["BTC-USD"] = [("60000.00", "0.5")]
    assert place(MARKET_BUY).status == 202
    assert held(exchange) == Decimal("6603.30")  # 0.1 x 66,000 plus the 5 bps taker fee


def test_single_lot_trades_do_not_walk_the_protection_reference(
    exchange: Exchange, place: Place
) -> None:
    # Given a real trade at 60,000, then a one-lot print far above (below band_min_qty)
    exchange.store.trade_rows["BTC-USD"] = [("60000.00", "0.5"), ("65990.00", "0.0001")]
    place(MARKET_BUY)
    [order] = new_orders(exchange)
    assert order.protection_price == 6_600_000


def test_before_any_trade_the_instruments_reference_price_protects(
    exchange: Exchange, place: Place
) -> None:
    place(MARKET_BUY)
    [order] = new_orders(exchange)
    assert order.protection_price == 7_150_000  # 65,000 + 10%


def test_a_market_order_with_no_reference_at_all_is_a_422() -> None:
    exchange = make_exchange(catalog=catalog_with({**BTC_GUARDS, "reference_price": None}))
    reply = exchange.call("POST", "/v1/orders", body=MARKET_BUY, account_id=ALICE)
    assert (reply.status, reply.body["code"]) == (422, "no_reference_price")
    assert exchange.store.orders == {}
    assert exchange.ledger.holds == {}
    assert exchange.keys.open_orders[ALICE] == 0


def test_a_stop_buy_is_protected_above_its_stop(exchange: Exchange, place: Place) -> None:
    # A stop triggers at its stop price, so it is protected around that, not the last trade
    exchange.store.trade_rows["BTC-USD"] = [("60000.00", "0.5")]
    stop = {**MARKET_BUY, "order_type": "STOP", "stop_price": "70000.00"}
    assert place(stop).status == 202
    [order] = new_orders(exchange)
    assert order.protection_price == 7_700_000


def test_limit_orders_carry_no_protection_price(exchange: Exchange, place: Place) -> None:
    place()
    [order] = new_orders(exchange)
    assert order.protection_price is None


# --- fair prices --------------------------------------------------------------------------------


def test_an_ordinary_account_may_not_switch_off_self_trade_prevention(
    exchange: Exchange, place: Place
) -> None:
    reply = place({**LIMIT_BUY, "stp": "NONE"})
    assert (reply.status, reply.body["code"]) == (422, "stp_not_allowed")
    assert exchange.store.orders == {}
    assert exchange.ledger.holds == {}
    maker = place({**LIMIT_BUY, "stp": "NONE"}, account=MAKER)
    assert maker.status == 202


# --- edges: bounds, huge numbers, the open-order cap --------------------------------------------

OVER_MAX: list[tuple[str, dict[str, Any], str]] = [
    ("price above max_price", {**LIMIT_BUY, "price": "650000.01"}, "price_above_max"),
    (
        "stop above max_price",
        {**LIMIT_BUY, "order_type": "STOP_LIMIT", "stop_price": "700000.00"},
        "price_above_max",
    ),
    ("notional above max", {**LIMIT_BUY, "qty": "100", "price": "600000.00"}, "notional_above_max"),
]


@pytest.mark.parametrize(("case", "body", "code"), OVER_MAX, ids=[c[0] for c in OVER_MAX])
def test_prices_and_notionals_beyond_the_instruments_maxima_are_422(
    exchange: Exchange, case: str, body: dict[str, Any], code: str
) -> None:
    reply = exchange.call("POST", "/v1/orders", body=body, account_id=ALICE)
    assert (reply.status, reply.body["code"]) == (422, code)
    assert exchange.store.orders == {}
    assert exchange.ledger.holds == {}
    assert exchange.sink.commands == []


def test_a_market_order_whose_protected_notional_is_above_max_is_a_422() -> None:
    exchange = make_exchange(catalog=catalog_with({**BTC_GUARDS, "max_notional": "1000000"}))
    reply = exchange.call(
        "POST", "/v1/orders", body={**MARKET_BUY, "qty": "20"}, account_id=ALICE
    )  # 20 x 71,500 = 1.43M
    assert (reply.status, reply.body["code"]) == (422, "notional_above_max")
    assert exchange.store.orders == {}
    assert exchange.ledger.holds == {}


HUGE = [
    ("1e17", "BTC-USD", "100000000000000000", "1"),
    ("2^64 ticks", "BTC-USD", "184467440737095516.16", "1"),
    ("30 digits", "BTC-USD", "999999999999999999999999999999", "1"),
    ("notional beyond the ledger's numeric(38,18)", "SOL-USD", "9000000000000000.000", "50000"),
]


@pytest.mark.parametrize("side", ["BUY", "SELL"])
@pytest.mark.parametrize(("case", "symbol", "price", "qty"), HUGE, ids=[h[0] for h in HUGE])
def test_a_huge_price_is_a_4xx_never_a_5xx_even_without_maxima(
    case: str, symbol: str, price: str, qty: str, side: str
) -> None:
    # Given instruments with no max_price or max_notional: only the types bound a price
    exchange = make_exchange(catalog=catalog_with({}, max_price=None, max_notional=None))
    exchange.ledger.fund(ALICE, "SOL", Decimal("100000"))
    body = {"symbol": symbol, "side": side, "order_type": "LIMIT", "qty": qty, "price": price}
    reply = exchange.call("POST", "/v1/orders", body=body, account_id=ALICE)
    assert 400 <= reply.status < 500, reply.body
    assert reply.body["code"] in {"price_above_max", "notional_above_max"}
    assert exchange.store.orders == {}
    assert exchange.ledger.holds == {}
    assert exchange.sink.commands == []


def test_a_refused_placement_gives_its_open_order_slot_back() -> None:
    # Given a cap of one, and a first placement the ledger refuses
    exchange = make_exchange(max_open_orders=1, catalog=catalog_with())
    poor = exchange.call("POST", "/v1/orders", body={**LIMIT_BUY, "qty": "99"}, account_id=ALICE)
    assert poor.body["code"] == "insufficient_funds"
    # Then the slot is free again for the next order, and the one after is over the cap
    assert exchange.call("POST", "/v1/orders", body=LIMIT_BUY, account_id=ALICE).status == 202
    over = exchange.call("POST", "/v1/orders", body=LIMIT_BUY, account_id=ALICE)
    assert (over.status, over.body["code"]) == (422, "too_many_open_orders")


# --- amends hold their increase before they are sent --------------------------------------------


def test_an_amend_beyond_the_funds_is_a_422_and_publishes_nothing(
    exchange: Exchange, place: Place
) -> None:
    # Given an order, and no funds left
    order_id = place().body["order_id"]
    exchange.ledger.available[(ALICE, "USD")] = Decimal(0)
    # When alice amends it to twice the quantity
    reply = exchange.call("PATCH", f"/v1/orders/{order_id}", body={"qty": "1"}, account_id=ALICE)
    # Then it is refused, and only the NewOrder ever went to the engine
    assert (reply.status, reply.body["code"]) == (422, "insufficient_funds")
    assert reply.is_problem
    assert [type(c) for c in exchange.sink.commands] == [NewOrder]


def test_an_amend_holds_its_increase_before_it_is_published(
    exchange: Exchange, place: Place
) -> None:
    order_id = place().body["order_id"]
    reply = exchange.call("PATCH", f"/v1/orders/{order_id}", body={"qty": "1"}, account_id=ALICE)
    assert reply.status == 202
    assert held(exchange) == 2 * HOLD
    assert [type(c) for c in exchange.sink.commands] == [NewOrder, AmendOrder]


def test_an_amend_above_max_price_is_a_422(exchange: Exchange, place: Place) -> None:
    order_id = place().body["order_id"]
    reply = exchange.call(
        "PATCH", f"/v1/orders/{order_id}", body={"price": "650000.01"}, account_id=ALICE
    )
    assert (reply.status, reply.body["code"]) == (422, "price_above_max")
    assert [type(c) for c in exchange.sink.commands] == [NewOrder]


def test_an_unconfirmed_order_and_its_cancel_fit_inside_the_function_timeout() -> None:
    # Two publish deadlines (the order's, then its cancel's) and room for the rest; else Lambda
    # kills the function mid-placement, which the placement survives but the client sees as a 5xx
    settings = OrdersSettings()
    assert 2 * settings.publish_timeout_seconds + 3 <= FUNCTIONS["orders"].timeout_seconds


def test_market_makers_are_named_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_MARKET_MAKER_ACCOUNTS", '["mm-1", "mm-2"]')
    assert OrdersSettings().market_maker_accounts == ["mm-1", "mm-2"]
