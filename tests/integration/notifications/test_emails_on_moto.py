"""Notices end to end on moto (SNS -> SQS with raw message delivery -> the emailer -> SES, the
addresses in Cognito, the claims in DynamoDB) and the real ledger (its outbox and preferences,
read as the relay's and the emailer's own database roles): a deposit and a fill give exactly one
email each with the preferences on, none with them off, and a redelivery sends nothing more."""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws
from psycopg_pool import ConnectionPool

from exchange.domain import Side
from exchange.ledger.model import DepositNotice
from exchange.ledger.postgres import PostgresLedger
from exchange.notices import NoticeKind, NotificationPreferences
from exchange.notifications.notifier import FillNotifier
from exchange.notifications.publisher import SnsNoticePublisher
from exchange.notifications.relay import relay_notices
from exchange.settings import DEFAULT_ASSET_SCALES, EmailerSettings, database_role
from exchange.tables import TABLE_SPECS, bind_tables
from exchange.tables.notifications import NotificationRecord
from exchange.testing.lambda_events import LambdaContextStub
from lambdas.emailer.handler import compose, handler
from local.mailbox import emails
from tests.unit.ledger.helpers import CATALOG
from tests.unit.streams.helpers import Market, records

REGION = "us-east-1"
SENDER = "no-reply@exchange.example"


@dataclass
class Cloud:
    sns: Any
    sqs: Any
    topic_arn: str
    queue_url: str
    settings: EmailerSettings
    subs: dict[str, str]  # name -> the Cognito user's sub (the ledger's account id)
    addresses: dict[str, str]  # name -> email

    def publisher(self) -> SnsNoticePublisher:
        return SnsNoticePublisher(self.topic_arn, lambda: self.sns)

    def drain(self) -> list[dict[str, Any]]:
        """Every message on the queue, as the event source mapping hands them to Lambda."""
        out: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not got:
                return out
            for message in got:
                out.append(message)
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


def lambda_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
             "attributes": {}, "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
             "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
             "awsRegion": REGION}
            for m in messages
        ]
    }  # fmt: skip


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch, role_url: Callable[[str], str]) -> Iterator[Cloud]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic_arn = sns.create_topic(Name="notifications")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )  # fmt: skip
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
        cognito = boto3.client("cognito-idp", region_name=REGION)
        pool_id = cognito.create_user_pool(PoolName="users")["UserPool"]["Id"]
        run = uuid.uuid4().hex[:8]
        subs, addresses = {}, {}
        for name in ("alice", "bob"):
            email = f"{name}-{run}@example.com"
            user = cognito.admin_create_user(
                UserPoolId=pool_id, Username=email,
                UserAttributes=[{"Name": "email", "Value": email}], MessageAction="SUPPRESS",
            )["User"]  # fmt: skip
            subs[name] = next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")
            addresses[name] = email
        settings = EmailerSettings(
            database_url=role_url(database_role("emailer")),
            user_pool_id=pool_id,
            email_sender=SENDER,
            email_configuration_set="exchange-notices",
        )
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for spec in TABLE_SPECS:
            if spec.logical_name == "notifications":
                dynamodb.create_table(
                    **spec.create_table_kwargs(getattr(settings, spec.settings_field))
                )
        bind_tables(settings)
        yield Cloud(sns, sqs, topic_arn, queue_url, settings, subs, addresses)


def open_user(ledger: PostgresLedger, account_id: str) -> None:
    ledger.open_account(account_id)


def deposit(ledger: PostgresLedger, account_id: str, amount: str) -> None:
    event = uuid.uuid4().hex
    ledger.credit_deposit(
        DepositNotice(event_id=f"ev-{event}", deposit_id=f"dep-{event}", account_id=account_id,
                      asset="USD", amount=Decimal(amount), status="CREDITED", signed_at=0)
    )  # fmt: skip


def test_a_deposit_and_a_fill_give_one_email_each_with_preferences_on_and_none_off(
    cloud: Cloud, ledger: PostgresLedger, as_role: Callable[[str], ConnectionPool]
) -> None:
    alice, bob = cloud.subs["alice"], cloud.subs["bob"]
    # Given alice wants deposits and fills, bob wants neither
    for account in (alice, bob):
        open_user(ledger, account)
    ledger.set_notification_preferences(
        NotificationPreferences(alice, {NoticeKind.FILL: True, NoticeKind.DEPOSIT: True})
    )
    ledger.set_notification_preferences(
        NotificationPreferences(bob, {NoticeKind.FILL: False, NoticeKind.DEPOSIT: False})
    )
    # And each is credited a deposit (the ledger writes its notice) and they trade
    deposit(ledger, alice, "25.00")
    deposit(ledger, bob, "30.00")
    relay = PostgresLedger(
        as_role(database_role("notices_relay")), instruments=CATALOG,
        asset_scales=DEFAULT_ASSET_SCALES,
    )  # fmt: skip
    assert relay_notices(relay, cloud.publisher(), limit=10_000) >= 2
    market = Market()
    market.order("o-b", Side.SELL, "0.5", "65000.00", account=bob)
    market.order("o-a", Side.BUY, "0.2", "65000.00", account=alice)
    FillNotifier(cloud.publisher(), catalog=CATALOG).publish(records(market.events, size=100)[0])
    # When the emailer takes the queue (as the relay's and the notifier's SNS messages arrive)
    messages = cloud.drain()
    assert {m["MessageAttributes"]["kind"]["StringValue"] for m in messages} >= {"FILL", "DEPOSIT"}
    emailer = compose(cloud.settings)
    response = handler(lambda_event(messages), LambdaContextStub("emailer"), emailer=emailer)
    assert response == {"batchItemFailures": []}
    # Then alice got exactly one deposit email and one fill email, bob none
    to_alice = emails(cloud.addresses["alice"])
    assert sorted(e["subject"] for e in to_alice) == [
        "Deposit credited: 25.00000000 USD",  # at the asset's ledger scale
        "Order filled: buy 0.2000 BTC-USD at 65000.00",
    ]
    assert {e["notice_id"].split("#")[0] for e in to_alice} == {"ledger", "fill"}
    assert all(e["from"] == SENDER for e in to_alice)
    assert emails(cloud.addresses["bob"]) == []
    bobs = [r for r in NotificationRecord.scan() if r.account_id == bob]
    assert sorted((r.kind, r.status) for r in bobs) == [("DEPOSIT", "SKIPPED"), ("FILL", "SKIPPED")]
    # And the same messages delivered again send nothing more
    response = handler(lambda_event(messages), LambdaContextStub("emailer"), emailer=emailer)
    assert response == {"batchItemFailures": []}
    assert len(emails(cloud.addresses["alice"])) == 2
