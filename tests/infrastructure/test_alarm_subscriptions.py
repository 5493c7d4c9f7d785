"""The alarm topic's subscribers come from configuration (``exchange:alarmSubscriptions``, and the
older ``exchange:alarmEmail``): parsed and checked by ``stacks.config``, subscribed to each
region's topic, and the topic's ARN an output for the SQS and Lambda subscribers to allow."""

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as sns_subscriptions
from aws_cdk.assertions import Template

from exchange.domain import ConfigurationError
from stacks.config import AlarmSubscription
from stacks.constructs.monitoring import subscribe
from tests.infrastructure.conftest import MAIN_STACKS, Resources, of_type
from tests.infrastructure.test_app import config_from
from tests.infrastructure.test_operator_controls import topic_of

SUBSCRIBERS = [
    {"protocol": "email", "endpoint": "oncall@example.com"},
    {"protocol": "sms", "endpoint": "+14155550100"},
    {"protocol": "https", "endpoint": "https://events.pagerduty.com/integration/abc/enqueue"},
    {"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:alarms"},
    {"protocol": "lambda", "endpoint": "arn:aws:lambda:us-east-1:123456789012:function:pager"},
]


def test_subscribers_come_from_the_context_the_old_email_included() -> None:
    config = config_from(
        {"exchange:alarmSubscriptions": SUBSCRIBERS, "exchange:alarmEmail": "ops@example.com"}
    )
    assert [(s.protocol, s.endpoint) for s in config.alarm_subscribers] == [
        ("email", "ops@example.com"),
        *((s["protocol"], s["endpoint"]) for s in SUBSCRIBERS),
    ]
    # The CLI passes -c values as strings: a JSON list is read as one
    phone = '[{"protocol": "sms", "endpoint": "+14155550100"}]'
    cli = config_from({"exchange:alarmSubscriptions": phone})
    assert cli.alarm_subscribers == (AlarmSubscription(protocol="sms", endpoint="+14155550100"),)
    # The old key alone still subscribes its address, once
    legacy = config_from(
        {
            "exchange:alarmEmail": "oncall@example.com",
            "exchange:alarmSubscriptions": SUBSCRIBERS[:1],
        }
    )
    assert len(legacy.alarm_subscribers) == 1


@pytest.mark.parametrize(
    ("subscriptions", "message"),
    [
        ([{"protocol": "pager", "endpoint": "x"}], "protocol"),
        ([{"protocol": "email", "endpoint": "not-an-address"}], "no endpoint of protocol email"),
        ([{"protocol": "sms", "endpoint": "4155550100"}], "no endpoint of protocol sms"),
        ([{"protocol": "https", "endpoint": "http://a.example/hook"}], "of protocol https"),
        (
            [{"protocol": "sqs", "endpoint": "https://sqs.us-east-1.amazonaws.com/1/q"}],
            "of protocol sqs",
        ),
        (
            [{"protocol": "lambda", "endpoint": "arn:aws:sqs:us-east-1:123456789012:q"}],
            "of protocol lambda",
        ),
        ([{"protocol": "email", "endpoint": "a@b.c", "raw": True}], "raw"),
        ([SUBSCRIBERS[0], SUBSCRIBERS[0]], "twice"),
        ("[not json", "alarmSubscriptions"),
    ],
)
def test_a_bad_subscription_is_one_typed_error(subscriptions: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        config_from({"exchange:alarmSubscriptions": subscriptions})


def test_each_subscriber_subscribes_the_topic_and_an_email_keeps_its_old_logical_id() -> None:
    # Given a topic subscribed as the configuration says, and one subscribed the old way
    stack = Stack(App(), "Probe", env={"region": "us-east-1", "account": "123456789012"})
    topic = sns.Topic(stack, "Alarms")
    subscribe(topic, [AlarmSubscription.model_validate(s) for s in SUBSCRIBERS])
    old = Stack(App(), "Probe", env={"region": "us-east-1", "account": "123456789012"})
    sns.Topic(old, "Alarms").add_subscription(
        sns_subscriptions.EmailSubscription("oncall@example.com")
    )
    # Then one subscription per subscriber, with its protocol and endpoint, on the topic
    found = of_type(Template.from_stack(stack).to_json()["Resources"], "AWS::SNS::Subscription")
    ((topic_id, _),) = of_type(
        Template.from_stack(stack).to_json()["Resources"], "AWS::SNS::Topic"
    ).items()
    assert sorted(
        (s["Properties"]["Protocol"], s["Properties"]["Endpoint"]) for s in found.values()
    ) == sorted((s["protocol"], s["endpoint"]) for s in SUBSCRIBERS)
    assert all(s["Properties"]["TopicArn"] == {"Ref": topic_id} for s in found.values())
    # And the e-mail one is the resource the old alarmEmail made: not replaced, still confirmed
    (old_id,) = of_type(Template.from_stack(old).to_json()["Resources"], "AWS::SNS::Subscription")
    assert old_id in found


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_each_region_outputs_its_alarm_topic_for_subscribers_to_allow(
    stacks: dict[str, Stack], resources: dict[str, Resources], stack: str
) -> None:
    # A queue or a function subscribed by ARN must allow the topic in its own policy.
    outputs = Template.from_stack(stacks[stack]).to_json()["Outputs"]
    (arn,) = [
        o["Value"] for name, o in outputs.items() if name.startswith("MonitoringAlarmTopicArn")
    ]
    assert arn == topic_of(resources, stack)
