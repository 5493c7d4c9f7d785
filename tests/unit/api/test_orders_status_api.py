"""The orders API and the operators' controls: a symbol's trading status refuses orders and
amends early with a 409 that names it (cancels always pass), a frozen account gets 403
account_frozen, and a refusal writes nothing: no order, no hold, no slot, no command."""

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from exchange.domain import (
    AmendOrder,
    CancelOrder,
    InstrumentCatalog,
    InstrumentStatus,
    NewOrder,
    OrderStatus,
)
from exchange.instruments.live import LiveCatalog
from exchange.instruments.store import InMemoryInstrumentStore
from exchange.messaging import ShardMap
from tests.unit.api.conftest import ALICE, LIMIT_BUY, Exchange, Reply, make_exchange

TRADING, POST_ONLY = InstrumentStatus.TRADING, InstrumentStatus.POST_ONLY
CANCEL_ONLY, HALTED = InstrumentStatus.CANCEL_ONLY, InstrumentStatus.HALTED
DELISTED = InstrumentStatus.DELISTED


class Market:
    """The API over a live catalog whose store an operator's status changes reach."""

    def __init__(self) -> None:
        self.store = InMemoryInstrumentStore(clock=lambda: 1)
        self.store.seed(InstrumentCatalog.demo(), ShardMap.demo(), now_ns=1)
        catalog = LiveCatalog(self.store, InstrumentCatalog.demo(), shards=ShardMap.demo(), ttl_s=0)
        self.exchange = make_exchange(catalog=catalog)
        self.seq = 0

    def set_status(self, status: InstrumentStatus) -> None:
        """What the recorder writes when the engine journals ``SetTradingStatus``."""
        self.seq += 1
        assert self.store.set_status("BTC-USD", status, self.seq)

    def place(self, body: dict[str, Any] | None = None, **kwargs: Any) -> Reply:
        return self.exchange.call(
            "POST", "/v1/orders", body=body or dict(LIMIT_BUY), account_id=ALICE, **kwargs
        )

    def amend(self, order_id: str, **body: str) -> Reply:
        return self.exchange.call("PATCH", f"/v1/orders/{order_id}", body=body, account_id=ALICE)

    def cancel(self, order_id: str) -> Reply:
        return self.exchange.call("DELETE", f"/v1/orders/{order_id}", account_id=ALICE)


def nothing_written(exchange: Exchange) -> None:
    assert exchange.store.orders == {}
    assert exchange.ledger.holds == {}
    assert exchange.ledger.held[(ALICE, "USD")] == 0
    assert exchange.keys.open_orders[ALICE] == 0
    assert exchange.keys.claims == {}
    assert exchange.sink.commands == []


@pytest.fixture
def market() -> Market:
    return Market()


MARKET_BUY = {"symbol": "BTC-USD", "side": "BUY", "order_type": "MARKET", "qty": "0.1"}
STOP_LIMIT = {**LIMIT_BUY, "order_type": "STOP_LIMIT", "stop_price": "66000.00"}


@pytest.mark.parametrize(
    ("status", "body", "code", "http"),
    [
        (HALTED, LIMIT_BUY, "symbol_halted", 409),
        (CANCEL_ONLY, LIMIT_BUY, "symbol_cancel_only", 409),
        (POST_ONLY, MARKET_BUY, "symbol_post_only", 409),
        (POST_ONLY, {**LIMIT_BUY, "tif": "IOC"}, "symbol_post_only", 409),
        (POST_ONLY, {**LIMIT_BUY, "tif": "FOK"}, "symbol_post_only", 409),
        (POST_ONLY, STOP_LIMIT, "symbol_post_only", 409),
        (DELISTED, LIMIT_BUY, "instrument_not_trading", 422),
    ],
)
def test_a_status_that_refuses_the_order_answers_before_anything_is_written(
    market: Market, status: InstrumentStatus, body: dict[str, str], code: str, http: int
) -> None:
    # Given an operator set BTC-USD's status
    market.set_status(status)
    # When alice places an order the status does not allow, with or without a key
    replies = [market.place(dict(body)), market.place(dict(body), headers={"Idempotency-Key": "k"})]
    # Then each is refused with the problem naming the status, and nothing was written
    for reply in replies:
        assert reply.is_problem
        assert (reply.status, reply.body["code"]) == (http, code)
        assert reply.body["type"] == f"urn:exchange:problem:{code}"
        assert status.value in reply.body["detail"]
    nothing_written(market.exchange)


@pytest.mark.parametrize("status", [TRADING, POST_ONLY])
def test_a_resting_limit_order_goes_to_the_engine_while_trading_or_post_only(
    market: Market, status: InstrumentStatus
) -> None:
    # Given the status (whether a limit crosses in POST_ONLY is the engine's to say)
    market.set_status(status)
    # When alice places a GTC limit order
    reply = market.place()
    # Then it is accepted and handed on
    assert reply.status == 202
    [command] = market.exchange.sink.commands
    assert isinstance(command, NewOrder)


def test_resuming_trading_takes_orders_again(market: Market) -> None:
    market.set_status(HALTED)
    assert market.place().status == 409
    market.set_status(TRADING)
    assert market.place().status == 202


