"""The emailer with fakes: preferences decide, each notice is sent once however often it comes,
a failed send is retried, and an SQS body is the notice's raw JSON (raw message delivery)."""

import json

import pytest

from exchange.notices import Notice, NoticeKind
from exchange.notifications.emailer import (
    ClaimStatus,
    Emailer,
    EmailNotSent,
    InMemoryClaims,
    InMemoryDirectory,
    InMemoryMailer,
    Outcome,
)
from exchange.notifications.emailer_aws import email_batch
from exchange.testing.lambda_events import LambdaContextStub
from lambdas.emailer.handler import handler
from tests.unit.notifications.fakes import FakeNotices, deposit

NOW = 1_700_000_000 * 10**9


class Rig:
    def __init__(self) -> None:
        self.ledger = FakeNotices()
        self.claims = InMemoryClaims()
        self.mailer = InMemoryMailer()
        self.directory = InMemoryDirectory({"alice": "alice@example.com", "bob": "bob@example.com"})
        self.now = NOW
        self.emailer = Emailer(
            ledger=self.ledger, claims=self.claims, directory=self.directory,
            mailer=self.mailer, clock_ns=lambda: self.now,
        )  # fmt: skip


@pytest.fixture
def rig() -> Rig:
    return Rig()


def fill(account_id: str = "alice") -> Notice:
    return Notice(notice_id=f"fill#BTC-USD#7#{account_id}", kind=NoticeKind.FILL, event="fill",
                  account_id=account_id, at_ns=NOW, data={"symbol": "BTC-USD", "side": "BUY",
                  "qty": "0.1000", "price": "65000.00", "order_id": "o-1"})  # fmt: skip


def test_a_deposit_is_emailed_once_to_the_owner(rig: Rig) -> None:
    assert rig.emailer.deliver(deposit(1)) is Outcome.SENT
    [(to, email, notice_id)] = rig.mailer.sent
    assert (to, notice_id) == ("alice@example.com", "ledger#1")
    assert email.subject == "Deposit credited: 25.00 USD"
    assert rig.claims.items["ledger#1"] == (ClaimStatus.SENT, NOW, "m-1")


def test_a_redelivered_notice_sends_nothing_more(rig: Rig) -> None:
    rig.emailer.deliver(deposit(1))
    assert rig.emailer.deliver(deposit(1)) is Outcome.DUPLICATE
    assert len(rig.mailer.sent) == 1


def test_a_kind_switched_off_is_skipped_and_claimed_so(rig: Rig) -> None:
    # Given alice turned deposit emails off (fills are off by default)
    rig.ledger.prefer("alice", deposit=False)
    # When a deposit and a fill come
    assert rig.emailer.deliver(deposit(1)) is Outcome.SKIPPED
    assert rig.emailer.deliver(fill()) is Outcome.SKIPPED
    # Then nothing is sent, and a redelivery stays a duplicate
    assert rig.mailer.sent == []
    assert rig.claims.items["ledger#1"][0] is ClaimStatus.SKIPPED
    assert rig.emailer.deliver(deposit(1)) is Outcome.DUPLICATE


def test_fills_are_sent_when_switched_on(rig: Rig) -> None:
    rig.ledger.prefer("alice", fill=True)
    assert rig.emailer.deliver(fill()) is Outcome.SENT
    assert rig.mailer.sent[0][1].subject == "Order filled: buy 0.1000 BTC-USD at 65000.00"


def test_security_notices_go_even_when_the_preferences_say_otherwise(rig: Rig) -> None:
    rig.ledger.prefer("alice", security=False)  # not storable through the ledger; go anyway
    notice = Notice(notice_id="security#api_key.created#k1", kind=NoticeKind.SECURITY,
                    event="api_key.created", account_id="alice", at_ns=NOW)  # fmt: skip
    assert rig.emailer.deliver(notice) is Outcome.SENT


def test_a_failed_send_releases_the_claim_and_the_redelivery_sends_it(rig: Rig) -> None:
    # Given SES refuses once
    rig.mailer.failures = 1
    # When the notice comes: the send fails, and so does the message
    with pytest.raises(EmailNotSent):
        rig.emailer.deliver(deposit(1))
    assert "ledger#1" not in rig.claims.items
    # Then its redelivery sends it, once
    assert rig.emailer.deliver(deposit(1)) is Outcome.SENT
    assert [n for _, _, n in rig.mailer.sent] == ["ledger#1"]


def test_a_claim_left_sending_by_a_dead_invocation_is_taken_over_once_stale(rig: Rig) -> None:
    # Given a claim some invocation made and never finished
    rig.claims.claim(deposit(1), ClaimStatus.SENDING, now_ns=NOW, stale_before=0)
    # When it comes again at once: a duplicate (the other may still be sending)
    assert rig.emailer.deliver(deposit(1)) is Outcome.DUPLICATE
    # But ten minutes later the claim is stale and the notice is sent
    rig.now = NOW + 600 * 10**9
    assert rig.emailer.deliver(deposit(1)) is Outcome.SENT
    assert len(rig.mailer.sent) == 1


def test_no_address_and_no_account_send_nothing(rig: Rig) -> None:
    rig.ledger.accounts.add("carol")  # in the ledger, not in the directory
    assert rig.emailer.deliver(deposit(1, account_id="carol")) is Outcome.NO_ADDRESS
    assert rig.emailer.deliver(deposit(2, account_id="mallory")) is Outcome.NO_ACCOUNT
    assert rig.mailer.sent == []


def sqs_event(*bodies: str) -> dict[str, object]:
    return {
        "Records": [
            {"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": body, "attributes": {},
             "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
             "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:exchange-emailer",
             "awsRegion": "us-east-1"}
            for i, body in enumerate(bodies)
        ]
    }  # fmt: skip


def test_the_sqs_body_is_the_raw_notice_and_an_sns_envelope_is_refused(rig: Rig) -> None:
    # "Amazon SNS raw message delivery" (docs.aws.amazon.com/sns/latest/dg/
    # sns-large-payload-raw-message-delivery.html): with raw delivery on, the SQS body is the
    # published message as is; off, it is SNS's JSON envelope (Type, MessageId, TopicArn,
    # Message, ...) with the message as a string. The subscription is raw: only the first works.
    raw = deposit(1).encode().decode()
    envelope = json.dumps({"Type": "Notification", "MessageId": "x", "TopicArn": "arn:t",
                           "Message": deposit(2).encode().decode(), "Timestamp": "t"})  # fmt: skip
    # When a batch holds one of each
    response = email_batch(sqs_event(raw, envelope), rig.emailer)
    # Then the raw one is sent and the envelope fails (redelivered, then dead-lettered)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert [n for _, _, n in rig.mailer.sent] == ["ledger#1"]


def test_the_handler_reports_a_failed_send_for_redelivery(rig: Rig) -> None:
    rig.mailer.failures = 1
    event = sqs_event(deposit(1).encode().decode(), deposit(2).encode().decode())
    response = handler(event, LambdaContextStub("emailer"), emailer=rig.emailer)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    response = handler(event, LambdaContextStub("emailer"), emailer=rig.emailer)
    assert response == {"batchItemFailures": []}
    assert sorted(n for _, _, n in rig.mailer.sent) == ["ledger#1", "ledger#2"]
