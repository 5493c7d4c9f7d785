"""The dead man's switch on moto: its item in the ``order_keys`` table (conditional writes), its
timers on an SQS queue, and the ``cancel_after`` function, through its composition root, fed
what the queue delivers.

AWS behaviour relied on:

- ``SendMessage``'s ``DelaySeconds`` (Amazon SQS API Reference, SendMessage,
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html):
  "Valid values: 0 to 900. Maximum: 15 minutes. Messages with a positive DelaySeconds value
  become available for processing after the delay period is finished", and "When you set
  FifoQueue, you can't set DelaySeconds per message": the timers need a standard queue, and a
  timeout of at most 900 seconds (``cancel_after_max_seconds``).
- Partial batch responses ("Handling errors for an SQS event source in Lambda",
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html): with
  ``ReportBatchItemFailures`` on the event source mapping, the function answers
  ``{"batchItemFailures": [{"itemIdentifier": <messageId>}]}`` and only those messages become
  visible again; and Lambda does not scale its polling down for reported failures, as it does
  when the invocation fails.
- Conditional writes ("Condition expressions", Amazon DynamoDB Developer Guide,
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html):
  an ``UpdateItem`` or ``DeleteItem`` whose condition is false changes nothing and fails with
  ``ConditionalCheckFailedException``.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from exchange.domain import CancelOrder, OrderStatus, OrderType, Side, TimeInForce
from exchange.ids import new_order_id
from exchange.ledger.postgres import PostgresLedger
from exchange.orders import mass_cancel as mass_cancel_module
from exchange.orders.cancel_after import DeadMansSwitch, Switch, SwitchTrigger, Timer
from exchange.orders.cancel_after_aws import (
    RETRY_AFTER_SECONDS,
    DynamoSwitchStore,
    SqsTimerQueue,
)
from exchange.orders.dynamo import DynamoOrderLookup, DynamoOrderStore
from exchange.orders.errors import BrokerUnavailable
from exchange.orders.mass_cancel import MassCancel
from exchange.orders.model import Order
from exchange.settings import CancelAfterSettings, OrdersSettings
from exchange.tables import CANCEL_AFTER_KEY, TABLE_SPECS, OrderKeyRecord, bind_tables
from exchange.testing.fakes import InMemoryCommandSink
from exchange.testing.lambda_events import LambdaContextStub
from lambdas.cancel_after.handler import ROOT
from lambdas.cancel_after.handler import handler as cancel_after_handler
from lambdas.orders.handler import compose as compose_orders

# The test queue's visibility timeout: a failed timer left to it would not come back in a test.
VISIBILITY_TIMEOUT_S = 30


@pytest.fixture(autouse=True)
def _quiet_metrics() -> Iterator[None]:
    import warnings  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "No application metrics to publish")
        yield


@dataclass
class Moto:
    settings: CancelAfterSettings
    url: str  # the timer queue (standard)
    sqs: Any
    sink: InMemoryCommandSink  # the worker's broker


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Moto]:
    """moto's DynamoDB tables and a standard SQS queue; the worker's composition root uses them
    (and an in-memory broker)."""
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with mock_aws():
        settings = CancelAfterSettings()
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        for spec in TABLE_SPECS:
            dynamodb.create_table(
                **spec.create_table_kwargs(getattr(settings, spec.settings_field))
            )
        bind_tables(settings)
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(
            QueueName="exchange-cancel-after",
            Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT_S)},
        )["QueueUrl"]
        sink = InMemoryCommandSink()
        ROOT.use_settings(settings)
        ROOT.override(sink=sink)
        try:
            yield Moto(settings, url, sqs, sink)
        finally:
            ROOT.reset()


def api_switch(settings: CancelAfterSettings, url: str) -> DeadMansSwitch:
    """The orders function's switch as its composition root builds it (a 1 s minimum, so the
    test waits little)."""
    switches = DynamoSwitchStore()
    mass_cancel = MassCancel(lookup=DynamoOrderLookup(), sink=InMemoryCommandSink(), limit=200)
    return DeadMansSwitch(
        switches=switches,
        timers=SqsTimerQueue.from_settings(url, settings),
        trigger=SwitchTrigger(switches=switches, mass_cancel=mass_cancel),
        min_seconds=1,
        max_seconds=900,
    )


def place(account_id: str, status: OrderStatus = OrderStatus.NEW) -> str:
    now = time.time_ns()
    order_id = new_order_id(now)
    DynamoOrderStore().add(
        Order(
            account_id=account_id,
            order_id=order_id,
            client_order_id=order_id,
            symbol="BTC-USD",
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            tif=TimeInForce.GTC,
            status=status,
            qty="1",
            price="100",
            created_ns=now,
            updated_ns=now,
        )
    )
    return order_id


def receive(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
    ).get("Messages", [])
    return messages


def as_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """What the event source mapping hands the function for these messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:exchange-cancel-after",
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def wait_for(sqs: Any, url: str, count: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    deadline, got = time.monotonic() + timeout_s, list[dict[str, Any]]()
    while len(got) < count and time.monotonic() < deadline:
        got += receive(sqs, url)
        time.sleep(0.05)
    return got


def cancelled(sink: InMemoryCommandSink) -> list[str]:
    return [c.order_id for c in sink.commands if isinstance(c, CancelOrder)]


def test_an_unrenewed_switch_fires_through_a_delayed_message(
    aws: Moto,
) -> None:
    settings, url, sqs = aws.settings, aws.url, aws.sqs
    # Given alice's open order, a finished one, bob's, and her switch armed for 1 s
    open_id = place("alice")
    place("alice", OrderStatus.FILLED)
    place("bob")
    armed = api_switch(settings, url).set("alice", 1)
    assert armed.switch is not None
    # Then the timer is not delivered before its delay...
    assert receive(sqs, url) == []
    # ...and, once delivered, carries the account and the deadline it was set for
    [message] = wait_for(sqs, url, 1)
    assert Timer.decode(message["Body"]) == Timer("alice", armed.switch.deadline_ms)
    assert time.time_ns() // 1_000_000 >= armed.switch.deadline_ms - 50
    # When the worker gets it, it cancels alice's open order only, and clears her switch
    answer = cancel_after_handler(as_event([message]), LambdaContextStub())
    assert answer == {"batchItemFailures": []}
    assert cancelled(aws.sink) == [open_id]
    assert DynamoSwitchStore().get("alice") is None


def test_a_renewed_switch_ignores_its_earlier_timer_and_fires_on_the_last(
    aws: Moto,
) -> None:
    settings, url, sqs = aws.settings, aws.url, aws.sqs
    place("alice")
    switch = api_switch(settings, url)
    switch.set("alice", 1)
    renewed = switch.set("alice", 2)
    assert renewed.switch is not None
    [first] = wait_for(sqs, url, 1)
    assert cancel_after_handler(as_event([first]), LambdaContextStub()) == {"batchItemFailures": []}
    assert cancelled(aws.sink) == []  # renewed: the first timer did nothing
    [second] = wait_for(sqs, url, 1)
    assert Timer.decode(second["Body"]).deadline_ms == renewed.switch.deadline_ms
    cancel_after_handler(as_event([second]), LambdaContextStub())
    assert len(cancelled(aws.sink)) == 1


def test_a_disarmed_switchs_timer_does_nothing(
    aws: Moto,
) -> None:
    settings, url, sqs = aws.settings, aws.url, aws.sqs
    place("alice")
    switch = api_switch(settings, url)
    switch.set("alice", 1)
    switch.set("alice", 0)
    [message] = wait_for(sqs, url, 1)
    cancel_after_handler(as_event([message]), LambdaContextStub())
    assert cancelled(aws.sink) == []


def test_a_bad_message_is_the_only_failure_of_its_batch(aws: Moto) -> None:
    url, sqs = aws.url, aws.sqs
    sqs.send_message(QueueUrl=url, MessageBody="garbage")
    sqs.send_message(QueueUrl=url, MessageBody=Timer("nobody", 1).encode())
    messages = wait_for(sqs, url, 2)
    answer = cancel_after_handler(as_event(messages), LambdaContextStub())
    bad = next(m["MessageId"] for m in messages if m["Body"] == "garbage")
    assert answer == {"batchItemFailures": [{"itemIdentifier": bad}]}
    # And the failed one is back in seconds (its visibility shortened), not after the queue's
    # visibility timeout (``ChangeMessageVisibility``: the new timeout counts from the call).
    started = time.monotonic()
    [again] = wait_for(sqs, url, 1, timeout_s=VISIBILITY_TIMEOUT_S - 5)
    assert again["MessageId"] == bad
    assert time.monotonic() - started <= RETRY_AFTER_SECONDS + 1.5


def test_the_switch_items_conditions_on_dynamodb(
    aws: Moto,
) -> None:
    store = DynamoSwitchStore()
    # A running switch may be replaced; an expired one may not, and is handed back
    assert store.put("alice", Switch(1_000, 5), now_ms=500) is None
    assert store.put("alice", Switch(2_000, 5), now_ms=900) is None
    assert store.put("alice", Switch(9_000, 5), now_ms=2_000) == Switch(2_000, 5)
    assert store.remove("alice", now_ms=2_500) == Switch(2_000, 5)
    # Clearing needs the deadline it holds
    assert store.clear("alice", 1_000) is False
    assert store.clear("alice", 2_000) is True
    assert store.get("alice") is None
    # Disarming a switch that is not there changes nothing
    assert store.remove("alice", now_ms=0) is None
    # The item is the order_keys table's CANCEL_AFTER_KEY row
    store.put("bob", Switch(7_000, 7), now_ms=0)
    row = OrderKeyRecord.get("bob", CANCEL_AFTER_KEY)
    assert (row.deadline_ms, row.timeout_seconds) == (7_000, 7)


def test_a_fifo_queue_would_refuse_the_timers_delay(
    aws: Moto,
) -> None:
    sqs = aws.sqs
    fifo = sqs.create_queue(
        QueueName="exchange-cancel-after.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    with pytest.raises(ClientError):
        sqs.send_message(
            QueueUrl=fifo, MessageBody="x", DelaySeconds=5, MessageGroupId="g",
            MessageDeduplicationId="d",
        )  # fmt: skip


def test_the_open_orders_index_pages_for_a_mass_cancel(
    aws: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given alice's five open orders among a finished one and bob's, read two at a time
    monkeypatch.setattr(mass_cancel_module, "PAGE_SIZE", 2)
    mine = []
    for n in range(7):
        if n == 3:
            place("alice", OrderStatus.CANCELLED)
        place("bob")
        mine.append(place("alice"))
        time.sleep(0.002)
    sink = InMemoryCommandSink()
    # When a mass cancel with room for six runs, and one with room for three
    run = MassCancel(lookup=DynamoOrderLookup(), sink=sink, limit=6)
    everything = run.cancel_all("alice", source="test")
    bounded = MassCancel(lookup=DynamoOrderLookup(), sink=InMemoryCommandSink(), limit=3)
    partial = bounded.cancel_all("alice", source="test")
    # Then the first cancelled six, oldest first, over three pages, and says one is left
    assert cancelled(sink) == mine[:6]
    assert everything.truncated is True
    assert ([a.order_id for a in partial.sent], partial.truncated) == (mine[:3], True)


def test_each_composition_caps_a_mass_cancel_at_the_deployments_max_open_orders(
    aws: Moto,
) -> None:
    # Given a deployment allowing two open orders, and alice's three (one more than the cap: an
    # index entry its writer did not remove, say)
    for _ in range(3):
        place("alice")
    settings = OrdersSettings(
        database_url="postgresql://unused@127.0.0.1:1/unused",  # the ledger is not used here
        max_open_orders=2,
    )
    api_sink = InMemoryCommandSink()
    orders = compose_orders(
        settings, sink=api_sink, timers=SqsTimerQueue.from_settings(aws.url, settings)
    )
    ROOT.use_settings(aws.settings.model_copy(update={"max_open_orders": 2}))
    try:
        # When the orders function cancels all, Then it sends two cancels and says there are more
        result = orders.cancel_all("alice", symbol=None)
        assert (len(result.sent), result.truncated) == (2, True)
        # When her switch, expired, is fired by a late renewal or by its timer, Then each sends
        # two cancels and keeps the switch to fire again
        time.sleep(0.002)
        deadline = time.time_ns() // 1_000_000
        DynamoSwitchStore().put("alice", Switch(deadline, 5), now_ms=0)
        with pytest.raises(BrokerUnavailable):
            orders.cancel_after.set("alice", 5)
        with pytest.raises(BrokerUnavailable):
            ROOT().fire(Timer("alice", deadline))
        assert (len(cancelled(api_sink)), len(cancelled(aws.sink))) == (4, 2)
    finally:
        ledger = orders._ledger
        assert isinstance(ledger, PostgresLedger)
        ledger.pool.close()
