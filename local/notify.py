"""SNS and SES locally: the template's topics, their SQS subscriptions, and SES's sender identities
and configuration sets, made in moto (``local.template_topics`` reads them).

- moto delivers what is published to a topic to its SQS subscribers in-process, in the publish
  call, raw when the subscription says ``RawMessageDelivery`` (the body as published, the message
  attributes as SQS message attributes: "Amazon SNS raw message delivery", Amazon SNS Developer
  Guide). ``tests/unit/local/test_notify.py`` pins it. So the notifications queue fills as it does
  in AWS, and its poller (``local.sqs``) hands it to the emailer.
- SES sends only from a verified identity ("Verified identities in Amazon SES": every "From"
  address must be verified), and moto refuses an unverified sender as SES does
  (``MessageRejected``, pinned too). Local mode creates the template's identities, which moto
  takes as verified at once (in AWS, once its DNS records or its confirmation email are in). The
  account is taken as out of the SES sandbox, as the deployment's must be: recipients need no
  verification.
- What is published and sent stays in moto's backends; the local mailbox (``local.mailbox``)
  reads the sent emails from there.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from exchange.settings import NotificationsTopicSettings, env_var
from local.aws import NOTIFICATIONS_TOPIC
from local.cfn import TemplateError, referenced_logical
from local.sqs import LocalQueue
from local.template import DeployedFunction
from local.template_topics import DeployedEmail, DeployedSubscription, DeployedTopic

TOPIC_NAME_LIMIT: Final = 256
CONFIGURATION_SET_NAME_LIMIT: Final = 64
TOPIC_VARIABLE: Final = env_var(NotificationsTopicSettings, "notifications_topic_arn")

# Logical id -> what its ``Ref`` and each ``Fn::GetAtt`` attribute are locally.
StandIns = dict[str, dict[str, str]]


@dataclass(frozen=True, slots=True)
class LocalTopic:
    logical_id: str
    arn: str

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1]

    @property
    def attributes(self) -> dict[str, str]:
        """The topic's ``Ref`` (its ARN) and ``Fn::GetAtt`` attributes, locally."""
        return {"Ref": self.arn, "TopicArn": self.arn, "TopicName": self.name}


def topic_name(topic: DeployedTopic, name: str | None = None) -> str:
    """The template's TopicName, else ``name``, else one made from the logical id (where
    CloudFormation would make ``<stack>-<logical id>-<suffix>``).

    >>> topic_name(DeployedTopic("AlarmsTopic1A2B", None))
    'exchange-AlarmsTopic1A2B'
    >>> topic_name(DeployedTopic("NotificationsTopic1A2B", None), NOTIFICATIONS_TOPIC)
    'exchange-notifications'
    >>> topic_name(DeployedTopic("Events", None, fifo=True))
    'exchange-Events.fifo'
    """
    if topic.name is not None:
        return topic.name
    suffix = ".fifo" if topic.fifo else ""
    base = name or f"exchange-{topic.logical_id}"
    return base[: TOPIC_NAME_LIMIT - len(suffix)] + suffix


def topic_names(functions: Mapping[str, DeployedFunction]) -> dict[str, str]:
    """Topic logical id -> its local name: the notifications topic (the one the functions'
    ``notifications_topic_arn`` names) is ``NOTIFICATIONS_TOPIC``, as the IAM check expects."""
    return {
        logical: NOTIFICATIONS_TOPIC
        for function in functions.values()
        if (logical := referenced_logical(function.environment.get(TOPIC_VARIABLE))) is not None
    }


def provision_topics(
    sns: Any,
    topics: Mapping[str, DeployedTopic],
    subscriptions: tuple[DeployedSubscription, ...],
    queues: Mapping[str, LocalQueue],
    names: Mapping[str, str] | None = None,
) -> dict[str, LocalTopic]:
    """Create ``topics`` (named ``names[logical id]`` where given) and subscribe each
    subscription's queue (already made: ``local.sqs``); logical id -> the local topic."""
    made: dict[str, LocalTopic] = {}
    for logical, topic in topics.items():
        attributes = {"FifoTopic": "true"} if topic.fifo else {}
        name = topic_name(topic, (names or {}).get(logical))
        arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        made[logical] = LocalTopic(logical, arn)
    for subscription in subscriptions:
        queue = queues.get(subscription.queue)
        if queue is None:
            raise TemplateError(f"the subscription's queue {subscription.queue} was not made")
        raw = "true" if subscription.raw_message_delivery else "false"
        attributes = {"RawMessageDelivery": raw}
        if subscription.filter_policy is not None:
            attributes["FilterPolicy"] = subscription.filter_policy
        sns.subscribe(
            TopicArn=made[subscription.topic].arn,
            Protocol="sqs",
            Endpoint=queue.arn,
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )
    return made


def configuration_set_name(logical_id: str, name: str | None) -> str:
    """The template's Name, else one made from the logical id (letters, digits, ``-``, ``_``).

    >>> configuration_set_name("EmailSet", None), configuration_set_name("EmailSet", "mail")
    ('exchange-EmailSet', 'mail')
    """
    return name if name is not None else f"exchange-{logical_id}"[:CONFIGURATION_SET_NAME_LIMIT]


def provision_email(sesv2: Any, email: DeployedEmail) -> StandIns:
    """Verify the template's sender identities and create its configuration sets in moto's SES;
    logical id -> the configuration set's ``Ref`` (its name)."""
    for identity in email.identities:
        sesv2.create_email_identity(EmailIdentity=identity)
    stand_ins: StandIns = {}
    for logical, name in email.configuration_sets.items():
        local_name = configuration_set_name(logical, name)
        sesv2.create_configuration_set(ConfigurationSetName=local_name)
        stand_ins[logical] = {"Ref": local_name}
    return stand_ins
