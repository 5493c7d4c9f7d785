"""The stuck-payout sweeper (scheduled): sends stuck payouts again, counts the hopeless ones.

A withdrawal is stuck when it is PENDING or SENDING and has not changed for
``payout_stuck_seconds``: its queue message was lost (the account function's send failed), the
provider never answered within the worker's retries, or the provider accepted it but its webhook
never came. A frozen account's withdrawals are not stuck: they are held on purpose, and the ledger
leaves them out until the freeze is lifted. While its ``attempts`` (sends by the worker) are below
``payout_max_attempts`` it is queued again: the worker claims it and sends it with the same
idempotency key, so the provider pays it once and answers with the first payout. The rest are
logged one by one and counted as the metric ``PayoutsStuck``, which the CDK alarms on: an operator
must look at them (the provider's dashboard).

``PayoutsStuck`` is emitted on every run, 0 included, so the alarm always has data; the sweep
reads at most ``limit`` of the oldest, so a backlog of hopeless ones can hide newer ones from the
re-send until an operator deals with them (the alarm has fired by then).

>>> from datetime import timedelta
>>> from exchange.ledger.model import Withdrawal, WithdrawalStatus
>>> from exchange.payouts.queue import InMemoryPayoutQueue
>>> class Stuck:
...     def stuck_payouts(self, older_than, *, limit):
...         return [Withdrawal("wd-1", "a-1", "USD", 1, WithdrawalStatus.SENDING, attempts=1),
...                 Withdrawal("wd-2", "a-1", "USD", 1, WithdrawalStatus.SENDING, attempts=5)]
>>> queue = InMemoryPayoutQueue()
>>> PayoutSweeper(Stuck(), queue, stuck_after=timedelta(minutes=15), max_attempts=5).run()
SweepReport(requeued=1, stuck=1, unqueued=0)
>>> queue.sent
['wd-1']
"""

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Protocol

from aws_lambda_powertools.metrics import MetricUnit

from exchange.ledger.model import Withdrawal
from exchange.observability import logger, metrics
from exchange.payouts.queue import PayoutQueue, PayoutQueueUnavailable


class StuckPayouts(Protocol):
    """What the sweeper needs of the ledger (``WithdrawalsPort.stuck_payouts``)."""

    def stuck_payouts(self, older_than: timedelta, *, limit: int) -> list[Withdrawal]: ...


@dataclass(frozen=True, slots=True)
class SweepReport:
    requeued: int  # queued again for the worker
    stuck: int  # past their last attempt: counted as PayoutsStuck, alarmed
    unqueued: int  # to be queued again, but the queue refused (the next sweep tries again)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class PayoutSweeper:
    def __init__(
        self,
        ledger: StuckPayouts,
        queue: PayoutQueue,
        *,
        stuck_after: timedelta,
        max_attempts: int,
        limit: int = 100,
    ) -> None:
        self._ledger = ledger
        self._queue = queue
        self._stuck_after = stuck_after
        self._max_attempts = max_attempts
        self._limit = limit

    def run(self) -> SweepReport:
        requeued = stuck = unqueued = 0
        for withdrawal in self._ledger.stuck_payouts(self._stuck_after, limit=self._limit):
            context = {
                "withdrawal_id": withdrawal.withdrawal_id,
                "account_id": withdrawal.account_id,
                "status": withdrawal.status.value,
                "attempts": withdrawal.attempts,
                "updated_at": str(withdrawal.updated_at),
            }
            if withdrawal.attempts >= self._max_attempts:
                stuck += 1
                logger.error("payout stuck past its last attempt", extra=context)
                continue
            try:
                self._queue.send(withdrawal.withdrawal_id)
            except PayoutQueueUnavailable as exc:
                unqueued += 1
                logger.warning("stuck payout not queued again", extra={**context, "why": str(exc)})
                continue
            requeued += 1
            logger.info("stuck payout queued again", extra=context)
        metrics.add_metric(name="PayoutsStuck", unit=MetricUnit.Count, value=stuck)
        metrics.add_metric(name="PayoutsRequeued", unit=MetricUnit.Count, value=requeued)
        return SweepReport(requeued=requeued, stuck=stuck, unqueued=unqueued)
