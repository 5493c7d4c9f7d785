"""A withdrawal's whole life on the real PostgreSQL: a destination usable after its waiting period,
the hold, the payout worker's claim, the provider's outcome exactly once, cancels; and what is
refused, with nothing written."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from psycopg_pool import ConnectionPool

from exchange.ledger.errors import (
    AccountFrozen,
    DestinationConflict,
    DestinationNotUsable,
    InvalidTransition,
    InvalidWebhook,
    ReplayedWebhook,
    UnknownDestination,
    UnknownWithdrawal,
    WithdrawalNotCancellable,
)
from exchange.ledger.model import Balance, Withdrawal, WithdrawalStatus
from exchange.ledger.payouts_port import DestinationKind, NewDestination, PayoutNotice
from exchange.ledger.postgres import PostgresLedger
from tests.integration.ledger.conftest import destination
from tests.integration.ledger.test_conservation import check_books
from tests.unit.ledger.helpers import new_id, verified_account

Snapshot = dict[str, int]


@pytest.fixture
def written(pool: ConnectionPool) -> Callable[[], Snapshot]:
    """Row counts of every table a withdrawal step writes, and the withdrawals' states."""

    def snapshot() -> Snapshot:
        with pool.connection() as conn:
            counts: Snapshot = {}
            for table in ("journal_tx", "webhook_events", "outbox", "withdrawal_destinations"):
                row = conn.execute(f"SELECT count(*) FROM ledger.{table}").fetchone()  # noqa: S608
                assert row is not None
                counts[table] = int(row[0])
            states = conn.execute(
                "SELECT status, count(*), sum(attempts) FROM ledger.withdrawals GROUP BY status"
            ).fetchall()
            counts.update({f"{s}:n": int(n) for s, n, _ in states})
            counts.update({f"{s}:attempts": int(a) for s, _, a in states})
        return counts

    return snapshot


def requested(ledger: PostgresLedger, account: str, amount: str = "40") -> Withdrawal:
    return ledger.request_withdrawal(
        new_id("wd"),
        account,
        "USD",
        Decimal(amount),
        destination_id=destination(ledger, account, "USD"),
    )


def outcome(
    withdrawal: Withdrawal,
    status: str = "COMPLETED",
    *,
    amount: Decimal | None = None,
    asset: str = "USD",
) -> PayoutNotice:
    return PayoutNotice(
        event_id=new_id("evt"),
        withdrawal_id=withdrawal.withdrawal_id,
        status="COMPLETED" if status == "COMPLETED" else "FAILED",
        asset=asset,
        amount=withdrawal.amount if amount is None else amount,
        provider_reference=new_id("po"),
        signed_at=1,
        failure_reason=None if status == "COMPLETED" else "account closed",
    )


def usd(ledger: PostgresLedger, account: str) -> Balance:
    return next(b for b in ledger.balances(account) if b.asset == "USD")


# -- the life -------------------------------------------------------------------------------------


