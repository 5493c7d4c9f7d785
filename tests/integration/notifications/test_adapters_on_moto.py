"""The emailer's and publishers' AWS adapters on moto: the claims' conditional writes, the
directory's lookup by ``sub``, the SES request, SNS message attributes through raw delivery, and
the local mailbox's password-change notice and emails."""

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from exchange.notices import Notice, NoticeKind
from exchange.notifications.emailer import ClaimStatus, EmailNotSent
from exchange.notifications.emailer_aws import CognitoDirectory, DynamoClaims, SesMailer
from exchange.notifications.publisher import InMemoryNoticePublisher, SnsNoticePublisher
from exchange.notifications.templates import Email
from exchange.settings import EmailerSettings
from exchange.tables import TABLE_SPECS, bind_tables
from exchange.tables.notifications import NotificationRecord
from local.mailbox import PASSWORD_CHANGES, Mailbox, emails

REGION = "us-east-1"
PASSWORD = "Passw0rd!x"  # noqa: S105 - moto's user, in this test only
NOTICE = Notice(notice_id="ledger#9", kind=NoticeKind.DEPOSIT, event="deposit.credited",
                account_id="a-1", at_ns=0, data={"asset": "USD", "amount": "1"})  # fmt: skip


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmailerSettings]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        settings = EmailerSettings(database_url="postgresql://unused", user_pool_id="unset")
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for spec in TABLE_SPECS:
            if spec.logical_name == "notifications":
                dynamodb.create_table(
                    **spec.create_table_kwargs(getattr(settings, spec.settings_field))
                )
        bind_tables(settings)
        yield settings


def test_a_claim_is_taken_once_finished_released_and_taken_over_when_stale(
    aws: EmailerSettings,
) -> None:
    claims = DynamoClaims()
    # Taken once: the second put fails on attribute_not_exists(notice_id)
    assert claims.claim(NOTICE, ClaimStatus.SENDING, now_ns=100, stale_before=0)
    assert not claims.claim(NOTICE, ClaimStatus.SENDING, now_ns=101, stale_before=0)
    # A SENDING claim older than stale_before is taken over; a SENT one never is
    assert claims.claim(NOTICE, ClaimStatus.SENDING, now_ns=200, stale_before=150)
    claims.finish(NOTICE.notice_id, ClaimStatus.SENT, "ses-1")
    assert not claims.claim(NOTICE, ClaimStatus.SENDING, now_ns=10**18, stale_before=10**18)
    stored = NotificationRecord.get(NOTICE.notice_id)
    assert (stored.status, stored.message_id, stored.kind) == ("SENT", "ses-1", "DEPOSIT")
    assert stored.expires_at is not None
    # Released: the next delivery claims it again
    claims.release(NOTICE.notice_id)
    assert claims.claim(NOTICE, ClaimStatus.SENDING, now_ns=300, stale_before=0)


def test_the_directory_finds_the_address_by_sub_and_nothing_else(aws: EmailerSettings) -> None:
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool_id = cognito.create_user_pool(PoolName="users")["UserPool"]["Id"]
    user = cognito.admin_create_user(
        UserPoolId=pool_id, Username="ann@example.com", MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "ann@example.com"}],
    )["User"]  # fmt: skip
    sub = next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")
    directory = CognitoDirectory(pool_id, lambda: cognito)
    # ListUsers' Filter takes ``sub`` (a standard attribute it searches)
    assert directory.email_of(sub) == "ann@example.com"
    assert directory.email_of(str(uuid.uuid4())) is None
    assert directory.email_of('x" or email ^= "') is None  # never reaches the filter


def test_the_directory_that_cannot_answer_fails_the_send(aws: EmailerSettings) -> None:
    directory = CognitoDirectory("us-east-1_missing", lambda: boto3.client("cognito-idp"))
    with pytest.raises(EmailNotSent):
        directory.email_of(str(uuid.uuid4()))


