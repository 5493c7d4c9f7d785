"""The payout functions' handlers: the SQS worker's partial batch response, and the payouts
webhook route of the deposits function (its statuses: a provider's mistake is never a 5xx)."""

import json
import uuid
from typing import Any

import pytest

from exchange.ledger.model import WithdrawalStatus
from exchange.ledger.webhooks import sign
from exchange.notices import Notice, NoticeKind
from exchange.notifications.publisher import InMemoryNoticePublisher
from exchange.payouts.provider import PayoutRefused, ProviderAnswer, ProviderUnavailable
from exchange.payouts.webhooks import PayoutWebhookReceiver
from exchange.payouts.worker import PayoutWorker
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from lambdas.deposits.handler import handler as deposits_handler
from lambdas.payouts.handler import Payouts
from lambdas.payouts.handler import handler as payouts_handler
from tests.unit.payouts.fakes import AnsweringProvider, FakePayoutLedger, order

SECRET = b"whsec"
# A webhook that changes nothing emits no metric; Powertools warns when it flushes none.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def sqs_event(*bodies: str) -> dict[str, Any]:
    """An SQS event source mapping's batch ("Using Lambda with Amazon SQS": Records with
    messageId, receiptHandle, body, attributes, eventSource aws:sqs)."""
    return {
        "Records": [
            {
                "messageId": f"m-{index}",
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:exchange-payouts",
                "awsRegion": "us-east-1",
            }
            for index, body in enumerate(bodies)
        ]
    }


class Outbox:
    """The ledger's notices port, as the relay reads it."""

    def __init__(self, *notices: Notice) -> None:
        self.pending = list(notices)
        self.marked: list[str] = []

    def unpublished_notices(self, *, limit: int) -> list[Notice]:
        return self.pending[:limit]

    def mark_published(self, notice_ids: list[str]) -> None:
        self.marked.extend(notice_ids)
        self.pending = [n for n in self.pending if n.notice_id not in notice_ids]


def test_only_the_messages_that_failed_are_reported_for_redelivery() -> None:
    # Given three withdrawals: one the provider takes, one it cannot be reached for, one refused;
    # and a message that is not a payout at all
    ledger = FakePayoutLedger()
    for withdrawal_id in ("wd-ok", "wd-down", "wd-refused"):
        ledger.add(order(withdrawal_id))
    provider = AnsweringProvider(
        ProviderAnswer("po_1", "PENDING"),
        ProviderUnavailable("no answer"),
        PayoutRefused(422, "invalid_destination"),
    )
    outbox = Outbox(Notice("ledger#1", NoticeKind.WITHDRAWAL, "withdrawal.failed", "acct-1", 1))
    publisher = InMemoryNoticePublisher()
    function = Payouts(PayoutWorker(ledger, provider), outbox, publisher)  # type: ignore[arg-type]
    bodies = [json.dumps({"withdrawal_id": w}) for w in ("wd-ok", "wd-down", "wd-refused")]

    # When the batch is handled ("Handling errors for an SQS event source in Lambda": with
    # ReportBatchItemFailures only the messages listed in batchItemFailures come back)
    answer = payouts_handler(sqs_event(*bodies, "not json"), LambdaContextStub(), payouts=function)

    # Then the unreachable one and the poison one are reported; the others are consumed
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-3"}]}
    assert ledger.withdrawals["wd-down"].status is WithdrawalStatus.SENDING
    assert ledger.withdrawals["wd-refused"].status is WithdrawalStatus.FAILED
    # And the ledger's notices were relayed after the batch
    assert [n.notice_id for n in publisher.published] == ["ledger#1"]
    assert outbox.marked == ["ledger#1"]


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> FakePayoutLedger:
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", "postgresql://unused@127.0.0.1:1/unused")
    ledger = FakePayoutLedger()
    ledger.add(order("wd-1", amount="25.00"))
    ledger.claim_payout("wd-1")
    return ledger


def post(ledger: FakePayoutLedger, body: bytes, *, secret: bytes = SECRET) -> tuple[int, Any]:
    import time  # noqa: PLC0415

    headers = {"Exchange-Signature": sign(body, secret=secret, timestamp=int(time.time()))}
    event = rest_event("POST", "/v1/webhooks/payouts", body=body.decode(), headers=headers)
    receiver = PayoutWebhookReceiver(ledger=ledger, secrets=lambda: [SECRET])
    response = deposits_handler(event, LambdaContextStub(), payouts=receiver)
    return response["statusCode"], json.loads(response["body"])


def payout_event(**changes: str) -> bytes:
    return json.dumps(
        {
            "event_id": f"evt-{uuid.uuid4().hex}",
            "type": "payout.completed",
            "withdrawal_id": "wd-1",
            "provider_reference": "po_1",
            "asset": "USD",
            "amount": "25.00",
            **changes,
        }
    ).encode()


def test_the_webhook_answers_completed_then_duplicate(webhook: FakePayoutLedger) -> None:
    body = payout_event()
    assert post(webhook, body) == (200, {"status": "COMPLETED", "withdrawal_id": "wd-1"})
    assert post(webhook, body) == (200, {"status": "DUPLICATE", "withdrawal_id": "wd-1"})
    assert webhook.debited == {"wd-1": 1}


def test_a_failed_payout_webhook_releases_the_hold(webhook: FakePayoutLedger) -> None:
    body = payout_event(type="payout.failed", reason="account closed")
    assert post(webhook, body) == (200, {"status": "FAILED", "withdrawal_id": "wd-1"})
    assert webhook.released == {"wd-1": 1}


@pytest.mark.parametrize(
    ("body", "secret", "status", "code"),
    [
        (payout_event(), b"forged", 401, "invalid_signature"),
        (b'{"event_id": "x"}', SECRET, 400, "invalid_webhook"),
        (payout_event(withdrawal_id="wd-nope"), SECRET, 404, "unknown_withdrawal"),
        (payout_event(amount="99.00"), SECRET, 400, "invalid_webhook"),
    ],
)
def test_a_bad_webhook_is_answered_4xx_and_changes_nothing(
    webhook: FakePayoutLedger, body: bytes, secret: bytes, status: int, code: str
) -> None:
    answer_status, problem = post(webhook, body, secret=secret)
    assert (answer_status, problem["code"]) == (status, code)
    assert webhook.withdrawals["wd-1"].status is WithdrawalStatus.SENDING
    assert webhook.events == set()


def test_a_contradicting_outcome_is_a_conflict(webhook: FakePayoutLedger) -> None:
    post(webhook, payout_event())
    status, problem = post(webhook, payout_event(type="payout.failed"))
    assert (status, problem["code"]) == (409, "invalid_transition")
    assert webhook.released == {}