def test_a_withdrawal_is_held_claimed_and_completed_once(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    # Given 100 USD and a destination past its waiting period
    alice = verified_account(ledger, USD="100")
    withdrawal = requested(ledger, alice)
    # Then 40 is held, PENDING, to that destination
    assert (withdrawal.status, withdrawal.amount) == (WithdrawalStatus.PENDING, Decimal("40.00"))
    assert usd(ledger, alice) == Balance("USD", Decimal("60"), Decimal("40"))
    # When the payout worker claims it (twice: a redelivered message), Then it is SENDING
    first = ledger.claim_payout(withdrawal.withdrawal_id)
    second = ledger.claim_payout(withdrawal.withdrawal_id)
    assert first is not None
    assert second is not None
    assert (first.attempt, second.attempt) == (1, 2)
    assert first.destination.destination_id == withdrawal.destination_id
    assert second.withdrawal.status is WithdrawalStatus.SENDING
    # When the provider's completion arrives, Then the hold is debited, once
    notice = outcome(withdrawal)
    done = ledger.record_payout_outcome(notice)
    assert done.status is WithdrawalStatus.COMPLETED
    assert done.provider_reference == notice.provider_reference
    assert usd(ledger, alice) == Balance("USD", Decimal("60"), Decimal("0"))
    assert ledger.withdrawal(alice, withdrawal.withdrawal_id) == done
    # And a finished withdrawal is not claimed again
    assert ledger.claim_payout(withdrawal.withdrawal_id) is None
    check_books(pool)


def test_a_duplicated_outcome_is_replayed_and_changes_nothing(
    ledger: PostgresLedger, written: Callable[[], Snapshot]
) -> None:
    alice = verified_account(ledger, USD="100")
    withdrawal = requested(ledger, alice)
    ledger.claim_payout(withdrawal.withdrawal_id)
    notice = outcome(withdrawal)
    ledger.record_payout_outcome(notice)
    before = written()
    # When the same event arrives again, Then it is refused and nothing moves
    with pytest.raises(ReplayedWebhook):
        ledger.record_payout_outcome(notice)
    assert written() == before
    assert usd(ledger, alice) == Balance("USD", Decimal("60"), Decimal("0"))
    # And another event with the same outcome is answered with the withdrawal, debiting nothing
    assert ledger.record_payout_outcome(outcome(withdrawal)).status is WithdrawalStatus.COMPLETED
    assert usd(ledger, alice) == Balance("USD", Decimal("60"), Decimal("0"))
    # But the opposite outcome is refused
    with pytest.raises(InvalidTransition, match="COMPLETED"):
        ledger.record_payout_outcome(outcome(withdrawal, "FAILED"))


def test_a_failed_payout_releases_the_hold(ledger: PostgresLedger, pool: ConnectionPool) -> None:
    alice = verified_account(ledger, USD="100")
    withdrawal = requested(ledger, alice)
    ledger.claim_payout(withdrawal.withdrawal_id)
    check_books(pool)  # a SENDING withdrawal's hold is held
    failed = ledger.record_payout_outcome(outcome(withdrawal, "FAILED"))
    assert (failed.status, failed.failure_reason) == (WithdrawalStatus.FAILED, "account closed")
    assert usd(ledger, alice) == Balance("USD", Decimal("100"), Decimal("0"))


def test_the_worker_fails_a_refused_payout(ledger: PostgresLedger) -> None:
    alice = verified_account(ledger, USD="100")
    withdrawal = requested(ledger, alice)
    ledger.claim_payout(withdrawal.withdrawal_id)
    assert ledger.fail_withdrawal(withdrawal.withdrawal_id).status is WithdrawalStatus.FAILED
    assert ledger.fail_withdrawal(withdrawal.withdrawal_id).status is WithdrawalStatus.FAILED
    assert usd(ledger, alice) == Balance("USD", Decimal("100"), Decimal("0"))


@pytest.mark.parametrize(
    ("amount", "asset"), [(Decimal("40.01"), "USD"), (Decimal("4"), "USD"), (Decimal("40"), "BTC")]
)
def test_an_outcome_for_another_amount_or_asset_is_refused(
    amount: Decimal,
    asset: str,
    ledger: PostgresLedger,
    written: Callable[[], Snapshot],
) -> None:
    alice = verified_account(ledger, USD="100")
    withdrawal = requested(ledger, alice)
    ledger.claim_payout(withdrawal.withdrawal_id)
    before = written()
    with pytest.raises(InvalidWebhook, match="reported as"):
        ledger.record_payout_outcome(outcome(withdrawal, amount=amount, asset=asset))
    assert written() == before  # not even the event id is kept
    assert usd(ledger, alice) == Balance("USD", Decimal("60"), Decimal("40"))


def test_an_outcome_for_a_payout_never_sent_or_unknown_is_refused(
    ledger: PostgresLedger, written: Callable[[], Snapshot]
) -> None:
    alice = verified_account(ledger, USD="100")
    withdrawal = requested(ledger, alice)
    before = written()
    with pytest.raises(InvalidTransition, match="PENDING"):
        ledger.record_payout_outcome(outcome(withdrawal))
    with pytest.raises(UnknownWithdrawal):
        ledger.record_payout_outcome(
            outcome(Withdrawal("wd-ghost", alice, "USD", Decimal(1), WithdrawalStatus.PENDING))
        )
    assert written() == before


# -- cancels --------------------------------------------------------------------------------------


def test_a_pending_withdrawal_is_cancelled_and_its_hold_released(ledger: PostgresLedger) -> None:
    alice = verified_account(ledger, USD="100")
    withdrawal = requested(ledger, alice)
    cancelled = ledger.cancel_withdrawal(alice, withdrawal.withdrawal_id)
    assert cancelled.status is WithdrawalStatus.CANCELLED
    assert usd(ledger, alice) == Balance("USD", Decimal("100"), Decimal("0"))
    # Cancelling again returns it, releasing nothing more; the worker then sends nothing
    assert ledger.cancel_withdrawal(alice, withdrawal.withdrawal_id) == cancelled
    assert usd(ledger, alice) == Balance("USD", Decimal("100"), Decimal("0"))
    assert ledger.claim_payout(withdrawal.withdrawal_id) is None


def test_a_sending_withdrawal_cannot_be_cancelled(
    ledger: PostgresLedger, written: Callable[[], Snapshot]
) -> None:
    alice = verified_account(ledger, USD="100")
    withdrawal = requested(ledger, alice)
    ledger.claim_payout(withdrawal.withdrawal_id)
    before = written()
    with pytest.raises(WithdrawalNotCancellable, match="SENDING"):
        ledger.cancel_withdrawal(alice, withdrawal.withdrawal_id)
    assert written() == before
    assert usd(ledger, alice) == Balance("USD", Decimal("60"), Decimal("40"))


def test_another_accounts_withdrawal_is_unknown_to_it(ledger: PostgresLedger) -> None:
    alice, mallory = verified_account(ledger, USD="100"), verified_account(ledger)
    withdrawal = requested(ledger, alice)
    with pytest.raises(UnknownWithdrawal):
        ledger.cancel_withdrawal(mallory, withdrawal.withdrawal_id)
    with pytest.raises(UnknownWithdrawal):
        ledger.withdrawal(mallory, withdrawal.withdrawal_id)
    assert ledger.withdrawals(mallory) == []
    assert [w.withdrawal_id for w in ledger.withdrawals(alice)] == [withdrawal.withdrawal_id]


# -- what is refused ------------------------------------------------------------------------------


def test_a_frozen_accounts_payout_is_not_claimed(ledger: PostgresLedger) -> None:
    alice = verified_account(ledger, USD="100")
    withdrawal = requested(ledger, alice)
    ledger.set_frozen(alice, True, actor="ops", reason="fraud review")
    with pytest.raises(AccountFrozen):
        ledger.claim_payout(withdrawal.withdrawal_id)
    assert ledger.withdrawal(alice, withdrawal.withdrawal_id).status is WithdrawalStatus.PENDING
    assert ledger.withdrawal(alice, withdrawal.withdrawal_id).attempts == 0
    # Once unfrozen it goes
    ledger.set_frozen(alice, False, actor="ops", reason="cleared")
    assert ledger.claim_payout(withdrawal.withdrawal_id) is not None


@pytest.mark.parametrize("case", ["waiting", "removed", "other_account", "other_asset", "unknown"])
def test_a_withdrawal_to_a_destination_not_usable_holds_nothing(
    case: str, ledger: PostgresLedger, written: Callable[[], Snapshot]
) -> None:
    alice, bob = verified_account(ledger, USD="100"), verified_account(ledger, USD="100")
    makers: dict[str, Callable[[], str]] = {
        "waiting": lambda: destination(ledger, alice, "USD", delay=timedelta(hours=24)),
        "removed": lambda: (
            ledger.remove_destination(alice, destination(ledger, alice, "USD")).destination_id
        ),
        "other_account": lambda: destination(ledger, bob, "USD"),
        "other_asset": lambda: destination(ledger, alice, "BTC"),
        "unknown": lambda: "dst-nowhere",
    }
    target = makers[case]()
    before = written()
    with pytest.raises(DestinationNotUsable):
        ledger.request_withdrawal(new_id("wd"), alice, "USD", Decimal("10"), destination_id=target)
    assert written() == before
    assert usd(ledger, alice) == Balance("USD", Decimal("100"), Decimal("0"))


def test_a_retried_request_is_the_same_withdrawal_even_after_its_destination_is_removed(
    ledger: PostgresLedger,
) -> None:
    alice = verified_account(ledger, USD="100")
    withdrawal = requested(ledger, alice)
    assert withdrawal.destination_id is not None
    ledger.remove_destination(alice, withdrawal.destination_id)
    again = ledger.request_withdrawal(
        withdrawal.withdrawal_id,
        alice,
        "USD",
        Decimal("40"),
        destination_id=withdrawal.destination_id,
    )
    assert again == withdrawal
    assert usd(ledger, alice) == Balance("USD", Decimal("60"), Decimal("40"))
    # And the payout still goes to it
    order = ledger.claim_payout(withdrawal.withdrawal_id)
    assert order is not None
    assert order.destination.removed_at is not None
    # The same id with another destination is refused
    with pytest.raises(InvalidTransition, match="other terms"):
        ledger.request_withdrawal(
            withdrawal.withdrawal_id,
            alice,
            "USD",
            Decimal("40"),
            destination_id=destination(ledger, alice, "USD"),
        )


# -- destinations ---------------------------------------------------------------------------------


def test_destinations_are_added_once_listed_and_removed(ledger: PostgresLedger) -> None:
    alice = verified_account(ledger)
    new = NewDestination(new_id("dst"), alice, "BTC", DestinationKind.ADDRESS, "bc1qxyz", "cold")
    added = ledger.add_destination(new, delay=timedelta(hours=24))
    # Usable 24 hours after it was added, on the database's clock
    assert added.usable_at - added.created_at == timedelta(hours=24)
    assert added.status(added.created_at) == "PENDING"
    # The same id and terms is the same destination (the waiting period does not restart)
    assert ledger.add_destination(new, delay=timedelta(0)) == added
    with pytest.raises(DestinationConflict, match="address"):
        ledger.add_destination(
            NewDestination(new.destination_id, alice, "BTC", DestinationKind.ADDRESS, "bc1q", ""),
            delay=timedelta(0),
        )
    other = destination(ledger, alice, "USD")
    assert [d.destination_id for d in ledger.destinations(alice)] == [other, new.destination_id]
    removed = ledger.remove_destination(alice, new.destination_id)
    assert removed.removed_at is not None
    assert ledger.remove_destination(alice, new.destination_id) == removed
    assert [d.destination_id for d in ledger.destinations(alice)] == [other]
    with pytest.raises(UnknownDestination):
        ledger.remove_destination(verified_account(ledger), other)


def test_a_frozen_account_adds_no_destination(
    ledger: PostgresLedger, written: Callable[[], Snapshot]
) -> None:
    alice = verified_account(ledger)
    ledger.set_frozen(alice, True, actor="ops", reason="fraud review")
    before = written()
    with pytest.raises(AccountFrozen):
        destination(ledger, alice, "USD")
    assert written() == before


# -- the sweeper's view ---------------------------------------------------------------------------


def test_stuck_payouts_are_those_in_flight_not_updated_lately(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    alice = verified_account(ledger, USD="100")
    pending, sending, done, fresh = (requested(ledger, alice, "10") for _ in range(4))
    ledger.claim_payout(sending.withdrawal_id)
    ledger.claim_payout(done.withdrawal_id)
    ledger.complete_withdrawal(done.withdrawal_id)
    with pool.connection() as conn:  # an hour passes for all but the fresh one
        conn.execute(
            "UPDATE ledger.withdrawals SET updated_at = updated_at - interval '1 hour' "
            "WHERE withdrawal_id = ANY(%s)",
            ([pending.withdrawal_id, sending.withdrawal_id, done.withdrawal_id],),
        )
    stuck = ledger.stuck_payouts(timedelta(minutes=10), limit=1000)
    mine = [w.withdrawal_id for w in stuck if w.account_id == alice]
    assert mine == [pending.withdrawal_id, sending.withdrawal_id]
    assert fresh.withdrawal_id not in mine
    assert [w.attempts for w in stuck if w.account_id == alice] == [0, 1]
    # And the books hold: what is held is what PENDING and SENDING withdrawals hold
    check_books(pool)


def test_a_frozen_accounts_withdrawals_are_not_stuck_until_it_is_unfrozen(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    """Held on purpose: counted as stuck, a frozen account's withdrawals would stay the oldest
    for ever (a refused claim never updates them) and fill the sweep's limit."""
    alice = verified_account(ledger, USD="100")
    held = requested(ledger, alice, "10")
    with pool.connection() as conn:
        conn.execute(
            "UPDATE ledger.withdrawals SET updated_at = updated_at - interval '1 hour' "
            "WHERE withdrawal_id = %s",
            (held.withdrawal_id,),
        )
    ledger.set_frozen(alice, True, actor="ops", reason="fraud review")
    stuck = ledger.stuck_payouts(timedelta(minutes=10), limit=1000)
    assert held.withdrawal_id not in [w.withdrawal_id for w in stuck]
    ledger.set_frozen(alice, False, actor="ops", reason="cleared")
    stuck = ledger.stuck_payouts(timedelta(minutes=10), limit=1000)
    assert held.withdrawal_id in [w.withdrawal_id for w in stuck]
