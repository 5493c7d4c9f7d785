"""SQS locally: the template's queues in moto, and Lambda's SQS event source mapping as pollers.

``provision_queues`` creates every queue the template deploys (``local.template_queues``) with its
attributes (visibility timeout, retention, delay, redrive to its dead-letter queue), so what a
function sends waits, becomes visible and is redriven as deployed. moto honours a message's own
``DelaySeconds`` (``tests/unit/local/test_sqs.py`` pins it), so timers need no emulation here.

A ``QueuePoller`` does what "Using Lambda with Amazon SQS" (AWS Lambda Developer Guide) says of
the mapping:

- it polls the queue for up to ``batch_size`` messages, gathering for at most the batching
  window, and invokes the function synchronously with one batch (``sqs_record`` each);
- Lambda long-polls, and a long poll returns as soon as a message is available. moto's long poll
  looks at the queue again only once a second, so a delayed message that falls due meanwhile
  would wait up to a second more (measured). So an idle poller asks again every
  ``idle_poll_s`` (0.2 s) without a wait: a timer reaches the function within ~0.2 s of falling
  due, as in AWS;
- when the function succeeds, it deletes the batch; when it raises (or its answer reports a bad
  item), every message stays and becomes visible again after the queue's visibility timeout;
- with ``ReportBatchItemFailures`` it deletes all but the messages reported in
  ``batchItemFailures`` ("Handling errors for an SQS event source in Lambda": an empty or null
  list is full success; an empty, null or unknown ``itemIdentifier`` fails the whole batch);
- a message received more than the redrive policy's ``maxReceiveCount`` times goes to the
  dead-letter queue (moto does that on receive, as SQS does);
- a mapping can be disabled and enabled again (``UpdateEventSourceMapping`` ``Enabled``;
  ``POST /_local/mappings/disable``): meanwhile its queue keeps what is sent to it.
"""

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from exchange.observability import logger
from local import recording
from local.aws import mapped_queue_name
from local.functions import FunctionError, FunctionMissing
from local.template import Deployment
from local.template_queues import DeployedQueue, DeployedQueueMapping

Invoke = Callable[[dict[str, Any]], Any]
RECEIVE_LIMIT: Final = 10  # ReceiveMessage's MaxNumberOfMessages
QUEUE_NAME_LIMIT: Final = 80


@dataclass(frozen=True, slots=True)
class LocalQueue:
    logical_id: str
    url: str
    arn: str

    @property
    def attributes(self) -> dict[str, str]:
        """What the template's ``Ref`` and ``Fn::GetAtt`` of the queue are locally."""
        return {"Ref": self.url, "Arn": self.arn, "QueueUrl": self.url, "QueueName": self.name}

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def queue_name(queue: DeployedQueue, name: str | None = None) -> str:
    """The template's QueueName, else ``name``, else one made from the logical id (where AWS
    would make ``<stack>-<logical id>-<suffix>``)."""
    if queue.name is not None:
        return queue.name
    suffix = ".fifo" if queue.attributes.get("FifoQueue") == "true" else ""
    base = name or f"exchange-{queue.logical_id}"
    return base[: QUEUE_NAME_LIMIT - len(suffix)] + suffix


def local_names(deployment: Deployment) -> dict[str, str]:
    """Queue logical id -> its local name: a mapped queue after its function
    (``local.aws.mapped_queue_name``), its dead-letter queue after it."""
    names: dict[str, str] = {}
    for mapping in deployment.queue_mappings:
        name = names[mapping.queue] = mapped_queue_name(mapping.function)
        dead_letters = deployment.queues[mapping.queue].dead_letter_queue
        if dead_letters is not None:
            names[dead_letters] = f"{name}-dead-letters"
    return names


def provision_queues(
    sqs: Any, queues: Mapping[str, DeployedQueue], names: Mapping[str, str] | None = None
) -> dict[str, LocalQueue]:
    """Create ``queues`` (dead-letter queues first, so redrive policies can name them), named
    ``names[logical id]`` where given; logical id -> the local queue."""
    made: dict[str, LocalQueue] = {}

    def create(queue: DeployedQueue) -> LocalQueue:
        if queue.logical_id in made:
            return made[queue.logical_id]
        attributes = dict(queue.attributes)
        if queue.dead_letter_queue is not None:
            target = create(queues[queue.dead_letter_queue])
            redrive = {
                "deadLetterTargetArn": target.arn,
                "maxReceiveCount": queue.max_receive_count,
            }
            attributes["RedrivePolicy"] = json.dumps(redrive)
        name = queue_name(queue, (names or {}).get(queue.logical_id))
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        made[queue.logical_id] = LocalQueue(queue.logical_id, url, arn)
        return made[queue.logical_id]

    for queue in queues.values():
        create(queue)
    return made


def _message_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """ReceiveMessage's ``MessageAttributes`` as the Lambda event spells them."""
    converted: dict[str, Any] = {}
    for name, value in attributes.items():
        binary = value.get("BinaryValue")
        converted[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": base64.b64encode(binary).decode("ascii") if binary else None,
            "stringListValues": list(value.get("StringListValues", [])),
            "binaryListValues": [
                base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues", [])
            ],
            "dataType": value["DataType"],
        }
    return converted


