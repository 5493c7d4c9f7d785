"""SNS, SES and the money-out settings in local mode: the template's topics, subscriptions, sender
identities and configuration sets made in moto as deployed, and the functions' environments that
name them.

- "Amazon SNS raw message delivery" (Amazon SNS Developer Guide): with ``RawMessageDelivery`` an
  SQS subscriber gets the message as published, without SNS's JSON envelope; "Amazon SNS message
  attributes": with raw delivery the message attributes reach SQS as message attributes. moto
  delivers in-process in the publish call (pinned here), so nothing else stands in for SNS.
- "Verified identities in Amazon SES" (Amazon SES Developer Guide): every "From" address must be a
  verified identity (an address, or its domain); SES refuses others with ``MessageRejected``.
  moto does too (pinned), so the local stack verifies the template's identities and no other.
- CloudFormation: a topic's ``Ref`` is its ARN ("AWS::SNS::Topic" return values), a
  configuration set's ``Ref`` its name ("AWS::SES::ConfigurationSet").
"""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local.arguments import parse
from local.cfn import TemplateError
from local.environment import function_environment, shorten
from local.notify import provision_email, provision_topics
from local.options import DEFAULT_ARCHIVE_DIR, LOCAL_DESTINATION_DELAY_S
from local.sqs import provision_queues
from local.template import DeployedFunction
from local.template_queues import DeployedQueue
from local.template_topics import DeployedEmail, email, subscriptions, topics
from tests.unit.local.test_environment import values

REGION = "us-east-1"
SENDER = "no-reply@exchange.example"


def template(**subscription: Any) -> dict[str, dict[str, Any]]:
    """A topic, a queue with its dead-letter queue, and the subscription CDK's
    ``SqsSubscription(queue, raw_message_delivery=True)`` synthesizes."""
    return {
        "NotificationsTopic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Notifications": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Subscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "Protocol": "sqs",
                "TopicArn": {"Ref": "NotificationsTopic"},
                "Endpoint": {"Fn::GetAtt": ["Notifications", "Arn"]},
                "RawMessageDelivery": True,
                **subscription,
            },
        },
        "Sender": {"Type": "AWS::SES::EmailIdentity", "Properties": {"EmailIdentity": SENDER}},
        "EmailSet": {"Type": "AWS::SES::ConfigurationSet", "Properties": {}},
    }


def test_topics_subscriptions_and_email_are_read_from_the_template() -> None:
    resources = template()
    assert list(topics(resources)) == ["NotificationsTopic"]
    (subscription,) = subscriptions(resources)
    assert (subscription.topic, subscription.queue) == ("NotificationsTopic", "Notifications")
    assert subscription.raw_message_delivery
    assert subscription.filter_policy is None
    assert email(resources) == DeployedEmail((SENDER,), {"EmailSet": None})


@pytest.mark.parametrize(
    "change",
    [
        {"Protocol": "lambda"},  # only SQS subscriptions have a local twin
        {"Endpoint": {"Fn::ImportValue": "another-stack-queue"}},
        {"TopicArn": "arn:aws:sns:us-east-1:111122223333:not-ours"},
    ],
)
def test_a_subscription_local_mode_cannot_make_stops_the_stack(change: dict[str, Any]) -> None:
    with pytest.raises(TemplateError):
        subscriptions(template(**change))


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        yield {
            name: boto3.client(name, region_name=REGION) for name in ("sqs", "sns", "sesv2", "ses")
        }


def made(aws: dict[str, Any], **subscription: Any) -> tuple[str, str]:
    """The template's topic and queue in moto: (topic ARN, queue URL)."""
    resources = template(**subscription)
    queue = DeployedQueue("Notifications", None, {}, None, None)
    queues = provision_queues(aws["sqs"], {"Notifications": queue}, {"Notifications": "notes"})
    local = provision_topics(aws["sns"], topics(resources), subscriptions(resources), queues)
    return local["NotificationsTopic"].arn, queues["Notifications"].url


