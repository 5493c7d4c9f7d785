"""The stuck-payout sweeper: queue again what has attempts left, count the rest (alarmed)."""

from datetime import timedelta
from decimal import Decimal

from exchange.ledger.model import Withdrawal, WithdrawalStatus
from exchange.observability import metrics
from exchange.payouts.queue import InMemoryPayoutQueue
from exchange.payouts.sweeper import PayoutSweeper, SweepReport
from exchange.testing.lambda_events import LambdaContextStub, scheduled_event
from lambdas.payout_sweeper.handler import handler as sweeper_handler
from tests.unit.payouts.fakes import FakePayoutLedger


def stuck(withdrawal_id: str, attempts: int, status: WithdrawalStatus) -> Withdrawal:
    return Withdrawal(withdrawal_id, "acct-1", "USD", Decimal(1), status, attempts=attempts)


def sweeper(
    ledger: FakePayoutLedger, queue: InMemoryPayoutQueue, limit: int = 100
) -> PayoutSweeper:
    return PayoutSweeper(
        ledger, queue, stuck_after=timedelta(minutes=15), max_attempts=3, limit=limit
    )


def test_stuck_payouts_with_attempts_left_are_queued_again_and_the_rest_counted() -> None:
    # Given a lost message (PENDING, never sent), a provider that never answered (SENDING, 2
    # sends) and one past its last attempt
    ledger = FakePayoutLedger()
    ledger.stale = [
        stuck("wd-lost", 0, WithdrawalStatus.PENDING),
        stuck("wd-quiet", 2, WithdrawalStatus.SENDING),
        stuck("wd-hopeless", 3, WithdrawalStatus.SENDING),
    ]
    queue = InMemoryPayoutQueue()

    # When the sweeper runs
    report = sweeper(ledger, queue).run()

    # Then the first two are queued again and the third is counted as stuck
    assert report == SweepReport(requeued=2, stuck=1, unqueued=0)
    assert queue.sent == ["wd-lost", "wd-quiet"]
    assert metrics.metric_set["PayoutsStuck"]["Value"] == [1.0]
    assert metrics.metric_set["PayoutsRequeued"]["Value"] == [2.0]


def test_payouts_stuck_is_emitted_as_zero_when_nothing_is_stuck() -> None:
    # The alarm needs data points: missing data would leave it INSUFFICIENT_DATA.
    report = sweeper(FakePayoutLedger(), InMemoryPayoutQueue()).run()
    assert report == SweepReport(0, 0, 0)
    assert metrics.metric_set["PayoutsStuck"]["Value"] == [0.0]


def test_a_queue_that_refuses_leaves_the_payout_for_the_next_sweep() -> None:
    ledger = FakePayoutLedger()
    ledger.stale = [stuck("wd-1", 1, WithdrawalStatus.SENDING)]
    report = sweeper(ledger, InMemoryPayoutQueue(fail=True)).run()
    assert report == SweepReport(requeued=0, stuck=0, unqueued=1)


def test_the_sweep_reads_at_most_its_limit() -> None:
    ledger = FakePayoutLedger()
    ledger.stale = [stuck(f"wd-{i}", 0, WithdrawalStatus.PENDING) for i in range(5)]
    queue = InMemoryPayoutQueue()
    assert sweeper(ledger, queue, limit=2).run().requeued == 2


def test_the_scheduled_handler_returns_the_report() -> None:
    ledger = FakePayoutLedger()
    ledger.stale = [stuck("wd-1", 5, WithdrawalStatus.SENDING)]
    answer = sweeper_handler(
        scheduled_event("payout-sweeper"),
        LambdaContextStub(),
        sweeper=sweeper(ledger, InMemoryPayoutQueue()),
    )
    assert answer == {"requeued": 0, "stuck": 1, "unqueued": 0}
