"""The placement guards on moto's DynamoDB (``order_keys``): claims and the open-order counter
under concurrent placements, and the recorder giving a slot back exactly once when an order
finishes."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from moto.dynamodb.responses import DynamoHandler

from exchange.domain import (
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from exchange.domain.enums import CancelReason
from exchange.ids import new_order_id
from exchange.journal.batch import consume
from exchange.orders.dynamo import DynamoOrderStore
from exchange.orders.errors import TooManyOpenOrders
from exchange.orders.keys import KeyClaim
from exchange.orders.keys_dynamo import DynamoOrderKeys
from exchange.orders.model import Order
from exchange.settings import RecorderSettings
from exchange.tables import OPEN_ORDERS_KEY, OrderKeyRecord, OrderRecord
from lambdas.recorder.handler import compose as build_recorder
from tests.unit.streams.helpers import records

ALICE = "alice"
THREADS = 16


@pytest.fixture
def atomic(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto evaluates a request's condition and applies its write without a lock, so threads
    race inside moto itself (seen: 10 placements past a cap of 5). DynamoDB applies each request
    atomically; so does moto with this lock. Threads still interleave between requests, which is
    where a count-then-reserve check races."""
    lock = threading.Lock()
    call_action = DynamoHandler.call_action

    def one_at_a_time(handler: DynamoHandler) -> Any:
        with lock:
            return call_action(handler)

    monkeypatch.setattr(DynamoHandler, "call_action", one_at_a_time)


def open_orders(account_id: str = ALICE) -> int:
    return int(OrderKeyRecord.get(account_id, OPEN_ORDERS_KEY, consistent_read=True).open_orders)


def claim_of(order_id: str, body: str = "same body") -> KeyClaim:
    return KeyClaim(order_id=order_id, fingerprint=body, created_ns=1)


def at_once(work: Callable[[int], Any], count: int) -> list[Any]:
    """``work(i)`` for each i, from ``THREADS`` threads at once; each result or exception."""

    def attempt(i: int) -> Any:
        try:
            return work(i)
        except TooManyOpenOrders as exc:
            return exc

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(attempt, range(count)))


def test_concurrent_placements_never_exceed_the_open_order_cap(atomic: None) -> None:
    # Given a cap of 5, and 40 placements at once: keyed ones and unkeyed ones
    keys = DynamoOrderKeys()

    def place(i: int) -> object:
        if i % 2:
            return keys.claim(ALICE, f"k{i}", claim_of(f"o{i}"), max_open=5)
        keys.take_slot(ALICE, max_open=5)
        return "slot"

    results = at_once(place, 40)
    # Then exactly 5 got a slot, the rest were refused, and the counter says 5
    refused = [r for r in results if isinstance(r, TooManyOpenOrders)]
    assert (len(results) - len(refused), len(refused)) == (5, 35)
    assert open_orders() == 5


def test_one_key_claimed_at_once_by_many_retries_makes_one_order(atomic: None) -> None:
    keys = DynamoOrderKeys()
    results = at_once(
        lambda i: keys.claim(ALICE, "k", claim_of(new_order_id()), max_open=200), THREADS
    )
    assert len({claim.order_id for claim in results}) == 1
    assert open_orders() == 1


def test_a_given_back_claim_frees_its_slot_once(dynamodb: Any) -> None:
    keys = DynamoOrderKeys()
    keys.claim(ALICE, "k", claim_of("o1"), max_open=1)
    keys.give_back(ALICE, "k")
    keys.give_back(ALICE, "k")  # a second give-back of the same claim changes nothing
    assert open_orders() == 0
    fresh = keys.claim(ALICE, "k", claim_of("o2"), max_open=1)
    assert (fresh.order_id, open_orders()) == ("o2", 1)


@pytest.mark.parametrize(
    "ending", ["cancelled", "never taken"], ids=["cancelled", "cancel found nothing"]
)
def test_the_recorder_gives_the_slot_back_once_when_the_order_finishes(
    dynamodb: Any, ending: str
) -> None:
    # Given an order placed through the API: its key claimed (one slot) and its row PENDING_NEW
    keys, order_id = DynamoOrderKeys(), new_order_id()
    keys.claim(ALICE, "k", claim_of(order_id), max_open=5)
    DynamoOrderStore().add(
        Order(
            account_id=ALICE, order_id=order_id, client_order_id="c", symbol="BTC-USD",
            side=Side.BUY, order_type=OrderType.LIMIT, tif=TimeInForce.GTC,
            status=OrderStatus.PENDING_NEW, qty="0.5", price="65000.00", created_ns=1,
            updated_ns=1,
        )
    )  # fmt: skip
    # When the recorder applies the engine's answer, and then the same records again
    journal = records(_answer(order_id, ending), 1)
    recorder = build_recorder(RecorderSettings())
    for journal_record in journal:
        consume(recorder, journal_record, {})
    for journal_record in journal:
        consume(build_recorder(RecorderSettings()), journal_record, {})
    # Then the order is final and its slot was given back exactly once
    assert OrderRecord.get(ALICE, order_id).status in {"CANCELLED", "REJECTED"}
    assert open_orders() == 0


def _answer(order_id: str, ending: str) -> list[Any]:
    common: dict[str, Any] = {"symbol": "BTC-USD", "order_id": order_id, "account_id": ALICE}
    if ending == "never taken":
        return [
            OrderRejected(**common, seq=1, ts=1, reason=RejectReason.UNKNOWN_ORDER, command_id="c1")
        ]
    return [
        OrderAccepted(
            **common, seq=1, ts=1, client_order_id="c", side=Side.BUY,
            order_type=OrderType.LIMIT, tif=TimeInForce.GTC, qty=5000, price=6_500_000,
        ),
        OrderCancelled(
            **common, seq=2, ts=2, cancelled_qty=5000, reason=CancelReason.USER_REQUESTED
        ),
    ]  # fmt: skip
