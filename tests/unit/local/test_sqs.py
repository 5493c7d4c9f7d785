"""SQS locally: moto's queues as the template makes them, and the pollers standing in for Lambda's
SQS event source mapping.

- "Amazon SQS message timers" (Amazon SQS Developer Guide): a message sent with ``DelaySeconds``
  stays invisible to consumers for that long. moto honours it (pinned here), so the pollers need no
  emulation of their own.
- "Using Lambda with Amazon SQS" (AWS Lambda Developer Guide): the event is ``Records`` of
  ``messageId``, ``receiptHandle``, ``body``, ``attributes`` (``ApproximateReceiveCount``,
  ``SentTimestamp``, ...), ``messageAttributes``, ``md5OfBody``, ``eventSource`` ``aws:sqs``,
  ``eventSourceARN`` and ``awsRegion``; a batch the function handled is deleted; after an error
  the batch's messages become visible again after the visibility timeout.
- "Handling errors for an SQS event source in Lambda" (partial batch responses): with
  ``ReportBatchItemFailures`` only the reported messages stay; an ``itemIdentifier`` that is not a
  message of the batch fails the whole batch; without it, the function's answer is not read.
- "Using dead-letter queues in Amazon SQS": a message received more than ``maxReceiveCount``
  times moves to the dead-letter queue.
"""

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local import recording
from local.aws import CANCEL_AFTER_QUEUE
from local.functions import FunctionError
from local.sqs import (
    LocalQueue,
    QueueMappingConfig,
    QueuePoller,
    QueuePollers,
    local_names,
    provision_queues,
)
from local.template import Deployment
from local.template_queues import DeployedQueue, DeployedQueueMapping

REGION = "us-east-1"


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def timers(
    sqs: Any, *, visibility_s: int = 1, max_receive_count: int | None = None
) -> dict[str, LocalQueue]:
    dead_letters = DeployedQueue("Dlq", None, {}, None, None)
    queue = DeployedQueue(
        "Timers",
        None,
        {"VisibilityTimeout": str(visibility_s)},
        "Dlq" if max_receive_count else None,
        max_receive_count,
    )
    return provision_queues(sqs, {"Timers": queue, "Dlq": dead_letters})


class Consumer:
    """A cancel_after stand-in: records each batch, fails the bodies it is told to."""

    def __init__(self, *, fail: frozenset[str] = frozenset(), raises: bool = False) -> None:
        self.fail = set(fail)
        self.raises = raises
        self.batches: list[list[dict[str, Any]]] = []
        self.done: list[str] = []
        self.answer: Any = None  # when set, returned as is

    def __call__(self, event: dict[str, Any]) -> Any:
        records = event["Records"]
        self.batches.append(records)
        if self.raises:
            raise FunctionError("cancel_after", RuntimeError("broker down"))
        if self.answer is not None:
            return self.answer
        failures = []
        for record in records:
            if record["body"] in self.fail:
                failures.append({"itemIdentifier": record["messageId"]})
            else:
                self.done.append(record["body"])
        return {"batchItemFailures": failures}


def poller(sqs: Any, queue: LocalQueue, consumer: Consumer, **config: Any) -> QueuePoller:
    settings = QueueMappingConfig(**{"report_item_failures": True, **config})
    return QueuePoller(sqs, queue, "cancel_after", consumer, REGION, settings)


