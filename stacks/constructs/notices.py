"""Notifications: the topic every notice is published to, the queue the emailer reads from it,
and the SES identity and configuration set the emailer sends with.

- The topic (``Need.NOTIFICATIONS_TOPIC``) is encrypted with the region's data key and refuses
  plain HTTP. The notifications queue subscribes to it with raw message delivery, so each SQS
  message body is the ``Notice`` JSON itself ("Amazon SNS raw message delivery"); the queue's policy
  lets only this topic send (``aws:SourceArn``), and SNS encrypts into the queue as a service,
  which the data key's policy allows (``stacks.constructs.keys``).
- SES (``Need.EMAIL``): a domain identity (DKIM, Easy DKIM's three CNAME records to publish in the
  domain's DNS: ``docs/deploy.md``, "Email") and a configuration set that requires TLS to the
  receiving server and suppresses addresses that bounced or complained. The emailer may send only
  from that identity and only with that configuration set.
"""

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.constructs.work_queues import WorkQueue


class NotificationsTopic(Construct):
    """``topic``, and ``queue`` (a ``WorkQueue``) subscribed to it with raw message delivery."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        key: kms.IKey,
        consumer_timeout_seconds: int,
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"{name} notices",
            master_key=key,
            enforce_ssl=True,
        )
        self.queue = WorkQueue(
            self,
            "Emails",
            purpose="the notices to email",
            key=key,
            consumer_timeout_seconds=consumer_timeout_seconds,
            retain=retain,
        )
        # CDK adds the queue policy statement allowing sns:SendMessage from this topic only.
        self.topic.add_subscription(
            subscriptions.SqsSubscription(self.queue.queue, raw_message_delivery=True)
        )


class Email(Construct):
    """``identity`` (the domain) and ``configuration_set`` (named ``configuration_set_name``)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, domain: str, configuration_set_name: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.domain = domain
        self.configuration_set_name = configuration_set_name
        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=configuration_set_name,
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
            reputation_metrics=True,
            sending_enabled=True,
        )
        self.identity = ses.EmailIdentity(
            self,
            "Identity",
            identity=ses.Identity.domain(domain),
            configuration_set=self.configuration_set,
        )

    def send_resources(self, scope: Construct) -> list[str]:
        """What ``ses:SendEmail`` is authorized on ("Actions, resources, and condition keys for
        Amazon Simple Email Service v2": SendEmail's resource types are the identity and the
        configuration set): ``identity/<domain>`` and ``configuration-set/<name>`` here."""
        stack = Stack.of(scope)
        return [
            stack.format_arn(
                service="ses",
                resource=resource,
                resource_name=name,
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
            for resource, name in (
                ("identity", self.domain),
                ("configuration-set", self.configuration_set_name),
            )
        ]
