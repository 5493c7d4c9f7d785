"""The dead man's switch where a renewal and a deadline meet: a timer that waited out a little
clock skew, a renewal whose timer took seconds to queue, and an order the open-orders index does
not show yet when the switch fires. Over the in-memory fakes and a fake clock that moves only
when told (and runs ``meanwhile`` while the trigger sleeps)."""

from typing import Any

import pytest

from exchange.domain import CancelOrder
from exchange.http.time_range import iso_ms
from exchange.orders.cancel_after import MAX_EARLY_MS, Outcome, Switch
from tests.unit.api.conftest import ALICE, LIMIT_BUY, Exchange, Reply
from tests.unit.orders.wiring import Bulk, bulk_exchange


@pytest.fixture
def bulk() -> tuple[Exchange, Bulk]:
    return bulk_exchange()


def arm(exchange: Exchange, timeout: Any) -> Reply:
    return exchange.call(
        "POST", "/v1/orders/cancel-after", body={"timeout_seconds": timeout}, account_id=ALICE
    )


def place(exchange: Exchange) -> str:
    reply = exchange.call("POST", "/v1/orders", body=LIMIT_BUY, account_id=ALICE)
    assert reply.status == 202
    return str(reply.body["order_id"])


def cancelled(exchange: Exchange) -> list[str]:
    return [c.order_id for c in exchange.sink.commands if isinstance(c, CancelOrder)]


def test_a_timer_that_waited_for_its_deadline_leaves_a_switch_renewed_meanwhile(
    bulk: tuple[Exchange, Bulk],
) -> None:
    # Given alice's order and her switch, whose timer arrives a second before its deadline
    exchange, fakes = bulk
    place(exchange)
    arm(exchange, 30)
    [(timer, _)] = fakes.timers.sent
    fakes.clock.advance(30 - MAX_EARLY_MS / 2000)
    # When she renews while the timer waits out that second
    fakes.clock.meanwhile = lambda: arm(exchange, 30)
    outcome = fakes.trigger.fire(timer)
    # Then the timer does nothing: the switch no longer holds its deadline
    assert outcome is Outcome.STALE
    assert cancelled(exchange) == []
    [_, (renewed, _)] = fakes.timers.sent
    assert fakes.switches.get(ALICE) == Switch(renewed.deadline_ms, 30)


def test_a_timer_that_waited_for_its_deadline_leaves_a_switch_disarmed_meanwhile(
    bulk: tuple[Exchange, Bulk],
) -> None:
    exchange, fakes = bulk
    place(exchange)
    arm(exchange, 30)
    [(timer, _)] = fakes.timers.sent
    fakes.clock.advance(30 - MAX_EARLY_MS / 2000)
    fakes.clock.meanwhile = lambda: arm(exchange, 0)
    assert fakes.trigger.fire(timer) is Outcome.STALE
    assert cancelled(exchange) == []


def test_a_renewal_whose_timer_took_until_after_the_deadline_to_queue_fires_the_switch(
    bulk: tuple[Exchange, Bulk],
) -> None:
    # Given alice's switch, 100 ms from its deadline when her renewal comes
    exchange, fakes = bulk
    order_id = place(exchange)
    arm(exchange, 5)
    [(old, _)] = fakes.timers.sent
    fakes.clock.advance(5 - 0.1)
    # When the renewal's timer takes two seconds to queue (SQS slow, its retries)
    fakes.timers.while_sending = lambda: fakes.clock.advance(2)
    reply = arm(exchange, 5)
    # Then the switch had expired unrenewed when the renewal was written: it fired, she is
    # told, and the new deadline is armed
    assert reply.status == 200
    assert reply.body["fired"] == iso_ms(old.deadline_ms)
    assert cancelled(exchange) == [order_id]
    [_, (new, _)] = fakes.timers.sent
    assert fakes.switches.get(ALICE) == Switch(new.deadline_ms, 5)
    # And the old timer, arriving now, finds nothing to do
    assert fakes.trigger.fire(old) is Outcome.STALE
    assert cancelled(exchange) == [order_id]


def test_a_renewal_queued_in_time_replaces_the_switch(bulk: tuple[Exchange, Bulk]) -> None:
    exchange, fakes = bulk
    place(exchange)
    arm(exchange, 5)
    fakes.clock.advance(2)
    fakes.timers.while_sending = lambda: fakes.clock.advance(2)
    reply = arm(exchange, 5)
    assert (reply.status, reply.body["fired"]) == (200, None)
    assert cancelled(exchange) == []


def test_the_switch_cancels_an_order_placed_just_before_its_deadline_the_index_lacks(
    bulk: tuple[Exchange, Bulk],
) -> None:
    # Given alice's switch, an order placed long before its deadline and one just before, which
    # the open-orders index does not show yet (its reads are eventually consistent)
    exchange, fakes = bulk
    arm(exchange, 60)
    [(timer, delay)] = fakes.timers.sent
    old = place(exchange)
    fakes.clock.advance(delay - 0.5)
    late = place(exchange)
    fakes.lookup.lagging.add(late)
    # When the timer fires at the deadline
    fakes.clock.advance(0.5)
    assert fakes.trigger.fire(timer) is Outcome.FIRED
    # Then both were cancelled, each once
    assert sorted(cancelled(exchange)) == sorted([old, late])
