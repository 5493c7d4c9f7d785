"""The dead man's switch: arming, renewing and disarming through the API, and what its timers do
in the ``cancel_after`` worker, over in-memory fakes and a fake clock.

A timer is the SQS message the orders function queued with ``DelaySeconds`` = the timeout; here
the test delivers it (``deliver``) at the time it chooses, as late or as often as SQS might.
"""

import json
import uuid
from typing import Any

import pytest

from exchange.domain import CancelOrder, OrderStatus
from exchange.http.time_range import iso_ms
from exchange.orders.cancel_after import MAX_EARLY_MS, Outcome, Switch, Timer
from exchange.testing.lambda_events import LambdaContextStub
from lambdas.cancel_after.handler import handler as cancel_after_handler
from tests.unit.api.conftest import ALICE, BOB, LIMIT_BUY, Exchange, Reply
from tests.unit.orders.wiring import Bulk, bulk_exchange, finish


@pytest.fixture
def bulk() -> tuple[Exchange, Bulk]:
    return bulk_exchange()


def arm(exchange: Exchange, timeout: Any, account: str = ALICE) -> Reply:
    return exchange.call(
        "POST", "/v1/orders/cancel-after", body={"timeout_seconds": timeout}, account_id=account
    )


def place(exchange: Exchange, account: str = ALICE) -> str:
    reply = exchange.call("POST", "/v1/orders", body=LIMIT_BUY, account_id=account)
    assert reply.status == 202
    return str(reply.body["order_id"])


def cancelled(exchange: Exchange) -> list[str]:
    return [c.order_id for c in exchange.sink.commands if isinstance(c, CancelOrder)]


