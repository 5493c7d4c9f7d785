"""The payout worker: claim, send, and what each answer does to the withdrawal and its hold."""

from dataclasses import replace
from typing import Any

import pytest

from exchange.ledger.model import WithdrawalStatus
from exchange.observability import metrics
from exchange.payouts.provider import PayoutRefused, ProviderAnswer, ProviderUnavailable
from exchange.payouts.worker import ANSWER_EVENT_PREFIX, Outcome, PayoutWorker
from tests.unit.payouts.fakes import AnsweringProvider, FakePayoutLedger, order


def given(*answers: ProviderAnswer | Exception) -> tuple[FakePayoutLedger, AnsweringProvider]:
    ledger = FakePayoutLedger()
    ledger.add(order("wd-1"))
    return ledger, AnsweringProvider(*answers)


def counted(name: str) -> Any:
    return metrics.metric_set.get(name, {}).get("Value")


def test_an_accepted_payout_is_left_sending_for_the_webhook() -> None:
    ledger, provider = given(ProviderAnswer("po_1", "PENDING"))
    assert PayoutWorker(ledger, provider).pay("wd-1") is Outcome.SENT
    assert ledger.withdrawals["wd-1"].status is WithdrawalStatus.SENDING
    assert provider.orders[0].attempt == 1
    assert counted("PayoutsSent") == [1.0]


def test_a_refused_payout_fails_once_and_a_redelivery_sends_nothing() -> None:
    # Given a provider that refuses the destination
    ledger, provider = given(PayoutRefused(422, "invalid_destination"))
    worker = PayoutWorker(ledger, provider)

    # When the message is processed, then delivered again
    first = worker.pay("wd-1")
    second = worker.pay("wd-1")

    # Then the withdrawal failed with the reason, its hold released exactly once
    assert (first, second) == (Outcome.REFUSED, Outcome.SKIPPED)
    assert ledger.withdrawals["wd-1"].status is WithdrawalStatus.FAILED
    assert ledger.released == {"wd-1": 1}
    assert "invalid_destination" in (ledger.reasons["wd-1"] or "")
    assert len(provider.orders) == 1


def test_a_frozen_account_leaves_the_payout_pending_without_a_hot_retry() -> None:
    # Given an account an operator froze after the withdrawal was requested
    ledger, provider = given()
    ledger.frozen.add("acct-1")

    # When the worker takes the message, Then it consumes it: nothing sent, nothing raised
    assert PayoutWorker(ledger, provider).pay("wd-1") is Outcome.FROZEN
    assert ledger.withdrawals["wd-1"].status is WithdrawalStatus.PENDING
    assert provider.orders == []
    assert counted("PayoutsFrozen") == [1.0]


def test_an_unavailable_provider_fails_the_message_and_leaves_the_payout_sending() -> None:
    ledger, provider = given(ProviderUnavailable("no answer"))
    with pytest.raises(ProviderUnavailable):
        PayoutWorker(ledger, provider).pay("wd-1")
    assert ledger.withdrawals["wd-1"].status is WithdrawalStatus.SENDING
    assert ledger.released == {}
    assert counted("PayoutsUnavailable") == [1.0]


def test_a_redelivered_message_sends_again_with_the_next_attempt() -> None:
    ledger, provider = given(ProviderUnavailable("no answer"), ProviderAnswer("po_1", "PENDING"))
    worker = PayoutWorker(ledger, provider)
    with pytest.raises(ProviderUnavailable):
        worker.pay("wd-1")
    assert worker.pay("wd-1") is Outcome.SENT
    assert [o.attempt for o in provider.orders] == [1, 2]
    assert {o.withdrawal.withdrawal_id for o in provider.orders} == {"wd-1"}


@pytest.mark.parametrize(("status", "moved"), [("COMPLETED", "debited"), ("FAILED", "released")])
def test_a_final_answer_is_applied_once_through_the_webhooks_path(status: str, moved: str) -> None:
    # Given a provider that answers at once with a final status
    ledger, provider = given(ProviderAnswer("po_1", status, "closed"))  # type: ignore[arg-type]

    # When the worker sends it
    assert PayoutWorker(ledger, provider, clock=lambda: 1.0).pay("wd-1") is Outcome.FINISHED

    # Then it is finished under the answer's event id, the hold moved once
    assert ledger.withdrawals["wd-1"].status == status
    assert ledger.events == {f"{ANSWER_EVENT_PREFIX}wd-1"}
    assert getattr(ledger, moved) == {"wd-1": 1}


def test_a_final_answer_after_the_webhook_finished_it_changes_nothing() -> None:
    # Given the webhook completed the withdrawal while the worker was still waiting on its answer
    ledger, _ = given()
    sent = ledger.claim_payout("wd-1")
    assert sent is not None

    class WebhookFirst(AnsweringProvider):
        def send(self, order: Any) -> ProviderAnswer:
            current = ledger.withdrawals["wd-1"]
            ledger.withdrawals["wd-1"] = replace(current, status=WithdrawalStatus.FAILED)
            return ProviderAnswer("po_1", "COMPLETED")

    # When the worker applies its COMPLETED answer, Then the FAILED outcome stands
    assert PayoutWorker(ledger, WebhookFirst()).pay("wd-1") is Outcome.FINISHED
    assert ledger.withdrawals["wd-1"].status is WithdrawalStatus.FAILED
    assert ledger.debited == {}
    # ... and the contradiction (paid, by the provider's word, after the hold was released) is
    # counted for the alarm: the books cannot settle it themselves
    assert metrics.metric_set["PayoutsContradicted"]["Value"] == [1.0]


@pytest.mark.parametrize("status", [WithdrawalStatus.CANCELLED, WithdrawalStatus.COMPLETED])
def test_nothing_is_sent_for_a_cancelled_or_finished_withdrawal(status: WithdrawalStatus) -> None:
    ledger, provider = given()
    ledger.withdrawals["wd-1"] = replace(ledger.withdrawals["wd-1"], status=status)
    assert PayoutWorker(ledger, provider).pay("wd-1") is Outcome.SKIPPED
    assert provider.orders == []


def test_an_unknown_withdrawal_is_skipped_not_retried() -> None:
    ledger, provider = given()
    assert PayoutWorker(ledger, provider).pay("wd-unknown") is Outcome.SKIPPED
