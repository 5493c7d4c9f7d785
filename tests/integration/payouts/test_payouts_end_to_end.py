"""A withdrawal paid out on real services: the payout worker claims it in PostgreSQL (as its own
database role), sends it to the fake provider over HTTP, and the provider's signed webhook,
delivered over HTTP to the deposits function, finishes it exactly once."""

import json
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from exchange.ledger.model import Balance, Withdrawal, WithdrawalStatus
from exchange.ledger.postgres import PostgresLedger
from exchange.ledger.webhooks import sign
from exchange.observability import metrics
from tests.integration.ledger.conftest import destination
from tests.integration.payouts.conftest import WEBHOOK_SECRET, Rig
from tests.unit.ledger.helpers import new_id, verified_account

# The handlers run outside Lambda; one that changes nothing flushes no metric, and Powertools warns.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def eventually[T](read: Callable[[], T], done: Callable[[T], bool], timeout_s: float = 10.0) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def requested(rig: Rig, *, address: str | None = None, amount: str = "40") -> Withdrawal:
    account = verified_account(rig.admin, USD="100")
    return rig.admin.request_withdrawal(
        new_id("wd"),
        account,
        "USD",
        Decimal(amount),
        destination_id=destination(rig.admin, account, "USD", address=address),
    )


def finished(rig: Rig, withdrawal: Withdrawal) -> Withdrawal:
    return eventually(
        lambda: rig.admin.withdrawal(withdrawal.account_id, withdrawal.withdrawal_id),
        lambda w: w.status.final,
    )


def usd(ledger: PostgresLedger, account: str) -> Balance:
    return next(b for b in ledger.balances(account) if b.asset == "USD")


def test_a_completed_payout_debits_the_hold_exactly_once(rig: Rig) -> None:
    # Given 40 USD of 100 held for a withdrawal
    withdrawal = requested(rig)

    # When the payout queue delivers it to the worker
    assert rig.deliver(withdrawal.withdrawal_id) == {"batchItemFailures": []}

    # Then the provider completes it by webhook: the hold is debited, once
    done = finished(rig, withdrawal)
    assert done.status is WithdrawalStatus.COMPLETED
    assert done.attempts == 1
    assert usd(rig.admin, withdrawal.account_id) == Balance("USD", Decimal("60"), Decimal("0"))
    (payout,) = rig.provider.payouts.values()
    assert done.provider_reference == payout.reference
    assert rig.endpoint.answers == [
        (200, {"status": "COMPLETED", "withdrawal_id": done.withdrawal_id})
    ]

    # When the queue delivers the message again, Then nothing is sent or debited again
    assert rig.deliver(withdrawal.withdrawal_id) == {"batchItemFailures": []}
    assert len(rig.provider.requests) == 1
    assert usd(rig.admin, withdrawal.account_id) == Balance("USD", Decimal("60"), Decimal("0"))


def test_a_duplicated_webhook_changes_nothing(rig: Rig) -> None:
    # Given a payout the provider completed
    withdrawal = requested(rig)
    rig.deliver(withdrawal.withdrawal_id)
    finished(rig, withdrawal)
    (delivery,) = [d for d in rig.provider.deliveries if d.status == 200]

    # When the provider delivers the same event again (freshly signed, as a retry is)
    again = sign(delivery.body, secret=WEBHOOK_SECRET, timestamp=int(time.time()))
    status, answer = rig.endpoint.deliver(
        "/v1/webhooks/payouts", delivery.body, {"Exchange-Signature": again}
    )

    # Then it is acknowledged as a duplicate and the balance is as it was
    assert (status, answer["status"]) == (200, "DUPLICATE")
    assert usd(rig.admin, withdrawal.account_id) == Balance("USD", Decimal("60"), Decimal("0"))


def test_a_forged_webhook_changes_nothing(rig: Rig) -> None:
    # Given a payout sent and not finished yet (the provider's webhook has nowhere to go)
    rig.provider.webhook_url = None
    withdrawal = requested(rig)
    rig.deliver(withdrawal.withdrawal_id)
    body = json.dumps(
        {
            "event_id": new_id("evt"),
            "type": "payout.completed",
            "withdrawal_id": withdrawal.withdrawal_id,
            "provider_reference": "po_forged",
            "asset": "USD",
            "amount": "40.00",
        }
    ).encode()

    # When someone without the secret posts a completion
    forged = sign(body, secret=b"guessed", timestamp=int(time.time()))
    status, answer = rig.endpoint.deliver(
        "/v1/webhooks/payouts", body, {"Exchange-Signature": forged}
    )

    # Then it is refused and the withdrawal is still SENDING with its hold
    assert (status, answer["code"]) == (401, "invalid_signature")
    current = rig.admin.withdrawal(withdrawal.account_id, withdrawal.withdrawal_id)
    assert current.status is WithdrawalStatus.SENDING
    assert usd(rig.admin, withdrawal.account_id) == Balance("USD", Decimal("60"), Decimal("40"))


