"""The ledger's outbox on the real PostgreSQL: exactly one notice per change of money outside
trading, written in the change's transaction (none when the change is refused), published once
marked; and the users' notification preferences."""

from collections.abc import Callable
from decimal import Decimal

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from exchange.ledger.errors import (
    DestinationNotUsable,
    InsufficientFunds,
    ReplayedWebhook,
    UnknownAccount,
    WithdrawalNotCancellable,
)
from exchange.ledger.model import DepositNotice, Withdrawal
from exchange.ledger.payouts_port import PayoutNotice
from exchange.ledger.postgres import PostgresLedger
from exchange.notices import Notice, NoticeKind, NotificationPreferences
from tests.integration.ledger.conftest import destination
from tests.unit.ledger.helpers import new_id, verified_account


def notices_of(pool: ConnectionPool, account_id: str) -> list[Notice]:
    """Every outbox notice of the account, oldest first."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT notice::text FROM ledger.outbox WHERE notice->>'account_id' = %s ORDER BY id",
            (account_id,),
        ).fetchall()
    return [Notice.decode(str(row[0])) for row in rows]


def events(pool: ConnectionPool, account_id: str) -> list[tuple[NoticeKind, str]]:
    return [(n.kind, n.event) for n in notices_of(pool, account_id)]


def credit(ledger: PostgresLedger, account_id: str, amount: str, asset: str = "USD") -> str:
    deposit_id = new_id("dep")
    ledger.credit_deposit(
        DepositNotice(new_id("evt"), deposit_id, account_id, asset, Decimal(amount), "CREDITED", 0)
    )
    return deposit_id


def withdraw(ledger: PostgresLedger, account_id: str, amount: str) -> Withdrawal:
    return ledger.request_withdrawal(
        new_id("wd"),
        account_id,
        "USD",
        Decimal(amount),
        destination_id=destination(ledger, account_id, "USD"),
    )


def payout(withdrawal: Withdrawal, status: str) -> PayoutNotice:
    return PayoutNotice(
        new_id("evt"),
        withdrawal.withdrawal_id,
        "COMPLETED" if status == "COMPLETED" else "FAILED",
        withdrawal.asset,
        withdrawal.amount,
        new_id("po"),
        1,
        None if status == "COMPLETED" else "closed",
    )


def test_each_change_writes_exactly_one_notice_with_its_details(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    alice = verified_account(ledger)
    # When a deposit is credited
    deposit_id = credit(ledger, alice, "100", asset="BTC")
    deposit_notice = notices_of(pool, alice)[-1]
    # Then one DEPOSIT notice says so, its amount at the asset's scale (BTC: 8 decimals)
    assert (deposit_notice.kind, deposit_notice.event) == (NoticeKind.DEPOSIT, "deposit.credited")
    assert deposit_notice.data == {
        "asset": "BTC",
        "amount": "100.00000000",
        "deposit_id": deposit_id,
    }
    assert deposit_notice.notice_id.startswith("ledger#")
    assert deposit_notice.at_ns > 1_700_000_000 * 10**9
    # When a destination is added, and withdrawals are requested, completed, failed, cancelled
    credit(ledger, alice, "100")
    done, failed, cancelled = (withdraw(ledger, alice, "10") for _ in range(3))
    for sent in (done, failed):
        ledger.claim_payout(sent.withdrawal_id)  # a claim tells nobody anything
    ledger.record_payout_outcome(payout(done, "COMPLETED"))
    ledger.record_payout_outcome(payout(failed, "FAILED"))
    ledger.cancel_withdrawal(alice, cancelled.withdrawal_id)
    # Then each change has exactly one notice, in order
    security, withdrawal = NoticeKind.SECURITY, NoticeKind.WITHDRAWAL
    assert events(pool, alice) == [
        (NoticeKind.DEPOSIT, "deposit.credited"),
        (NoticeKind.DEPOSIT, "deposit.credited"),
        *[(security, "destination.added"), (withdrawal, "withdrawal.requested")] * 3,
        (withdrawal, "withdrawal.completed"),
        (withdrawal, "withdrawal.failed"),
        (withdrawal, "withdrawal.cancelled"),
    ]
    by_event = {n.event: n for n in notices_of(pool, alice)}
    assert by_event["withdrawal.failed"].data == {
        "asset": "USD",
        "amount": "10.00000000",
        "withdrawal_id": failed.withdrawal_id,
        "destination_id": str(failed.destination_id),
        "reason": "closed",
    }
    added = by_event["destination.added"].data
    assert set(added) == {"asset", "destination_id", "kind", "address", "label", "usable_at"}
    assert len({n.notice_id for n in notices_of(pool, alice)}) == len(notices_of(pool, alice))


def test_a_refused_change_writes_no_notice(ledger: PostgresLedger, pool: ConnectionPool) -> None:
    alice = verified_account(ledger, USD="100")
    sent = withdraw(ledger, alice, "10")
    ledger.claim_payout(sent.withdrawal_id)
    completion = payout(sent, "COMPLETED")
    ledger.record_payout_outcome(completion)
    # When changes are refused: too much, a destination not usable, a replayed deposit or outcome,
    # a cancel of a finished withdrawal
    target = destination(ledger, alice, "USD")
    before = events(pool, alice)
    refused: list[tuple[type[Exception], Callable[[], object]]] = [
        (
            InsufficientFunds,
            lambda: ledger.request_withdrawal(
                new_id("wd"), alice, "USD", Decimal(1000), destination_id=target
            ),
        ),
        (
            DestinationNotUsable,
            lambda: ledger.request_withdrawal(
                new_id("wd"), alice, "USD", Decimal(1), destination_id="dst-nowhere"
            ),
        ),
        (ReplayedWebhook, lambda: ledger.record_payout_outcome(completion)),
        (WithdrawalNotCancellable, lambda: ledger.cancel_withdrawal(alice, sent.withdrawal_id)),
    ]
    for error, change in refused:
        with pytest.raises(error):
            change()
    # Then no notice was written
    assert events(pool, alice) == before
    # Nor on an idempotent repeat that changes nothing
    ledger.request_withdrawal(
        sent.withdrawal_id, alice, "USD", Decimal(10), destination_id=str(sent.destination_id)
    )
    ledger.record_payout_outcome(payout(sent, "COMPLETED"))  # another event, same outcome
    assert events(pool, alice) == before


def test_the_relay_reads_unpublished_notices_oldest_first_and_marks_them(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    # Given what other tests left, all marked published
    while batch := ledger.unpublished_notices(limit=500):
        ledger.mark_published([n.notice_id for n in batch])
    alice = verified_account(ledger)
    for amount in ("1", "2", "3"):
        credit(ledger, alice, amount)
    # When the relay reads two, Then they are the oldest
    first = ledger.unpublished_notices(limit=2)
    assert [n.data["amount"] for n in first] == ["1.00000000", "2.00000000"]
    # When it marks them (twice: a retried relay), Then only the third is left
    ledger.mark_published([n.notice_id for n in first])
    ledger.mark_published([n.notice_id for n in first])
    assert [n.data["amount"] for n in ledger.unpublished_notices(limit=10)] == ["3.00000000"]
    with pytest.raises(ValueError, match="not a ledger notice id"):
        ledger.mark_published(["fill#BTC-USD#1#a"])


def test_preferences_are_the_defaults_until_set_and_round_trip(ledger: PostgresLedger) -> None:
    alice = verified_account(ledger)
    assert ledger.notification_preferences(alice) == NotificationPreferences.defaults(alice)
    # When fills are switched on and deposits off
    chosen = NotificationPreferences(alice, {NoticeKind.FILL: True, NoticeKind.DEPOSIT: False})
    stored = ledger.set_notification_preferences(chosen)
    # Then every kind is stored, the ones not given at their defaults
    expected = {
        NoticeKind.FILL: True,
        NoticeKind.DEPOSIT: False,
        NoticeKind.WITHDRAWAL: True,
        NoticeKind.SECURITY: True,
    }
    assert stored == NotificationPreferences(alice, expected)
    assert ledger.notification_preferences(alice) == stored
    # And set again, it is replaced
    again = NotificationPreferences(alice, {**expected, NoticeKind.FILL: False})
    assert ledger.set_notification_preferences(again) == again
    assert ledger.notification_preferences(alice) == again


def test_security_notices_cannot_be_switched_off(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    alice = verified_account(ledger)
    off = NotificationPreferences(alice, {NoticeKind.SECURITY: False})
    with pytest.raises(ValueError, match="SECURITY"):
        ledger.set_notification_preferences(off)
    assert ledger.notification_preferences(alice).wants(NoticeKind.SECURITY)
    # Nor behind the ledger's back: the table refuses it
    with (
        pool.connection() as conn,
        pytest.raises(psycopg.errors.CheckViolation, match="security_always_emailed"),
    ):
        conn.execute(
            "INSERT INTO ledger.notification_preferences (account_id, kind, email) "
            "VALUES (%s, 'SECURITY', false)",
            (alice,),
        )


def test_preferences_of_an_account_that_is_no_user_are_unknown(ledger: PostgresLedger) -> None:
    for account_id in ("nobody", ledger.fee_account_id):
        with pytest.raises(UnknownAccount):
            ledger.notification_preferences(account_id)
        with pytest.raises(UnknownAccount):
            ledger.set_notification_preferences(NotificationPreferences.defaults(account_id))