def test_a_raw_subscription_gets_the_message_as_published_with_its_attributes(
    aws: dict[str, Any],
) -> None:
    topic, queue = made(aws)
    kind = {"kind": {"DataType": "String", "StringValue": "fill"}}
    aws["sns"].publish(TopicArn=topic, Message='{"notice_id": "n1"}', MessageAttributes=kind)
    (message,) = aws["sqs"].receive_message(QueueUrl=queue, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert message["Body"] == '{"notice_id": "n1"}'  # no SNS envelope
    assert message["MessageAttributes"]["kind"]["StringValue"] == "fill"


def test_without_raw_delivery_the_message_comes_in_the_sns_envelope(aws: dict[str, Any]) -> None:
    topic, queue = made(aws, RawMessageDelivery=False)
    aws["sns"].publish(TopicArn=topic, Message="hello")
    (message,) = aws["sqs"].receive_message(QueueUrl=queue)["Messages"]
    assert message["Body"] != "hello"
    assert '"Message": "hello"' in message["Body"]


def test_a_filter_policy_is_kept(aws: dict[str, Any]) -> None:
    topic, queue = made(aws, FilterPolicy={"kind": ["deposit"]})
    attribute = {"DataType": "String", "StringValue": "fill"}
    aws["sns"].publish(TopicArn=topic, Message="a fill", MessageAttributes={"kind": attribute})
    assert "Messages" not in aws["sqs"].receive_message(QueueUrl=queue)


def send(sesv2: Any, sender: str, configuration_set: str | None = None) -> str:
    extra = {} if configuration_set is None else {"ConfigurationSetName": configuration_set}
    answer = sesv2.send_email(
        FromEmailAddress=sender,
        Destination={"ToAddresses": ["alice@example.com"]},
        Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
        **extra,
    )
    return str(answer["MessageId"])


def test_ses_sends_from_the_templates_identity_only(aws: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as refused:
        send(aws["sesv2"], SENDER)
    assert refused.value.response["Error"]["Code"] == "MessageRejected"
    stand_ins = provision_email(aws["sesv2"], email(template()))
    assert stand_ins == {"EmailSet": {"Ref": "exchange-EmailSet"}}
    assert send(aws["sesv2"], SENDER, "exchange-EmailSet")
    with pytest.raises(ClientError):
        send(aws["sesv2"], "someone@elsewhere.example")
    sets = aws["sesv2"].list_configuration_sets()["ConfigurationSets"]
    assert sets == ["exchange-EmailSet"]


def test_the_functions_get_the_local_topic_and_configuration_set_for_the_templates_refs() -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:exchange-NotificationsTopic"
    stand_ins = {
        "NotificationsTopic": {"Ref": topic, "TopicArn": topic},
        "EmailSet": {"Ref": "exchange-EmailSet"},
    }
    notifier = DeployedFunction(
        "notifier",
        "NotifierFn",
        {"EXCHANGE_NOTIFICATIONS_TOPIC_ARN": {"Ref": "NotificationsTopic"}},
        60,
        None,
    )
    assert function_environment(notifier, values(), stand_ins)[
        "EXCHANGE_NOTIFICATIONS_TOPIC_ARN"
    ] == (topic)
    emailer = DeployedFunction(
        "emailer",
        "EmailerFn",
        {
            "EXCHANGE_EMAIL_SENDER": SENDER,
            "EXCHANGE_EMAIL_CONFIGURATION_SET": {"Ref": "EmailSet"},
            "EXCHANGE_USER_POOL_ID": {"Ref": "UserPool"},
        },
        60,
        None,
    )
    env = function_environment(emailer, values(), stand_ins)
    assert env["EXCHANGE_EMAIL_SENDER"] == SENDER  # the template's, verified in moto
    assert env["EXCHANGE_EMAIL_CONFIGURATION_SET"] == "exchange-EmailSet"
    assert env["EXCHANGE_USER_POOL_ID"] == "us-east-1_local"  # moto's pool


def test_the_payout_worker_calls_the_fake_provider_signing_with_the_secret_in_moto() -> None:
    payouts = DeployedFunction(
        "payouts",
        "PayoutsFn",
        {
            "EXCHANGE_PAYOUT_PROVIDER_URL": "https://api.provider.example",
            "EXCHANGE_PAYOUT_PROVIDER_SECRET_ARN": {"Ref": "ProviderSecret"},
        },
        60,
        None,
    )
    with_provider = values() | {"payout_provider_url": "http://127.0.0.1:9999"}
    env = function_environment(payouts, with_provider)
    assert env["EXCHANGE_PAYOUT_PROVIDER_URL"] == "http://127.0.0.1:9999"
    assert env["EXCHANGE_PAYOUT_PROVIDER_SECRET_ARN"].endswith(":secret:payout-provider")


def test_local_clocks_reach_every_function_that_reads_them_and_only_those() -> None:
    envs: dict[str, dict[str, str]] = {"account": {}, "reconciler": {}, "markets": {}}
    shorten(envs, {"destination_delay_seconds": "2", "reconcile_after_seconds": "60"})
    assert envs == {
        "account": {"EXCHANGE_DESTINATION_DELAY_SECONDS": "2"},
        "reconciler": {"EXCHANGE_RECONCILE_AFTER_SECONDS": "60"},
        "markets": {},
    }
    with pytest.raises(KeyError):
        shorten({"markets": {}}, {"destination_delay_seconds": "2"})


def test_make_run_shortens_the_destination_delay_and_archives_under_the_cache() -> None:
    options = parse([])
    assert options.destination_delay_s == LOCAL_DESTINATION_DELAY_S == 2
    assert options.archive_dir == DEFAULT_ARCHIVE_DIR
    assert DEFAULT_ARCHIVE_DIR.parts[-3:] == (".cache", "local", "archive")  # git-ignored
    assert parse(["--destination-delay", "0"]).destination_delay_s == 0
    with pytest.raises(SystemExit):
        parse(["--destination-delay", "-1"])