def test_a_failed_payout_releases_the_hold_once(rig: Rig) -> None:
    # Given a withdrawal to a destination the provider cannot pay
    withdrawal = requested(rig, address="bc1qfailfailfail")

    # When it is sent, Then the provider's failure webhook gives the hold back
    rig.deliver(withdrawal.withdrawal_id)
    failed = finished(rig, withdrawal)
    assert failed.status is WithdrawalStatus.FAILED
    assert failed.failure_reason is not None
    assert "rejected" in failed.failure_reason
    assert usd(rig.admin, withdrawal.account_id) == Balance("USD", Decimal("100"), Decimal("0"))

    # And a redelivered message sends nothing and releases nothing more
    rig.deliver(withdrawal.withdrawal_id)
    assert usd(rig.admin, withdrawal.account_id) == Balance("USD", Decimal("100"), Decimal("0"))


def test_a_refused_payout_fails_at_once_and_releases_the_hold_once(rig: Rig) -> None:
    # Given a destination the provider refuses outright (422)
    withdrawal = requested(rig, address="refuse-this-address")

    # When the worker sends it, twice (a redelivered message)
    assert rig.deliver(withdrawal.withdrawal_id) == {"batchItemFailures": []}
    assert rig.deliver(withdrawal.withdrawal_id) == {"batchItemFailures": []}

    # Then it failed with the provider's reason and the hold came back once
    failed = rig.admin.withdrawal(withdrawal.account_id, withdrawal.withdrawal_id)
    assert failed.status is WithdrawalStatus.FAILED
    assert "destination_refused" in (failed.failure_reason or "")
    assert usd(rig.admin, withdrawal.account_id) == Balance("USD", Decimal("100"), Decimal("0"))
    assert len(rig.provider.requests) == 1


def test_a_provider_that_times_out_twice_gets_the_same_key_three_times(rig: Rig) -> None:
    # Given a provider that holds the next two requests past the client's 0.5 s timeout
    rig.provider.stall_next(2, seconds=1.5)
    withdrawal = requested(rig)

    # When the worker sends the payout
    assert rig.deliver(withdrawal.withdrawal_id) == {"batchItemFailures": []}

    # Then three requests carried the same key and the same body, and one payout was made
    keys = [r.idempotency_key for r in rig.provider.requests]
    assert keys == [withdrawal.withdrawal_id] * 3
    assert len({r.body for r in rig.provider.requests}) == 1
    assert all(r.signature_ok for r in rig.provider.requests)
    assert len(rig.provider.payouts) == 1
    assert finished(rig, withdrawal).status is WithdrawalStatus.COMPLETED
    assert usd(rig.admin, withdrawal.account_id) == Balance("USD", Decimal("60"), Decimal("0"))


def test_a_provider_down_fails_the_message_and_leaves_the_payout_sending(rig: Rig) -> None:
    # Given a provider that answers 503 to every attempt of this send
    for _ in range(4):
        rig.provider.answer_next(503, {"code": "maintenance"})
    withdrawal = requested(rig)

    # When the worker sends it, Then the message is reported for redelivery
    answer = rig.deliver(withdrawal.withdrawal_id)
    assert len(answer["batchItemFailures"]) == 1
    current = rig.admin.withdrawal(withdrawal.account_id, withdrawal.withdrawal_id)
    assert (current.status, current.attempts) == (WithdrawalStatus.SENDING, 1)
    assert usd(rig.admin, withdrawal.account_id) == Balance("USD", Decimal("60"), Decimal("40"))
    metrics.clear_metrics()

    # When SQS delivers it again and the provider is back, Then it is paid once
    assert rig.deliver(withdrawal.withdrawal_id) == {"batchItemFailures": []}
    assert finished(rig, withdrawal).status is WithdrawalStatus.COMPLETED
    assert {r.idempotency_key for r in rig.provider.requests} == {withdrawal.withdrawal_id}


def test_stuck_after_is_relative_to_the_database_clock(rig: Rig) -> None:
    # A sanity check of the rig: a fresh withdrawal is not stuck.
    withdrawal = requested(rig)
    stuck = rig.admin.stuck_payouts(timedelta(minutes=1), limit=1000)
    assert withdrawal.withdrawal_id not in {w.withdrawal_id for w in stuck}
