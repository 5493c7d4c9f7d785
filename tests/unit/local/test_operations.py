"""The local triggers of the operations functions: EventBridge's schedule and the dead-letter
queues' event source mapping (over the in-process broker; RabbitMQ's in
tests/integration/operations/test_local_dead_letters.py)."""

import base64
from typing import Any

from engine_service.adapters.memory import InMemoryBroker
from exchange.testing.lambda_events import LambdaContextStub
from lambdas.dead_letters.handler import dead_letters
from local.functions import FunctionError
from local.operations import BATCH_SIZE, InProcessDeadLetters, Schedule


class Recording:
    def __init__(self, fail: int = 0) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail = fail

    def __call__(self, event: dict[str, Any]) -> dict[str, int]:
        self.events.append(event)
        if self.fail:
            self.fail -= 1
            raise FunctionError("dead_letters", RuntimeError("ledger down"))
        return {"ok": 1}


def test_the_schedule_sends_the_function_eventbridges_scheduled_event() -> None:
    invoke = Recording()
    schedule = Schedule(invoke, rule="reconciler", every_s=5)
    assert schedule.tick() == 5
    (event,) = invoke.events
    assert (event["source"], event["detail-type"]) == ("aws.events", "Scheduled Event")
    assert event["resources"][0].endswith(":rule/reconciler")
    assert schedule.status()["last_result"] == {"ok": 1}
    LambdaContextStub()  # the host passes one; nothing else is needed here


def test_dead_letters_reach_the_function_in_batches_as_amazon_mq_delivers_them() -> None:
    # Given 12 bodies dead-lettered on shard s1
    broker = InMemoryBroker()
    broker.dead_letters["s1"] = [b"body-%d" % n for n in range(12)]
    invoke = Recording()
    mapping = InProcessDeadLetters(invoke, broker=broker)
    # When the mapping runs until idle
    while mapping.tick() == 0.0:
        pass
    # Then the function got two batches from engine.s1.dlq, every body once, in order
    assert [len(e["rmqMessagesByQueue"]["engine.s1.dlq::/"]) for e in invoke.events] == [
        BATCH_SIZE,
        12 - BATCH_SIZE,
    ]
    bodies = [letter.body for event in invoke.events for letter in dead_letters(event)]
    assert bodies == broker.dead_letters["s1"]
    assert mapping.status()["messages"] == 12


def test_a_failed_batch_is_delivered_again() -> None:
    broker = InMemoryBroker()
    broker.dead_letters["s1"] = [b"only"]
    invoke = Recording(fail=1)
    mapping = InProcessDeadLetters(invoke, broker=broker)
    assert mapping.tick() > 0  # failed: wait, then again
    assert mapping.tick() == 0.0
    assert [base64.b64decode(e["rmqMessagesByQueue"]["engine.s1.dlq::/"][0]["data"])
            for e in invoke.events] == [b"only", b"only"]  # fmt: skip
    assert mapping.status()["errors"] == 1
