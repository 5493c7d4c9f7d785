"""Monitoring an operator can act on: the region's alarm topic (here, in the main stack) and its
subscribers from configuration, and the alarms and dashboard (``watch``, a nested stack).

The topic stays in the main stack where it has always been, so its confirmed e-mail
subscriptions survive the alarms' move into the nested stack; it is KMS-encrypted with the
region's data key (whose key policy lets CloudWatch use it) and refuses plain HTTP. Its ARN is an
output (``AlarmTopicArn``): an SQS queue or a Lambda function subscribed by ARN must allow
``sns.amazonaws.com`` from that topic in its own resource policy, which this app cannot edit
(docs/deploy.md, "Alarm subscriptions").
"""

from collections.abc import Sequence

from aws_cdk import CfnOutput
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config import AlarmSubscription
from stacks.constructs.monitoring.props import MonitoringProps
from stacks.constructs.monitoring.watch import TIMER_AGE_LIMIT_SECONDS, AlarmsAndDashboard

__all__ = ["TIMER_AGE_LIMIT_SECONDS", "Monitoring", "MonitoringProps", "subscribe"]

_PROTOCOLS = {
    "email": sns.SubscriptionProtocol.EMAIL,
    "sms": sns.SubscriptionProtocol.SMS,
    "https": sns.SubscriptionProtocol.HTTPS,
    "sqs": sns.SubscriptionProtocol.SQS,
    "lambda": sns.SubscriptionProtocol.LAMBDA,
}


class Monitoring(Construct):
    """``topic`` with ``subscribers``; ``watch``: the alarms (notifying it) and the dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: MonitoringProps,
        key: kms.IKey,
        subscribers: Sequence[AlarmSubscription],
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self, "Alarms", display_name=f"{props.name} alarms", master_key=key, enforce_ssl=True
        )
        subscribe(self.topic, subscribers)
        CfnOutput(self, "AlarmTopicArn", value=self.topic.topic_arn)
        self.watch = AlarmsAndDashboard(self, "Watch", props=props, topic=self.topic)


def subscribe(topic: sns.Topic, subscribers: Sequence[AlarmSubscription]) -> None:
    """One subscription per subscriber. An e-mail address keeps the construct id the former
    single ``alarmEmail`` subscription had (``EmailSubscription`` names it by the address), so
    moving a deployment to ``alarmSubscriptions`` does not replace a confirmed subscription."""
    for subscriber in subscribers:
        sns.Subscription(
            topic,
            subscriber.endpoint,
            topic=topic,
            endpoint=subscriber.endpoint,
            protocol=_PROTOCOLS[subscriber.protocol],
        )