def amends(market: Market) -> list[AmendOrder]:
    return [c for c in market.exchange.sink.commands if isinstance(c, AmendOrder)]


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (HALTED, {"qty": "0.4"}, "symbol_halted"),
        (CANCEL_ONLY, {"qty": "0.6"}, "symbol_cancel_only"),  # more
        (CANCEL_ONLY, {"qty": "0.5"}, "symbol_cancel_only"),  # the same
        (CANCEL_ONLY, {"price": "64000.00"}, "symbol_cancel_only"),
        (CANCEL_ONLY, {"price": "64000.00", "qty": "0.4"}, "symbol_cancel_only"),
        (DELISTED, {"qty": "0.4"}, "instrument_not_trading"),
    ],
)
def test_a_status_refuses_amends_it_does_not_allow_and_holds_nothing_more(
    market: Market, status: InstrumentStatus, body: dict[str, str], code: str
) -> None:
    # Given alice's open order of 0.5 at 65,000, then the operator's status
    order_id = market.place().body["order_id"]
    held = market.exchange.ledger.held[(ALICE, "USD")]
    market.set_status(status)
    # When she amends it as the status does not allow
    reply = market.amend(order_id, **body)
    # Then it is refused with the status's problem; nothing more held, nothing sent
    assert (reply.status // 100, reply.body["code"]) == (4, code)
    assert market.exchange.ledger.held[(ALICE, "USD")] == held
    assert market.exchange.ledger.amend_holds == {}
    assert amends(market) == []


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (CANCEL_ONLY, {"qty": "0.4"}),
        (CANCEL_ONLY, {"qty": "0.4", "price": "65000.00"}),  # the same price, smaller
        (POST_ONLY, {"price": "64000.00"}),  # whether it crosses is the engine's to say
        (TRADING, {"price": "64000.00", "qty": "0.6"}),
    ],
)
def test_amends_the_status_allows_go_to_the_engine(
    market: Market, status: InstrumentStatus, body: dict[str, str]
) -> None:
    order_id = market.place().body["order_id"]
    market.set_status(status)
    reply = market.amend(order_id, **body)
    assert (reply.status, reply.body["status"]) == (202, "PENDING_AMEND")
    assert len(amends(market)) == 1


@pytest.mark.parametrize("status", list(InstrumentStatus))
def test_cancels_go_through_in_every_status(market: Market, status: InstrumentStatus) -> None:
    order_id = market.place().body["order_id"]
    market.set_status(status)
    reply = market.cancel(order_id)
    assert (reply.status, reply.body["status"]) == (202, "PENDING_CANCEL")
    assert [type(c) for c in market.exchange.sink.commands] == [NewOrder, CancelOrder]


def test_a_frozen_account_gets_403_and_nothing_is_written(market: Market) -> None:
    # Given an operator froze alice's account in the ledger
    ledger = market.exchange.ledger
    assert ledger.set_frozen(ALICE, True, actor="olga", reason="fraud review")
    # When she places orders, with a key and without
    replies = [market.place(headers={"Idempotency-Key": "k"}), market.place()]
    # Then each is 403 account_frozen, and no order, hold, slot, key claim or command remains
    for reply in replies:
        assert reply.is_problem
        assert (reply.status, reply.body["code"]) == (403, "account_frozen")
        assert reply.body["type"] == "urn:exchange:problem:account_frozen"
    nothing_written(market.exchange)
    # And once unfrozen, the same key places the order
    ledger.set_frozen(ALICE, False, actor="olga", reason="cleared")
    assert market.place(headers={"Idempotency-Key": "k"}).status == 202


def test_a_frozen_account_cannot_amend_for_more_but_can_cancel(market: Market) -> None:
    # Given alice's open order, then her account frozen
    order_id = market.place().body["order_id"]
    held = market.exchange.ledger.held[(ALICE, "USD")]
    market.exchange.ledger.set_frozen(ALICE, True, actor="olga", reason="fraud review")
    # When she amends it up, then cancels it
    amend = market.amend(order_id, qty="0.6")
    cancel = market.cancel(order_id)
    # Then the amend is 403 with nothing held or sent; the cancel goes through
    assert (amend.status, amend.body["code"]) == (403, "account_frozen")
    assert market.exchange.ledger.held[(ALICE, "USD")] == held
    assert amends(market) == []
    assert cancel.status == 202


def test_a_frozen_account_cannot_withdraw(market: Market) -> None:
    destination = market.exchange.call(
        "POST",
        "/v1/withdrawal-destinations",
        body={"asset": "USD", "kind": "BANK", "address": "000123456789", "label": "bank"},
        headers={"Idempotency-Key": "d1"},
        account_id=ALICE,
    ).body["destination_id"]
    market.exchange.ledger.set_frozen(ALICE, True, actor="olga", reason="fraud review")
    reply = market.exchange.call(
        "POST",
        "/v1/withdrawals",
        body={"asset": "USD", "amount": "10", "destination_id": destination},
        headers={"Idempotency-Key": "w1"},
        account_id=ALICE,
    )
    assert (reply.status, reply.body["code"]) == (403, "account_frozen")
    assert market.exchange.ledger.withdrawals(ALICE) == []
    assert market.exchange.payout_queue.sent == []
    assert market.exchange.ledger.held[(ALICE, "USD")] == Decimal(0)


def test_an_order_the_engine_rejected_shows_the_engines_reason(market: Market) -> None:
    # Given an order that slipped through before the halt reached the catalog, which the
    # recorder then marked REJECTED with the engine's reason
    order_id = market.place().body["order_id"]
    key = (ALICE, order_id)
    market.exchange.store.orders[key] = replace(
        market.exchange.store.orders[key],
        status=OrderStatus.REJECTED,
        reject_reason="SYMBOL_HALTED",
        open_qty="0",
    )
    # When alice reads it
    reply = market.exchange.call("GET", f"/v1/orders/{order_id}", account_id=ALICE)
    # Then the reason is there
    assert (reply.body["status"], reply.body["reject_reason"]) == ("REJECTED", "SYMBOL_HALTED")
