"""The notifications' resources the template deploys, read (``local.template``): SNS topics, their
SQS subscriptions, and the SES sender identities and configuration sets, so local mode makes them
in moto as deployed (``local.notify``).

CloudFormation's shapes ("AWS::SNS::Topic", "AWS::SNS::Subscription", "AWS::SES::EmailIdentity",
"AWS::SES::ConfigurationSet", AWS CloudFormation User Guide): a subscription names its topic
(``TopicArn``, the topic's ``Ref``) and its endpoint (an SQS queue's ``Arn``), and
``RawMessageDelivery`` delivers the message as published rather than in SNS's JSON envelope
("Amazon SNS raw message delivery", Amazon SNS Developer Guide). An SQS subscription to a queue of
another stack, or any other protocol, has no local twin and stops the stack.

>>> resources = {
...     "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
...     "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
...     "Sub": {"Type": "AWS::SNS::Subscription", "Properties": {
...         "Protocol": "sqs", "TopicArn": {"Ref": "Topic"},
...         "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]}, "RawMessageDelivery": True}},
... }
>>> subscriptions(resources)
(DeployedSubscription(topic='Topic', queue='Queue', raw_message_delivery=True, filter_policy=None),)
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from local.cfn import Resources, TemplateError, of_type, referenced_logical

SNS_TOPIC: Final = "AWS::SNS::Topic"
SNS_SUBSCRIPTION: Final = "AWS::SNS::Subscription"
SES_IDENTITY: Final = "AWS::SES::EmailIdentity"
SES_CONFIGURATION_SET: Final = "AWS::SES::ConfigurationSet"
_SQS_QUEUE: Final = "AWS::SQS::Queue"


@dataclass(frozen=True, slots=True)
class DeployedTopic:
    logical_id: str
    name: str | None  # TopicName when the template sets one
    fifo: bool = False


@dataclass(frozen=True, slots=True)
class DeployedSubscription:
    """An SQS subscription: ``topic`` and ``queue`` are logical ids of the stack."""

    topic: str
    queue: str
    raw_message_delivery: bool
    filter_policy: str | None  # the FilterPolicy as JSON, when the template sets one


@dataclass(frozen=True, slots=True)
class DeployedEmail:
    """SES: the verified identities (addresses or domains) and the configuration sets (logical
    id -> the template's ``Name``, None when CloudFormation would name it)."""

    identities: tuple[str, ...] = ()
    configuration_sets: Mapping[str, str | None] = field(default_factory=dict)


def topics(resources: Resources) -> dict[str, DeployedTopic]:
    found: dict[str, DeployedTopic] = {}
    for logical, props in of_type(resources, SNS_TOPIC):
        name = props.get("TopicName")
        found[logical] = DeployedTopic(
            logical_id=logical,
            name=name if isinstance(name, str) else None,
            fifo=props.get("FifoTopic") in (True, "true"),
        )
    return found


def subscriptions(resources: Resources) -> tuple[DeployedSubscription, ...]:
    found: list[DeployedSubscription] = []
    for logical, props in of_type(resources, SNS_SUBSCRIPTION):
        if props.get("Protocol") != "sqs":
            raise TemplateError(f"{logical}: an SNS {props.get('Protocol')!r} subscription")
        topic = referenced_logical(props.get("TopicArn"))
        queue = referenced_logical(props.get("Endpoint"))
        if topic is None or resources.get(topic, {}).get("Type") != SNS_TOPIC:
            raise TemplateError(f"{logical}: its topic is not a topic of the stack")
        if queue is None or resources.get(queue, {}).get("Type") != _SQS_QUEUE:
            raise TemplateError(f"{logical}: its endpoint is not a queue of the stack")
        policy = props.get("FilterPolicy")
        found.append(
            DeployedSubscription(
                topic=topic,
                queue=queue,
                raw_message_delivery=props.get("RawMessageDelivery") in (True, "true"),
                filter_policy=None if policy is None else json.dumps(policy, sort_keys=True),
            )
        )
    return tuple(found)


def _literal_name(logical: str, field: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TemplateError(f"{logical}: {field} is {value!r}; local mode needs a literal")


def email(resources: Resources) -> DeployedEmail:
    identities = []
    for logical, props in of_type(resources, SES_IDENTITY):
        identity = _literal_name(logical, "EmailIdentity", props.get("EmailIdentity"))
        if identity is None:
            raise TemplateError(f"{logical}: an email identity without EmailIdentity")
        identities.append(identity)
    sets = {
        logical: _literal_name(logical, "Name", props.get("Name"))
        for logical, props in of_type(resources, SES_CONFIGURATION_SET)
    }
    return DeployedEmail(identities=tuple(identities), configuration_sets=sets)
