"""The grants of money out and notifications' needs (``lambdas.kinds.Need``), for the function
factory (``stacks.constructs.functions``), with what each reaches and why:

- ``PAYOUT_QUEUE``: ``sqs:SendMessage`` on the payout queue only, and the data key's
  GenerateDataKey and Decrypt, which a producer of a KMS-encrypted queue needs ("Amazon SQS key
  management").
- ``PAYOUT_PROVIDER``: reads the provider's API secret (the factory adds the data key's Decrypt
  through Secrets Manager only); the provider's URL is public HTTPS, reached through the VPC's NAT
  gateways (the payout worker is in the VPC for the ledger: its private subnets route to the
  internet through NAT, ``stacks.constructs.network``).
- ``NOTIFICATIONS_TOPIC``: ``sns:Publish`` on the topic only, and the data key's GenerateDataKey
  and Decrypt, which a publisher to a KMS-encrypted topic needs ("Amazon SNS data encryption: key
  management").
- ``EMAIL``: ``ses:SendEmail`` on the domain identity and the configuration set only.
- ``USER_DIRECTORY``: ``cognito-idp:ListUsers`` on the one user pool (in the primary region: the
  DR region's emailer reads the same pool across regions).
"""

from dataclasses import dataclass

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lambdas.catalog import Need
from stacks.constructs.grants import key_statement
from stacks.constructs.notices import Email

MONEY_NEEDS = frozenset(
    {
        Need.PAYOUT_QUEUE,
        Need.PAYOUT_PROVIDER,
        Need.NOTIFICATIONS_TOPIC,
        Need.EMAIL,
        Need.USER_DIRECTORY,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class MoneyDeps:
    """What money out and notifications' functions are wired to."""

    payout_queue: sqs.IQueue
    payout_provider_secret: secretsmanager.ISecret
    payout_provider_url: str
    notifications_topic: sns.ITopic
    email: Email
    email_sender: str
    user_pool_arn: str

    def values(self) -> dict[str, str]:
        """The settings fields these configure (``lambdas.environment.NEED_FIELDS``)."""
        return {
            "payout_queue_url": self.payout_queue.queue_url,
            "payout_provider_url": self.payout_provider_url,
            "payout_provider_secret_arn": self.payout_provider_secret.secret_arn,
            "notifications_topic_arn": self.notifications_topic.topic_arn,
            "email_sender": self.email_sender,
            "email_configuration_set": self.email.configuration_set_name,
        }


def wire_money_need(
    need: Need, function: lambda_.Function, deps: MoneyDeps, *, key_arn: str, scope: Construct
) -> None:
    """Grant ``function`` what ``need`` (one of ``MONEY_NEEDS``) reaches; nothing else."""
    role = function.role
    if role is None:
        raise TypeError(f"{function.node.path} has no role")
    match need:
        case Need.PAYOUT_QUEUE:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["sqs:SendMessage"], resources=[deps.payout_queue.queue_arn]
                )
            )
            function.add_to_role_policy(key_statement(key_arn, write=True))
        case Need.PAYOUT_PROVIDER:
            deps.payout_provider_secret.grant_read(role)
        case Need.NOTIFICATIONS_TOPIC:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["sns:Publish"], resources=[deps.notifications_topic.topic_arn]
                )
            )
            function.add_to_role_policy(key_statement(key_arn, write=True))
        case Need.EMAIL:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["ses:SendEmail"], resources=deps.email.send_resources(scope)
                )
            )
        case Need.USER_DIRECTORY:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["cognito-idp:ListUsers"], resources=[deps.user_pool_arn]
                )
            )
        case _:
            raise ValueError(f"{need} is not a need of money out or notifications")
