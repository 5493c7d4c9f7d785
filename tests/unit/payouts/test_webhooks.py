"""The payout webhook: the signature first, then the timestamp, then the body; the receiver
finishes a withdrawal once and answers a replay DUPLICATE."""

import json
from decimal import Decimal
from typing import Any

import pytest

from exchange.ledger.errors import (
    InvalidSignature,
    InvalidTransition,
    InvalidWebhook,
    StaleWebhook,
)
from exchange.ledger.webhooks import sign
from exchange.observability import metrics
from exchange.payouts.webhooks import PayoutReceipt, PayoutWebhookReceiver, verify_payout_webhook
from tests.unit.payouts.fakes import FakePayoutLedger, order

SECRET = b"whsec"
NOW = 1_700_000_000


def event(**changes: Any) -> bytes:
    body = {
        "event_id": "evt-1",
        "type": "payout.completed",
        "withdrawal_id": "wd-1",
        "provider_reference": "po_1",
        "asset": "USD",
        "amount": "25.00",
        **changes,
    }
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def signed(body: bytes, *, secret: bytes = SECRET, at: int = NOW) -> str:
    return sign(body, secret=secret, timestamp=at)


def test_a_signed_completion_is_read_as_a_notice() -> None:
    body = event()
    notice = verify_payout_webhook(body, signed(body), secrets=[SECRET], now=NOW + 10)
    assert (notice.event_id, notice.withdrawal_id, notice.status) == ("evt-1", "wd-1", "COMPLETED")
    assert (notice.asset, notice.amount, notice.provider_reference) == (
        "USD",
        Decimal("25.00"),
        "po_1",
    )
    assert (notice.signed_at, notice.failure_reason) == (NOW, None)


def test_a_failure_carries_its_reason() -> None:
    body = event(type="payout.failed", reason="account closed")
    notice = verify_payout_webhook(body, signed(body), secrets=[SECRET], now=NOW)
    assert (notice.status, notice.failure_reason) == ("FAILED", "account closed")


def test_any_secret_of_a_rotation_verifies() -> None:
    body = event()
    verify_payout_webhook(body, signed(body, secret=b"old"), secrets=[b"new", b"old"], now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "t=1700000000",
        "v1=" + "0" * 64,
        f"t={NOW},v1=" + "0" * 64,
        signed(event(), secret=b"forged"),
        signed(event(amount="2500.00")),  # signed over another body
    ],
)
def test_a_forged_or_malformed_signature_is_refused(header: str | None) -> None:
    with pytest.raises(InvalidSignature):
        verify_payout_webhook(event(), header, secrets=[SECRET], now=NOW)


def test_a_stale_signature_is_refused_even_though_it_matches() -> None:
    body = event()
    with pytest.raises(StaleWebhook):
        verify_payout_webhook(body, signed(body, at=NOW - 301), secrets=[SECRET], now=NOW)


def test_the_body_of_a_forged_webhook_is_never_parsed() -> None:
    # A body that is not even JSON, with a bad signature: the signature is what is reported.
    with pytest.raises(InvalidSignature):
        verify_payout_webhook(b"{not json", signed(b"other"), secrets=[SECRET], now=NOW)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        event(type="payout.reversed"),
        event(event_id=None),
        event(withdrawal_id=""),
        event(provider_reference=7),
        event(amount=25.0),
        event(amount="-5"),
        event(amount="0"),
        event(amount="NaN"),
        event(amount="1e999999"),
        event(type="payout.failed", reason=["list"]),
    ],
)
def test_a_signed_body_that_is_not_a_payout_notice_is_invalid(body: bytes) -> None:
    with pytest.raises(InvalidWebhook):
        verify_payout_webhook(body, signed(body), secrets=[SECRET], now=NOW)


def receiver(ledger: FakePayoutLedger) -> PayoutWebhookReceiver:
    return PayoutWebhookReceiver(ledger=ledger, secrets=lambda: [SECRET])


def sending_ledger() -> FakePayoutLedger:
    ledger = FakePayoutLedger()
    ledger.add(order("wd-1", amount="25.00"))
    ledger.claim_payout("wd-1")
    return ledger


def test_a_completion_debits_the_hold_once_and_its_replay_is_a_duplicate() -> None:
    # Given a withdrawal sent to the provider
    ledger = sending_ledger()
    body = event()

    # When the webhook comes, then comes again
    first = receiver(ledger).receive(body, signed(body), now=NOW)
    second = receiver(ledger).receive(body, signed(body), now=NOW + 60)

    # Then the hold was debited once
    assert first == PayoutReceipt("COMPLETED", "wd-1")
    assert second == PayoutReceipt("DUPLICATE", "wd-1")
    assert ledger.debited == {"wd-1": 1}
    assert ledger.released == {}


def test_a_finished_payout_pushes_its_owners_balances_once() -> None:
    ledger = sending_ledger()
    pushed: list[str] = []
    webhooks = PayoutWebhookReceiver(ledger=ledger, secrets=lambda: [SECRET], pushed=pushed.extend)
    body = event()
    webhooks.receive(body, signed(body), now=NOW)
    webhooks.receive(body, signed(body), now=NOW + 60)  # the duplicate moves nothing
    assert pushed == [ledger.withdrawals["wd-1"].account_id]


def test_a_forged_webhook_changes_nothing() -> None:
    ledger = sending_ledger()
    body = event(type="payout.failed")
    with pytest.raises(InvalidSignature):
        receiver(ledger).receive(body, signed(body, secret=b"attacker"), now=NOW)
    assert ledger.events == set()
    assert ledger.released == {}
    assert ledger.withdrawals["wd-1"].status == "SENDING"


def test_a_failure_after_a_completion_is_refused() -> None:
    ledger = sending_ledger()
    done = event()
    receiver(ledger).receive(done, signed(done), now=NOW)
    failed = event(event_id="evt-2", type="payout.failed")
    with pytest.raises(InvalidTransition):
        receiver(ledger).receive(failed, signed(failed), now=NOW)
    assert ledger.released == {}


def test_a_completion_of_a_failed_payout_is_refused_and_counted_for_an_operator() -> None:
    # Given a withdrawal the provider failed (its hold released)
    ledger = sending_ledger()
    failed = event(type="payout.failed")
    receiver(ledger).receive(failed, signed(failed), now=NOW)
    assert "PayoutsContradicted" not in metrics.metric_set

    # When the provider then says it paid it (the money may have left twice)
    paid = event(event_id="evt-2")
    with pytest.raises(InvalidTransition):
        receiver(ledger).receive(paid, signed(paid), now=NOW)

    # Then the books stand, and the contradiction is counted (alarmed), not only answered 409
    assert ledger.debited == {}
    assert metrics.metric_set["PayoutsContradicted"]["Value"] == [1.0]