def depth(sqs: Any, queue: LocalQueue) -> tuple[int, int]:
    """(visible, in flight) messages."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue.url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def test_moto_holds_a_message_until_its_own_delay_seconds_pass(sqs: Any) -> None:
    queue = timers(sqs)["Timers"]
    sqs.send_message(QueueUrl=queue.url, MessageBody="later", DelaySeconds=2)
    sqs.send_message(QueueUrl=queue.url, MessageBody="now")
    first = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in first] == ["now"]
    sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10)
    time.sleep(2.1)
    later = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in later] == ["later"]


def test_the_running_poller_delivers_a_timer_once_it_is_due_and_promptly(sqs: Any) -> None:
    queue = timers(sqs)["Timers"]
    delivered: list[float] = []
    consumer = Consumer()
    stop = threading.Event()

    def timed(event: dict[str, Any]) -> Any:
        delivered.append(time.monotonic())
        return consumer(event)

    feed = QueuePoller(
        sqs, queue, "cancel_after", timed, REGION, QueueMappingConfig(report_item_failures=True)
    )
    thread = threading.Thread(target=feed.run, args=(stop,))
    thread.start()
    try:
        time.sleep(0.5)  # the poller is idle, between two polls, when the timer is sent
        sent = time.monotonic()
        sqs.send_message(QueueUrl=queue.url, MessageBody="deadline", DelaySeconds=2)
        while not delivered and time.monotonic() - sent < 6:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(5)
    assert consumer.done == ["deadline"]
    late = delivered[0] - sent - 2
    # Not before it is due, and promptly after: the idle poller asks every 0.2 s, so it is
    # usually ~0.2 s late; the bound leaves room for a loaded machine's scheduling (a 2-core CI
    # runner) yet still fails a timer that is clearly late (over 1.5 s).
    assert -0.1 <= late <= 1.5, late


def test_the_event_is_lambdas_sqs_event(sqs: Any) -> None:
    queue = timers(sqs)["Timers"]
    sqs.send_message(
        QueueUrl=queue.url,
        MessageBody='{"account_id": "a1"}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "timer"}},
    )
    consumer = Consumer()
    assert poller(sqs, queue, consumer).poll_once() == 1
    ((record,),) = consumer.batches
    assert record["body"] == '{"account_id": "a1"}'
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert queue.arn.startswith("arn:aws:sqs:us-east-1:")
    assert record["awsRegion"] == REGION
    assert record["messageId"]
    assert record["receiptHandle"]
    assert record["md5OfBody"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert int(record["attributes"]["SentTimestamp"]) > 0
    assert record["messageAttributes"]["kind"]["stringValue"] == "timer"
    assert record["messageAttributes"]["kind"]["dataType"] == "String"
    assert depth(sqs, queue) == (0, 0)  # handled: deleted


def test_a_partial_batch_failure_is_redelivered_after_the_visibility_timeout(sqs: Any) -> None:
    queue = timers(sqs, visibility_s=1)["Timers"]
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    consumer = Consumer(fail=frozenset({"b"}))
    feed = poller(sqs, queue, consumer)
    assert feed.poll_once() == 3
    # The reported message stays (in flight until its visibility timeout); the others are gone
    assert sorted(consumer.done) == ["a", "c"]
    assert depth(sqs, queue) == (0, 1)
    consumer.fail.clear()
    time.sleep(1.1)
    assert feed.poll_once() == 1
    (redelivered,) = consumer.batches[-1]
    assert redelivered["body"] == "b"
    assert redelivered["attributes"]["ApproximateReceiveCount"] == "2"
    assert depth(sqs, queue) == (0, 0)


def test_a_function_error_leaves_the_whole_batch_for_redelivery(sqs: Any) -> None:
    queue = timers(sqs, visibility_s=1)["Timers"]
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    consumer = Consumer(raises=True)
    feed = poller(sqs, queue, consumer)
    assert feed.poll_once() == 2
    assert depth(sqs, queue) == (0, 2)
    assert feed.poll_once() == 0  # invisible until the timeout
    time.sleep(1.1)
    consumer.raises = False
    assert feed.poll_once() == 2
    assert depth(sqs, queue) == (0, 0)


@pytest.mark.parametrize(
    "answer",
    [
        {"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"id": "x"}]},
        "not an object",
    ],
)
def test_a_bad_partial_batch_response_fails_the_whole_batch(sqs: Any, answer: Any) -> None:
    queue = timers(sqs, visibility_s=30)["Timers"]
    sqs.send_message(QueueUrl=queue.url, MessageBody="a")
    consumer = Consumer()
    consumer.answer = answer
    poller(sqs, queue, consumer).poll_once()
    assert depth(sqs, queue) == (0, 1)


def test_without_report_batch_item_failures_the_answer_is_not_read(sqs: Any) -> None:
    queue = timers(sqs)["Timers"]
    sqs.send_message(QueueUrl=queue.url, MessageBody="a")
    consumer = Consumer(fail=frozenset({"a"}))
    poller(sqs, queue, consumer, report_item_failures=False).poll_once()
    assert depth(sqs, queue) == (0, 0)


def test_a_message_failing_past_max_receive_count_moves_to_the_dead_letter_queue(
    sqs: Any,
) -> None:
    made = timers(sqs, visibility_s=1, max_receive_count=2)
    queue, dead_letters = made["Timers"], made["Dlq"]
    redrive = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["RedrivePolicy"])
    assert json.loads(redrive["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"] == (
        dead_letters.arn
    )
    sqs.send_message(QueueUrl=queue.url, MessageBody="poison")
    consumer = Consumer(fail=frozenset({"poison"}))
    feed = poller(sqs, queue, consumer)
    for _ in range(2):
        assert feed.poll_once() == 1
        time.sleep(1.1)
    assert feed.poll_once() == 0  # received twice: the third receive redrives it
    assert depth(sqs, dead_letters)[0] == 1


def test_the_call_recorder_sees_the_timer_and_kms_calls_with_their_principals(
    tmp_path: Path,
) -> None:
    # "AWS KMS cryptography essentials: encryption context": a ciphertext decrypts only with the
    # context it was encrypted under (moto checks it too, as the API keys' secrets rely on).
    log = tmp_path / "calls.jsonl"
    with mock_aws():
        recording.install(log)
        try:
            sqs = boto3.client("sqs", region_name=REGION)
            kms = boto3.client("kms", region_name=REGION)
            queue = timers(sqs)["Timers"]
            key = kms.create_key(KeySpec="SYMMETRIC_DEFAULT")["KeyMetadata"]["Arn"]
            context = {"key_id": "ak_1", "account_id": "a1"}
            token = recording.current_principal.set("api_keys")
            blob = kms.encrypt(KeyId=key, Plaintext=b"s3cret", EncryptionContext=context)
            recording.current_principal.reset(token)
            token = recording.current_principal.set("orders")
            sqs.send_message(QueueUrl=queue.url, MessageBody="timer")
            recording.current_principal.reset(token)
            consumer = Consumer()
            stop = threading.Event()
            thread = threading.Thread(target=poller(sqs, queue, consumer).run, args=(stop,))
            thread.start()
            deadline = time.monotonic() + 5
            while not consumer.done and time.monotonic() < deadline:
                time.sleep(0.05)
            stop.set()
            thread.join(5)
            plain = kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext=context)
            assert plain["Plaintext"] == b"s3cret"
            with pytest.raises(ClientError, match="InvalidCiphertext"):
                kms.decrypt(
                    CiphertextBlob=blob["CiphertextBlob"],
                    EncryptionContext={**context, "account_id": "a2"},
                )
        finally:
            recording.uninstall()
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    seen = {(c["principal"], c["service"], c["operation"]): c["params"] for c in calls}
    assert seen["api_keys", "kms", "Encrypt"] == {"KeyId": key, "EncryptionContext": context}
    assert seen["orders", "sqs", "SendMessage"] == {"QueueUrl": queue.url}
    assert seen["esm:cancel_after", "sqs", "ReceiveMessage"] == {"QueueUrl": queue.url}
    assert seen["esm:cancel_after", "sqs", "DeleteMessageBatch"] == {"QueueUrl": queue.url}


def test_the_timer_queue_is_named_after_its_function_for_the_iam_check(sqs: Any) -> None:
    queue = DeployedQueue("TimersQueueAB12", None, {}, "TimersDlqCD34", 5)
    dead_letters = DeployedQueue("TimersDlqCD34", None, {}, None, None)
    deployment = Deployment(
        functions={},
        methods=(),
        websocket=None,  # type: ignore[arg-type]
        mappings=(),
        queues={q.logical_id: q for q in (queue, dead_letters)},
        queue_mappings=(DeployedQueueMapping("cancel_after", "TimersQueueAB12"),),
    )
    made = provision_queues(sqs, deployment.queues, local_names(deployment))
    assert made["TimersQueueAB12"].name == CANCEL_AFTER_QUEUE == "exchange-cancel-after"
    assert made["TimersDlqCD34"].name == "exchange-cancel-after-dead-letters"


def test_each_sqs_function_reads_its_own_queue_named_after_it(sqs: Any) -> None:
    """The payout worker and the emailer read their own queues (``FunctionSpec.queue``), each
    with its dead-letter queue, named after the function as the timer queue is."""
    queues = {
        logical: DeployedQueue(logical, None, {}, f"{logical}Dlq", 3)
        for logical in ("PayoutQueue", "NotificationsQueue")
    }
    queues |= {f"{q}Dlq": DeployedQueue(f"{q}Dlq", None, {}, None, None) for q in list(queues)}
    deployment = Deployment(
        functions={},
        methods=(),
        websocket=None,  # type: ignore[arg-type]
        mappings=(),
        queues=queues,
        queue_mappings=(
            DeployedQueueMapping("payouts", "PayoutQueue"),
            DeployedQueueMapping("emailer", "NotificationsQueue"),
        ),
    )
    made = provision_queues(sqs, deployment.queues, local_names(deployment))
    names = {logical: queue.name for logical, queue in made.items()}
    assert names == {
        "PayoutQueue": "exchange-payouts",
        "PayoutQueueDlq": "exchange-payouts-dead-letters",
        "NotificationsQueue": "exchange-emailer",
        "NotificationsQueueDlq": "exchange-emailer-dead-letters",
    }
    redrive = sqs.get_queue_attributes(
        QueueUrl=made["PayoutQueue"].url, AttributeNames=["RedrivePolicy"]
    )["Attributes"]["RedrivePolicy"]
    assert json.loads(redrive) == {
        "deadLetterTargetArn": made["PayoutQueueDlq"].arn,
        "maxReceiveCount": 3,
    }


def test_a_disabled_mapping_polls_nothing_and_its_queue_keeps_the_messages(sqs: Any) -> None:
    """ "UpdateEventSourceMapping" (AWS Lambda API Reference): ``Enabled`` false pauses polling;
    the messages wait in the queue, and are delivered once it is enabled again."""
    queue = timers(sqs)["Timers"]
    consumer = Consumer()
    pollers = QueuePollers([poller(sqs, queue, consumer, idle_poll_s=0.05)])
    assert pollers.set_enabled("cancel_after", False) == ["Timers"]
    pollers.start()
    try:
        sqs.send_message(QueueUrl=queue.url, MessageBody="held")
        time.sleep(0.5)
        assert consumer.done == []
        assert depth(sqs, queue) == (1, 0)
        assert pollers.status()["cancel_after/Timers"]["enabled"] is False
        pollers.set_enabled("cancel_after", True)
        deadline = time.monotonic() + 5
        while not consumer.done and time.monotonic() < deadline:
            time.sleep(0.05)
        assert consumer.done == ["held"]
    finally:
        pollers.stop()
    with pytest.raises(KeyError):
        pollers.set_enabled("payouts", False)
