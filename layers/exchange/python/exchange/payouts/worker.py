"""The payout worker's logic: one queued withdrawal claimed in the ledger and sent to the provider.

``PayoutWorker.pay`` is called once per SQS message (``lambdas/payouts``) and says what happened:

- ``SENT``: the provider accepted it (PENDING); its webhook finishes it later.
- ``FINISHED``: the provider's answer was already final (COMPLETED or FAILED). It is applied
  through the webhook's own exactly-once path, ``record_payout_outcome``, under the event id
  ``answer:<withdrawal id>``; the webhook that follows with the same outcome then changes nothing
  (the ledger answers a final withdrawal's same outcome with the withdrawal as it is), so the hold
  is debited or released once whichever comes first.
- ``REFUSED``: a permanent 4xx (``PayoutRefused``): ``fail_withdrawal`` releases the hold. A
  redelivered message finds the withdrawal FAILED, which the claim answers with None (``SKIPPED``),
  so the hold is released once.
- ``FROZEN``: an operator froze the account (``AccountFrozen`` from the claim). The withdrawal
  stays PENDING and the message is consumed: no hot retry while an operator looks. The sweeper
  leaves a frozen account's withdrawals alone (held on purpose, not stuck) and sends them again
  once the freeze is lifted.
- ``SKIPPED``: nothing to send (cancelled, already final, or unknown to the ledger).

``ProviderUnavailable`` (and any error of the ledger) is raised: the message fails, SQS delivers
it again after its visibility timeout and to the dead-letter queue after maxReceiveCount; the
withdrawal stays SENDING, where the sweeper finds it. A withdrawal with no destination to send to
(``UnknownDestination``: requested before destinations existed) fails the same way, so it ends in
the dead-letter queue, whose depth is alarmed, for an operator to fail it.

Metrics (Powertools, namespace ``Exchange``): PayoutsSent, PayoutsFinished, PayoutsRefused,
PayoutsFrozen, PayoutsSkipped, PayoutsUnavailable, PayoutsRetried (one per retried request,
counted by the provider adapter through ``count_retry``), and PayoutsContradicted (a final answer
the books contradict: alarmed, as the webhook's).
"""

import time
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from aws_lambda_powertools.metrics import MetricUnit

from exchange.ledger.errors import (
    AccountFrozen,
    InvalidTransition,
    ReplayedWebhook,
    UnknownWithdrawal,
)
from exchange.ledger.model import Withdrawal
from exchange.ledger.payouts_port import PayoutNotice, PayoutOrder
from exchange.observability import logger, metrics
from exchange.payouts.provider import (
    PayoutProvider,
    PayoutRefused,
    ProviderAnswer,
    ProviderUnavailable,
)
from exchange.payouts.webhooks import contradicted

ANSWER_EVENT_PREFIX = "answer:"


class PayoutLedger(Protocol):
    """What the worker needs of the ledger (``PostgresLedger`` in AWS)."""

    def claim_payout(self, withdrawal_id: str) -> PayoutOrder | None: ...

    def fail_withdrawal(self, withdrawal_id: str, *, reason: str | None = None) -> Withdrawal: ...

    def record_payout_outcome(self, notice: PayoutNotice) -> Withdrawal: ...


class Outcome(StrEnum):
    SENT = "SENT"
    FINISHED = "FINISHED"
    REFUSED = "REFUSED"
    FROZEN = "FROZEN"
    SKIPPED = "SKIPPED"


def count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def count_retry(_why: str) -> None:
    """The provider adapter's ``on_retry``: one PayoutsRetried per retried request."""
    count("PayoutsRetried")


class PayoutWorker:
    def __init__(
        self,
        ledger: PayoutLedger,
        provider: PayoutProvider,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ledger = ledger
        self._provider = provider
        self._clock = clock

    def pay(self, withdrawal_id: str) -> Outcome:
        """Claim and send one withdrawal. Raises ProviderUnavailable (the message is retried)."""
        outcome = self._pay(withdrawal_id)
        count(f"Payouts{outcome.value.title()}")
        return outcome

    def _pay(self, withdrawal_id: str) -> Outcome:
        context = {"withdrawal_id": withdrawal_id}
        try:
            order = self._ledger.claim_payout(withdrawal_id)
        except AccountFrozen:
            logger.warning("payout held: the account is frozen", extra=context)
            return Outcome.FROZEN
        except UnknownWithdrawal:
            logger.error("payout message for a withdrawal the ledger does not know", extra=context)
            return Outcome.SKIPPED
        if order is None:
            logger.info("payout already cancelled or finished; nothing to send", extra=context)
            return Outcome.SKIPPED
        context["attempt"] = str(order.attempt)
        try:
            answer = self._provider.send(order)
        except PayoutRefused as refused:
            return self._refused(order, refused)
        except ProviderUnavailable:
            count("PayoutsUnavailable")
            logger.warning("payout provider unavailable; left SENDING", extra=context)
            raise
        logger.info("payout sent", extra={**context, "provider_status": answer.status})
        if answer.status == "PENDING":
            return Outcome.SENT
        return self._finished(order, answer)

    def _refused(self, order: PayoutOrder, refused: PayoutRefused) -> Outcome:
        withdrawal_id = order.withdrawal.withdrawal_id
        try:
            self._ledger.fail_withdrawal(withdrawal_id, reason=str(refused))
        except InvalidTransition:
            # The provider's webhook finished it meanwhile: its outcome stands.
            logger.error(
                "payout refused, but the withdrawal was finished already",
                extra={"withdrawal_id": withdrawal_id, "reason": refused.reason},
            )
            return Outcome.SKIPPED
        logger.warning(
            "payout refused by the provider; withdrawal failed and its hold released",
            extra={"withdrawal_id": withdrawal_id, "status": refused.status},
        )
        return Outcome.REFUSED

    def _finished(self, order: PayoutOrder, answer: ProviderAnswer) -> Outcome:
        withdrawal = order.withdrawal
        assert answer.status != "PENDING"  # noqa: S101 - _pay returned before
        notice = PayoutNotice(
            event_id=f"{ANSWER_EVENT_PREFIX}{withdrawal.withdrawal_id}",
            withdrawal_id=withdrawal.withdrawal_id,
            status=answer.status,
            asset=withdrawal.asset,
            amount=withdrawal.amount,
            provider_reference=answer.provider_reference,
            signed_at=int(self._clock()),
            failure_reason=answer.failure_reason if answer.status == "FAILED" else None,
        )
        try:
            self._ledger.record_payout_outcome(notice)
        except ReplayedWebhook as exc:
            # Applied by an earlier delivery (the webhook with the same outcome raises nothing).
            logger.warning(
                "payout answer not applied: the withdrawal was finished already",
                extra={"withdrawal_id": withdrawal.withdrawal_id, "why": str(exc)},
            )
        except InvalidTransition as exc:
            # The books say the other outcome (this withdrawal was claimed SENDING by us).
            contradicted(notice, exc)
        return Outcome.FINISHED
