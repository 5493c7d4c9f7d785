"""The SQS queues, their Lambda event source mappings and the KMS keys the template deploys, read
(``local.template``), so local mode provisions them in moto as deployed (``local.sqs``,
``local.kms``).

CloudFormation's defaults apply where the template sets nothing ("AWS::SQS::Queue",
"AWS::Lambda::EventSourceMapping", "AWS::KMS::Key", AWS CloudFormation User Guide): a queue's
visibility timeout is 30 s, its delay and receive wait 0; an SQS mapping's batch size is 10.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from local.cfn import Resources, TemplateError, of_type, referenced_function, referenced_logical

SQS_QUEUE: Final = "AWS::SQS::Queue"
KMS_KEY: Final = "AWS::KMS::Key"
# Queue properties that become CreateQueue attributes unchanged (numbers and flags).
_QUEUE_ATTRIBUTES: Final = (
    "VisibilityTimeout",
    "DelaySeconds",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "MaximumMessageSize",
    "FifoQueue",
    "ContentBasedDeduplication",
)


@dataclass(frozen=True, slots=True)
class DeployedQueue:
    logical_id: str
    name: str | None  # QueueName when the template sets one
    attributes: Mapping[str, str]  # CreateQueue attributes, as strings
    dead_letter_queue: str | None  # the redrive target's logical id
    max_receive_count: int | None

    @property
    def visibility_timeout_s(self) -> int:
        return int(self.attributes.get("VisibilityTimeout", "30"))


@dataclass(frozen=True, slots=True)
class DeployedQueueMapping:
    """An SQS event source mapping (no ``StartingPosition``: that is a stream's)."""

    function: str
    queue: str  # the queue's logical id
    batch_size: int = 10
    report_item_failures: bool = False
    batching_window_s: int = 0


@dataclass(frozen=True, slots=True)
class DeployedKey:
    logical_id: str
    key_spec: str = "SYMMETRIC_DEFAULT"
    key_usage: str = "ENCRYPT_DECRYPT"


def _literal(logical: str, name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    raise TemplateError(f"{logical}: {name} is {value!r}; local mode needs a literal")


def queues(resources: Resources) -> dict[str, DeployedQueue]:
    found: dict[str, DeployedQueue] = {}
    for logical, props in of_type(resources, SQS_QUEUE):
        attributes: dict[str, str] = {
            name: _literal(logical, name, props[name])
            for name in _QUEUE_ATTRIBUTES
            if name in props
        }
        redrive = props.get("RedrivePolicy") or {}
        target = referenced_logical(redrive.get("deadLetterTargetArn"))
        if redrive and (target is None or resources.get(target, {}).get("Type") != SQS_QUEUE):
            raise TemplateError(f"{logical}: a redrive target that is not a queue of the stack")
        name = props.get("QueueName")
        found[logical] = DeployedQueue(
            logical_id=logical,
            name=name if isinstance(name, str) else None,
            attributes=attributes,
            dead_letter_queue=target,
            max_receive_count=int(redrive["maxReceiveCount"]) if redrive else None,
        )
    return found


def queue_mappings(
    resources: Resources, by_logical: Mapping[str, str]
) -> Iterator[DeployedQueueMapping]:
    for logical, props in of_type(resources, "AWS::Lambda::EventSourceMapping"):
        queue = referenced_logical(props.get("EventSourceArn"))
        if queue is None or resources.get(queue, {}).get("Type") != SQS_QUEUE:
            continue
        function = referenced_function(props.get("FunctionName"), by_logical)
        if function is None:
            continue
        if props.get("FilterCriteria"):
            raise TemplateError(f"{logical}: an SQS mapping's FilterCriteria has no local twin")
        if props.get("Enabled") is False:
            continue
        yield DeployedQueueMapping(
            function=function,
            queue=queue,
            batch_size=int(props.get("BatchSize", 10)),
            report_item_failures="ReportBatchItemFailures"
            in props.get("FunctionResponseTypes", ()),
            batching_window_s=int(props.get("MaximumBatchingWindowInSeconds", 0)),
        )


def keys(resources: Resources) -> dict[str, DeployedKey]:
    return {
        logical: DeployedKey(
            logical,
            key_spec=str(props.get("KeySpec", "SYMMETRIC_DEFAULT")),
            key_usage=str(props.get("KeyUsage", "ENCRYPT_DECRYPT")),
        )
        for logical, props in of_type(resources, KMS_KEY)
    }
