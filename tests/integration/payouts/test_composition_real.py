"""The payout functions as their composition roots build them, from settings alone: the payouts
function (ledger as ``exchange_payouts``, the HTTPS adapter with the API secret, the topic) and the
deposits function's payout webhook (ledger as ``exchange_deposits``, the webhook secret), whose
notices are relayed to the topic (SNS on moto, read through an SQS subscription) right after the
commit."""

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import SecretStr

from exchange.ledger.model import WithdrawalStatus
from exchange.ledger.webhooks import sign
from exchange.settings import MoneyDepositsSettings, PayoutsSettings, database_role
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from lambdas.deposits import handler as deposits
from lambdas.payouts import handler as payouts
from tests.integration.payouts.conftest import API_SECRET, WEBHOOK_SECRET, Rig
from tests.integration.payouts.test_payouts_end_to_end import requested

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
REGION = "us-east-1"


@pytest.fixture
def topic(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Callable[[], list[Any]]]]:
    """A topic with an SQS subscription (raw delivery); yields its ARN and a reader of what was
    published."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
        arn = sns.create_topic(Name="exchange-notifications")["TopicArn"]
        url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(
            TopicArn=arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )

        def published() -> list[Any]:
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            return [json.loads(m["Body"]) for m in answer.get("Messages", [])]

        yield arn, published


@pytest.fixture
def roots() -> Iterator[None]:
    yield
    payouts.ROOT.reset()
    deposits.ROOT.reset()


def test_the_composed_functions_pay_out_and_relay_the_notices(
    rig: Rig,
    role_url: Callable[[str], str],
    topic: tuple[str, Callable[[], list[Any]]],
    roots: None,
) -> None:
    topic_arn, published = topic
    # Given both functions built from their settings, as Lambda builds them
    payouts.ROOT.use_settings(
        PayoutsSettings(
            database_url=role_url(database_role("payouts")),
            payout_provider_url=rig.provider.url,
            payout_provider_secret=SecretStr(API_SECRET.decode()),
            notifications_topic_arn=topic_arn,
        )
    )
    deposits.ROOT.use_settings(
        MoneyDepositsSettings(
            database_url=role_url(database_role("deposits")),
            webhook_secret=SecretStr(WEBHOOK_SECRET.decode()),
            notifications_topic_arn=topic_arn,
        )
    )
    # ... a withdrawal held (the provider's own webhook kept back: this test posts it), and the
    # outbox emptied of the earlier tests' notices, so the relay's limit reaches this one's
    rig.provider.webhook_url = None
    withdrawal = requested(rig)
    earlier = rig.admin.unpublished_notices(limit=100_000)
    rig.admin.mark_published(
        [n.notice_id for n in earlier if n.data.get("withdrawal_id") != withdrawal.withdrawal_id]
    )

    # When the queue delivers the withdrawal to the payouts function
    event = {"Records": [sqs_record(withdrawal.withdrawal_id)]}
    assert payouts.handler(event, LambdaContextStub()) == {"batchItemFailures": []}

    # And the provider's webhook reaches the deposits function
    (payout,) = rig.provider.payouts.values()
    body = json.dumps(
        {
            "event_id": "evt-composed",
            "type": "payout.completed",
            "withdrawal_id": withdrawal.withdrawal_id,
            "provider_reference": payout.reference,
            "asset": "USD",
            "amount": "40.00",
        }
    ).encode()
    headers = {"Exchange-Signature": sign(body, secret=WEBHOOK_SECRET, timestamp=int(time.time()))}
    response = deposits.handler(
        rest_event("POST", "/v1/webhooks/payouts", body=body.decode(), headers=headers),
        LambdaContextStub(),
    )

    # Then it completed, and the completion's notice went out on the topic at once
    assert response["statusCode"] == 200
    done = rig.admin.withdrawal(withdrawal.account_id, withdrawal.withdrawal_id)
    assert done.status is WithdrawalStatus.COMPLETED
    notices = [n for n in published() if n["data"].get("withdrawal_id") == withdrawal.withdrawal_id]
    assert sorted(n["event"] for n in notices) == ["withdrawal.completed", "withdrawal.requested"]


def sqs_record(withdrawal_id: str) -> dict[str, Any]:
    return {
        "messageId": "m-1",
        "receiptHandle": "handle",
        "body": json.dumps({"withdrawal_id": withdrawal_id}),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:exchange-payouts",
        "awsRegion": "us-east-1",
    }