def test_ses_gets_a_simple_message_from_the_sender_in_the_configuration_set() -> None:
    stub_keys = {"aws_access_key_id": "x", "aws_secret_access_key": "x"}  # a stubbed client's
    client = boto3.client("sesv2", region_name=REGION, **stub_keys)
    mailer = SesMailer("no-reply@exchange.example", lambda: client, configuration_set="notices")
    email = Email(subject="Hi", body="Body\n")
    with Stubber(client) as stub:
        stub.add_response(
            "send_email",
            {"MessageId": "ses-1"},
            {
                "FromEmailAddress": "no-reply@exchange.example",
                "Destination": {"ToAddresses": ["ann@example.com"]},
                "Content": {"Simple": {
                    "Subject": {"Data": "Hi", "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": "Body\n", "Charset": "UTF-8"}},
                }},
                "EmailTags": [{"Name": "kind", "Value": "DEPOSIT"}],
                "ConfigurationSetName": "notices",
            },
        )  # fmt: skip
        assert mailer.send("ann@example.com", email, NOTICE) == "ses-1"
        stub.add_client_error("send_email", "MessageRejected", http_status_code=400)
        with pytest.raises(EmailNotSent):
            mailer.send("ann@example.com", email, NOTICE)


def test_an_unverified_sender_is_refused_and_a_verified_one_lands_in_the_mailbox(
    aws: EmailerSettings,
) -> None:
    sesv2 = boto3.client("sesv2", region_name=REGION)
    mailer = SesMailer("sender@exchange.example", lambda: sesv2)
    email = Email(subject="Deposit", body="Money.\n\nReference: ledger#9\n")
    with pytest.raises(EmailNotSent):
        mailer.send("ann@example.com", email, NOTICE)
    sesv2.create_email_identity(EmailIdentity="sender@exchange.example")
    message_id = mailer.send("Ann@Example.com", email, NOTICE)
    [held] = emails("ann@example.com")
    assert held == {
        "to": ["Ann@Example.com"], "from": "sender@exchange.example", "subject": "Deposit",
        "body": "Money.\n\nReference: ledger#9\n", "message_id": message_id,
        "notice_id": "ledger#9",
    }  # fmt: skip
    assert emails("bob@example.com") == []


def test_a_published_notice_reaches_the_queue_raw_with_its_attributes(
    aws: EmailerSettings,
) -> None:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="notices")["TopicArn"]
    queue = sqs.create_queue(QueueName="notices")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})  # fmt: skip
    SnsNoticePublisher(topic, lambda: sns).publish(NOTICE)
    [message] = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"]
    assert Notice.decode(message["Body"]) == NOTICE
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes == {"kind": "DEPOSIT", "event": "deposit.credited"}


def _user(cognito: Any) -> tuple[str, str, str]:
    pool_id = cognito.create_user_pool(PoolName="users")["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app", ExplicitAuthFlows=["USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=pool_id, Username="ann@example.com",
                              MessageAction="SUPPRESS")  # fmt: skip
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username="ann@example.com", Password=PASSWORD, Permanent=True
    )
    user = cognito.admin_get_user(UserPoolId=pool_id, Username="ann@example.com")
    sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
    return pool_id, client_id, sub


def test_the_local_mailbox_tells_of_a_password_change_under_the_users_sub(
    aws: EmailerSettings,
) -> None:
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool_id, client_id, sub = _user(cognito)
    token = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ann@example.com", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]  # fmt: skip
    publisher = InMemoryNoticePublisher()
    mailbox = Mailbox()
    target = "AWSCognitoIdentityProviderService.ChangePassword"
    assert target in PASSWORD_CHANGES
    assert mailbox.watches(target)
    mailbox.after(target, {"AccessToken": token})  # not yet turned on: nothing
    assert publisher.published == []
    mailbox.notify_password_changes(publisher, cognito, pool_id)
    mailbox.after(target, {"AccessToken": token})
    mailbox.after(
        "AWSCognitoIdentityProviderService.ConfirmForgotPassword",
        {"Username": "ann@example.com", "ClientId": client_id},
    )
    assert [(n.account_id, n.event, n.kind, n.data["via"]) for n in publisher.published] == [
        (sub, "password.changed", NoticeKind.SECURITY, "ChangePassword"),
        (sub, "password.changed", NoticeKind.SECURITY, "ConfirmForgotPassword"),
    ]
    assert len({n.notice_id for n in publisher.published}) == 2