def sqs_event(*bodies: str) -> dict[str, Any]:
    """An SQS event source mapping's batch ("Using Lambda with Amazon SQS": Records with
    messageId, receiptHandle, body, attributes, eventSource aws:sqs)."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:exchange-cancel-after",
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


def deliver(fakes: Bulk, *timers: Timer) -> dict[str, Any]:
    """Run the worker on a batch of the timers, as the event source mapping would."""
    event = sqs_event(*(timer.encode() for timer in timers))
    answer: dict[str, Any] = cancel_after_handler(event, LambdaContextStub(), trigger=fakes.trigger)
    return answer


# --- arming -------------------------------------------------------------------------------------


def test_arming_queues_a_timer_delayed_by_the_timeout_for_the_deadline_it_sets(
    bulk: tuple[Exchange, Bulk],
) -> None:
    exchange, fakes = bulk
    now = fakes.clock.ms()
    reply = arm(exchange, 60)
    assert reply.status == 200
    assert (reply.body["deadline_ms"], reply.body["timeout_seconds"]) == (now + 60_000, 60)
    assert reply.body["deadline"] == "2027-01-15T08:01:00.000Z"
    assert fakes.timers.sent == [(Timer(ALICE, now + 60_000), 60)]
    assert fakes.switches.get(ALICE) == Switch(now + 60_000, 60)
    assert exchange.call("GET", "/v1/orders/cancel-after", account_id=ALICE).body == reply.body


@pytest.mark.parametrize("timeout", [1, 4, 901, -1, "60", 60.0, True, None])
def test_a_timeout_outside_the_bounds_is_a_400_and_arms_nothing(
    bulk: tuple[Exchange, Bulk], timeout: Any
) -> None:
    exchange, fakes = bulk
    reply = arm(exchange, timeout)
    assert reply.status == 400
    assert reply.is_problem
    assert (fakes.timers.sent, fakes.switches.get(ALICE)) == ([], None)


def test_the_deployments_bounds_apply() -> None:
    exchange, _ = bulk_exchange(min_seconds=10, max_seconds=120)
    assert arm(exchange, 9).body["code"] == "invalid_cancel_after"
    assert arm(exchange, 121).body["code"] == "invalid_cancel_after"
    assert arm(exchange, 10).status == 200


def test_a_timer_that_cannot_be_queued_is_a_503_and_leaves_the_switch_as_it_was(
    bulk: tuple[Exchange, Bulk],
) -> None:
    exchange, fakes = bulk
    arm(exchange, 60)
    before = fakes.switches.get(ALICE)
    fakes.timers.fail = True
    reply = arm(exchange, 30)
    assert (reply.status, reply.body["code"]) == (503, "timer_unavailable")
    assert fakes.switches.get(ALICE) == before


def test_a_disarmed_switch_reads_as_null(bulk: tuple[Exchange, Bulk]) -> None:
    exchange, fakes = bulk
    assert arm(exchange, 30).status == 200
    reply = arm(exchange, 0)
    assert reply.body == {
        "deadline": None,
        "deadline_ms": None,
        "timeout_seconds": 0,
        "fired": None,
    }
    assert exchange.call("GET", "/v1/orders/cancel-after", account_id=ALICE).body == reply.body
    assert fakes.switches.get(ALICE) is None


# --- firing -------------------------------------------------------------------------------------


def test_an_unrenewed_switch_cancels_every_open_order_at_its_deadline(
    bulk: tuple[Exchange, Bulk],
) -> None:
    # Given alice's two open orders, one finished, bob's order, and her switch armed for 10 s
    exchange, fakes = bulk
    open_ids = [place(exchange), place(exchange)]
    done = place(exchange)
    finish(exchange, ALICE, done, OrderStatus.FILLED)
    place(exchange, BOB)
    arm(exchange, 10)
    [(timer, delay)] = fakes.timers.sent
    # When its timer arrives when due
    fakes.clock.advance(delay)
    answer = deliver(fakes, timer)
    # Then exactly her open orders got a cancel, and the switch is cleared
    assert answer == {"batchItemFailures": []}
    assert sorted(cancelled(exchange)) == sorted(open_ids)
    assert fakes.switches.get(ALICE) is None


def test_a_renewal_after_the_timer_was_sent_makes_that_timer_do_nothing(
    bulk: tuple[Exchange, Bulk],
) -> None:
    exchange, fakes = bulk
    place(exchange)
    arm(exchange, 10)
    fakes.clock.advance(5)
    arm(exchange, 10)  # renewed at 5 s: the deadline moves to 15 s
    [(first, _), (second, _)] = fakes.timers.sent
    # When the first timer arrives at 10 s
    fakes.clock.advance(5)
    assert fakes.trigger.fire(first) is Outcome.STALE
    # Then nothing was cancelled; the second, at 15 s, still fires
    assert cancelled(exchange) == []
    fakes.clock.advance(5)
    assert fakes.trigger.fire(second) is Outcome.FIRED
    assert len(cancelled(exchange)) == 1


def test_a_timer_of_a_disarmed_switch_does_nothing(bulk: tuple[Exchange, Bulk]) -> None:
    exchange, fakes = bulk
    place(exchange)
    arm(exchange, 10)
    arm(exchange, 0)
    [(timer, delay)] = fakes.timers.sent
    fakes.clock.advance(delay + 1)
    assert fakes.trigger.fire(timer) is Outcome.STALE
    assert cancelled(exchange) == []


def test_a_stale_or_forged_timer_does_nothing(bulk: tuple[Exchange, Bulk]) -> None:
    exchange, fakes = bulk
    place(exchange)
    arm(exchange, 10)
    [(timer, _)] = fakes.timers.sent
    fakes.clock.advance(60)
    for wrong in (Timer(ALICE, timer.deadline_ms - 1), Timer(BOB, timer.deadline_ms)):
        assert fakes.trigger.fire(wrong) is Outcome.STALE
    assert cancelled(exchange) == []


def test_a_timer_delivered_twice_cancels_once(bulk: tuple[Exchange, Bulk]) -> None:
    exchange, fakes = bulk
    place(exchange)
    arm(exchange, 5)
    [(timer, delay)] = fakes.timers.sent
    fakes.clock.advance(delay)
    deliver(fakes, timer)
    deliver(fakes, timer)
    assert len(cancelled(exchange)) == 1


def test_an_order_placed_after_the_deadline_is_left_alone(bulk: tuple[Exchange, Bulk]) -> None:
    # Given the switch's deadline passed, and then (before the timer ran) a new order
    exchange, fakes = bulk
    before = place(exchange)
    arm(exchange, 5)
    [(timer, delay)] = fakes.timers.sent
    fakes.clock.advance(delay + 0.5)
    place(exchange)
    # When the timer runs, only the order open at the deadline is cancelled
    deliver(fakes, timer)
    assert cancelled(exchange) == [before]


def test_a_timer_a_little_early_waits_for_its_deadline_and_one_far_too_early_comes_again(
    bulk: tuple[Exchange, Bulk],
) -> None:
    exchange, fakes = bulk
    place(exchange)
    arm(exchange, 30)
    [(timer, _)] = fakes.timers.sent
    # Far too early: reported failed, so SQS delivers it again later
    answer = deliver(fakes, timer)
    assert len(answer["batchItemFailures"]) == 1
    assert cancelled(exchange) == []
    # A little early (clock skew between hosts): it waits, then fires
    fakes.clock.advance(30 - MAX_EARLY_MS / 2000)
    assert fakes.trigger.fire(timer) is Outcome.FIRED
    assert fakes.clock.slept == [MAX_EARLY_MS / 2000]
    assert len(cancelled(exchange)) == 1


def test_when_the_broker_is_down_the_timer_fails_and_keeps_the_switch_for_its_retry(
    bulk: tuple[Exchange, Bulk],
) -> None:
    exchange, fakes = bulk
    order_id = place(exchange)
    arm(exchange, 5)
    [(timer, delay)] = fakes.timers.sent
    fakes.clock.advance(delay)
    exchange.sink.fail = True
    answer = deliver(fakes, timer)
    assert len(answer["batchItemFailures"]) == 1
    assert fakes.switches.get(ALICE) is not None
    # The redelivery, with the broker back, sends the cancel
    exchange.sink.fail = False
    assert deliver(fakes, timer) == {"batchItemFailures": []}
    assert cancelled(exchange) == [order_id]


def test_only_the_bad_messages_of_a_batch_are_reported_failed(bulk: tuple[Exchange, Bulk]) -> None:
    exchange, fakes = bulk
    place(exchange)
    arm(exchange, 5)
    [(timer, delay)] = fakes.timers.sent
    fakes.clock.advance(delay)
    event = sqs_event("not json", json.dumps({"v": 9}), Timer(BOB, 1).encode(), timer.encode())
    answer = cancel_after_handler(event, LambdaContextStub(), trigger=fakes.trigger)
    failed = {item["itemIdentifier"] for item in answer["batchItemFailures"]}
    assert failed == {event["Records"][0]["messageId"], event["Records"][1]["messageId"]}
    assert len(cancelled(exchange)) == 1


# --- a renewal that comes too late --------------------------------------------------------------


def test_a_renewal_after_the_deadline_fires_the_switch_first_then_arms_it_again(
    bulk: tuple[Exchange, Bulk],
) -> None:
    # Given alice's switch whose deadline passed before its timer ran
    exchange, fakes = bulk
    old = place(exchange)
    arm(exchange, 5)
    [(timer, _)] = fakes.timers.sent
    fakes.clock.advance(6)
    # When she renews
    reply = arm(exchange, 5)
    # Then the orders open at the deadline were cancelled, she is told, and the switch runs again
    assert reply.status == 200
    assert reply.body["fired"] == iso_ms(timer.deadline_ms)
    assert cancelled(exchange) == [old]
    assert fakes.switches.get(ALICE) == Switch(reply.body["deadline_ms"], 5)
    # And the old timer, arriving now, does nothing more
    assert fakes.trigger.fire(timer) is Outcome.STALE
    assert cancelled(exchange) == [old]


def test_disarming_after_the_deadline_fires_the_switch(bulk: tuple[Exchange, Bulk]) -> None:
    exchange, fakes = bulk
    order_id = place(exchange)
    arm(exchange, 5)
    [(timer, _)] = fakes.timers.sent
    fakes.clock.advance(5)
    reply = arm(exchange, 0)
    assert (reply.body["deadline"], reply.body["fired"]) == (None, iso_ms(timer.deadline_ms))
    assert cancelled(exchange) == [order_id]
    assert fakes.switches.get(ALICE) is None


def test_a_late_renewal_with_the_broker_down_is_a_503_and_the_switch_stays_expired(
    bulk: tuple[Exchange, Bulk],
) -> None:
    exchange, fakes = bulk
    place(exchange)
    arm(exchange, 5)
    expired = fakes.switches.get(ALICE)
    fakes.clock.advance(10)
    exchange.sink.fail = True
    reply = arm(exchange, 5)
    assert (reply.status, reply.body["code"]) == (503, "broker_unavailable")
    assert fakes.switches.get(ALICE) == expired  # its timer (or the next renewal) fires it


def test_without_a_timer_queue_the_switch_answers_503() -> None:
    from dataclasses import replace  # noqa: PLC0415

    from exchange.orders.service import OrderService  # noqa: PLC0415

    exchange, _ = bulk_exchange()
    bare = OrderService(
        instruments=exchange.catalog,
        store=exchange.store,
        keys=exchange.keys,
        ledger=exchange.ledger,
        sink=exchange.sink,
        idempotency=exchange.orders._idempotency,
    )
    reply = replace(exchange, orders=bare).call("GET", "/v1/orders/cancel-after", account_id=ALICE)
    assert (reply.status, reply.body["code"]) == (503, "timer_unavailable")


def test_the_timer_message_round_trips_and_refuses_what_it_does_not_know() -> None:
    timer = Timer("alice-sub", 1_800_000_005_000)
    assert json.loads(timer.encode()) == {
        "v": 1,
        "account_id": "alice-sub",
        "deadline_ms": 1_800_000_005_000,
    }
    assert Timer.decode(timer.encode()) == timer
    from exchange.domain.errors import WireFormatError  # noqa: PLC0415

    for bad in ("[]", '{"v":1}', '{"v":1,"account_id":"a","deadline_ms":true}', '{"v":2}'):
        with pytest.raises(WireFormatError):
            Timer.decode(bad)