def sqs_record(message: Mapping[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One record of an SQS event source mapping's batch, from one ReceiveMessage message."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": _message_attributes(message.get("MessageAttributes", {})),
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


@dataclass(frozen=True, slots=True)
class QueueMappingConfig:
    batch_size: int = 10
    report_item_failures: bool = False
    batching_window_s: float = 0.0
    wait_time_s: int = 0  # ReceiveMessage's WaitTimeSeconds (see the module on moto's)
    idle_poll_s: float = 0.2  # an empty queue is asked again after this long

    @classmethod
    def deployed(cls, mapping: DeployedQueueMapping) -> "QueueMappingConfig":
        return cls(
            batch_size=mapping.batch_size,
            report_item_failures=mapping.report_item_failures,
            batching_window_s=mapping.batching_window_s,
        )


@dataclass
class QueuePollerStats:
    received: int = 0
    deleted: int = 0
    invocations: int = 0
    failed_batches: int = 0
    failed_items: int = 0


@dataclass
class QueuePoller:
    sqs: Any
    queue: LocalQueue
    function: str
    invoke: Invoke
    region: str
    config: QueueMappingConfig = field(default_factory=QueueMappingConfig)
    stats: QueuePollerStats = field(default_factory=QueuePollerStats)
    # The mapping's ``Enabled`` (UpdateEventSourceMapping): a disabled mapping polls nothing, and
    # the queue keeps its messages until it is enabled again.
    enabled: bool = True

    def _receive(self, wait_s: int, count: int) -> list[dict[str, Any]]:
        try:
            response = self.sqs.receive_message(
                QueueUrl=self.queue.url,
                MaxNumberOfMessages=min(count, RECEIVE_LIMIT),
                WaitTimeSeconds=wait_s,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except (BotoCoreError, ClientError) as exc:
            logger.warning("ReceiveMessage failed", extra={"error": repr(exc)})
            return []
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _batch(self) -> list[dict[str, Any]]:
        batch = self._receive(self.config.wait_time_s, self.config.batch_size)
        deadline = time.monotonic() + self.config.batching_window_s
        while batch and len(batch) < self.config.batch_size and time.monotonic() < deadline:
            more = self._receive(0, self.config.batch_size - len(batch))
            if not more:
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
            batch += more
        return batch

    def poll_once(self) -> int:
        """Receive one batch and hand it to the function; the number of messages received."""
        messages = self._batch()
        if not messages:
            return 0
        self.stats.received += len(messages)
        records = [sqs_record(m, queue_arn=self.queue.arn, region=self.region) for m in messages]
        failed = self._run(records)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), RECEIVE_LIMIT):
            chunk = done[start : start + RECEIVE_LIMIT]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
        self.stats.deleted += len(done)
        return len(messages)

    def _run(self, records: list[dict[str, Any]]) -> set[str]:
        """Invoke; the ids of the messages that stay in the queue."""
        every = {record["messageId"] for record in records}
        self.stats.invocations += 1
        try:
            result = self.invoke({"Records": records})
        except (FunctionError, FunctionMissing) as exc:
            logger.warning(
                "queue function failed", extra={"function": self.function, "error": str(exc)}
            )
            self.stats.failed_batches += 1
            return every
        if not self.config.report_item_failures:
            return set()  # the answer is not read: no error, the batch is done
        failed = _reported_failures(result, every)
        if failed is None:
            logger.warning("bad batchItemFailures: the whole batch fails", extra={"result": result})
            self.stats.failed_batches += 1
            return every
        self.stats.failed_items += len(failed)
        return failed

    def run(self, stop: threading.Event) -> None:
        # The event source mapping reads and deletes with the function's role.
        recording.current_principal.set(f"esm:{self.function}")
        while not stop.is_set():
            if not self.enabled or not self.poll_once():
                stop.wait(self.config.idle_poll_s)


def _reported_failures(result: Any, batch: set[str]) -> set[str] | None:
    """The message ids a partial batch response reports, or None when it fails the batch."""
    if result is None or (isinstance(result, dict) and not result):
        return set()
    if not isinstance(result, dict):
        return None
    failures = result.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    reported: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in batch:
            return None
        reported.add(identifier)
    return reported


class QueuePollers:
    """One poller per SQS event source mapping of the template."""

    def __init__(self, pollers: list[QueuePoller]) -> None:
        self.pollers = pollers
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @classmethod
    def deployed(
        cls,
        sqs: Any,
        deployment: Deployment,
        queues: Mapping[str, LocalQueue],
        invokers: Mapping[str, Invoke],
        *,
        region: str,
    ) -> "QueuePollers":
        """Pollers for the mappings whose function is in ``invokers`` (the hosted ones)."""
        return cls(
            [
                QueuePoller(
                    sqs=sqs,
                    queue=queues[mapping.queue],
                    function=mapping.function,
                    invoke=invokers[mapping.function],
                    region=region,
                    config=QueueMappingConfig.deployed(mapping),
                )
                for mapping in deployment.queue_mappings
                if mapping.function in invokers
            ]
        )

    def start(self) -> None:
        for poller in self.pollers:
            thread = threading.Thread(
                target=poller.run, args=(self._stop,), name=f"esm-{poller.function}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def set_enabled(self, function: str, enabled: bool) -> list[str]:
        """Enable or disable ``function``'s mappings, as ``UpdateEventSourceMapping`` with
        ``Enabled`` does (a poll under way finishes); the queues whose mapping changed.
        KeyError when no mapping invokes ``function``."""
        changed = [p for p in self.pollers if p.function == function]
        if not changed:
            raise KeyError(f"no SQS mapping invokes {function}")
        for poller in changed:
            poller.enabled = enabled
        return [poller.queue.logical_id for poller in changed]

    def status(self) -> dict[str, Any]:
        return {
            f"{p.function}/{p.queue.logical_id}": {**p.stats.__dict__, "enabled": p.enabled}
            for p in self.pollers
        }
