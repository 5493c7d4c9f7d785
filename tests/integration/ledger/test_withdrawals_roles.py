"""The new functions' database roles (migration 0005) do their real work through
``PostgresLedger``, connected as themselves, and nothing more (their exact grants: test_roles.py's
table): the payout worker claims, fails and finishes payouts, the deposits function records the
provider's outcome, the sweeper only reads, the relay only reads and marks the outbox, the emailer
only reads preferences."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from exchange.ledger.model import Withdrawal, WithdrawalStatus
from exchange.ledger.payouts_port import PayoutNotice
from exchange.ledger.postgres import PostgresLedger
from exchange.notices import NoticeKind, NotificationPreferences
from tests.integration.ledger.conftest import destination, ledger_as
from tests.unit.ledger.helpers import new_id, verified_account

Roles = Callable[[str], ConnectionPool]


def requested(account: PostgresLedger, account_id: str) -> Withdrawal:
    """A withdrawal of 40 USD, requested through the account function's role."""
    return account.request_withdrawal(
        new_id("wd"),
        account_id,
        "USD",
        Decimal("40"),
        destination_id=destination(account, account_id, "USD"),
    )


def completion(withdrawal: Withdrawal) -> PayoutNotice:
    return PayoutNotice(
        new_id("evt"), withdrawal.withdrawal_id, "COMPLETED", "USD", Decimal("40"), new_id("po"), 1
    )


def test_the_payout_roles_take_a_withdrawal_to_its_end(
    ledger: PostgresLedger, as_role: Roles
) -> None:
    alice = verified_account(ledger, USD="100")
    account = ledger_as(as_role("exchange_account"), ledger.fee_account_id)
    payouts = ledger_as(as_role("exchange_payouts"), ledger.fee_account_id)
    deposits = ledger_as(as_role("exchange_deposits"), ledger.fee_account_id)
    sweeper = ledger_as(as_role("exchange_payout_sweeper"), ledger.fee_account_id)
    # The sweeper sees a lost queue message; the worker claims it, once refused, once completed
    paid, refused = requested(account, alice), requested(account, alice)
    stuck = {w.withdrawal_id for w in sweeper.stuck_payouts(timedelta(0), limit=1000)}
    assert {paid.withdrawal_id, refused.withdrawal_id} <= stuck
    for withdrawal in (paid, refused):
        order = payouts.claim_payout(withdrawal.withdrawal_id)
        assert order is not None
        assert order.destination.destination_id == withdrawal.destination_id
    assert payouts.fail_withdrawal(refused.withdrawal_id, reason="422").status.final
    # The provider's webhook (the deposits function) completes it; the payout worker may too
    assert deposits.record_payout_outcome(completion(paid)).status is WithdrawalStatus.COMPLETED
    assert payouts.record_payout_outcome(completion(paid)).status is WithdrawalStatus.COMPLETED
    assert [(b.available, b.held) for b in ledger.balances(alice)] == [(Decimal(60), Decimal(0))]
    # Both relay the notices their changes wrote
    for relaying in (deposits, payouts):
        assert isinstance(relaying.unpublished_notices(limit=1), list)


def test_the_relay_and_the_emailer_do_their_work(ledger: PostgresLedger, as_role: Roles) -> None:
    alice = verified_account(ledger, USD="1")
    relay = ledger_as(as_role("exchange_notices_relay"), ledger.fee_account_id)
    emailer = ledger_as(as_role("exchange_emailer"), ledger.fee_account_id)
    account = ledger_as(as_role("exchange_account"), ledger.fee_account_id)
    notices = relay.unpublished_notices(limit=10_000)
    assert any(n.account_id == alice for n in notices)
    relay.mark_published([n.notice_id for n in notices])
    assert all(n.account_id != alice for n in relay.unpublished_notices(limit=10_000))
    chosen = NotificationPreferences(alice, {NoticeKind.FILL: True})
    account.set_notification_preferences(chosen)
    assert emailer.notification_preferences(alice).wants(NoticeKind.FILL)


OVERSTEPS = {
    "exchange_payout_sweeper": [
        "UPDATE ledger.withdrawals SET status = 'FAILED'",
        "SELECT * FROM ledger.withdrawal_destinations",
        "SELECT * FROM ledger.outbox",
        "UPDATE ledger.balances SET held = 0",
    ],
    "exchange_notices_relay": [
        "INSERT INTO ledger.outbox (notice) VALUES ('{}')",
        "UPDATE ledger.outbox SET notice = '{}'",
        "DELETE FROM ledger.outbox",
        "SELECT * FROM ledger.withdrawals",
        "SELECT * FROM ledger.notification_preferences",
    ],
    "exchange_emailer": [
        "UPDATE ledger.notification_preferences SET email = true",
        "INSERT INTO ledger.notification_preferences (account_id, kind, email) "
        "VALUES ('x', 'FILL', true)",
        "SELECT email FROM ledger.accounts",
        "SELECT * FROM ledger.outbox",
        "SELECT * FROM ledger.balances",
    ],
    "exchange_payouts": [
        "UPDATE ledger.withdrawals SET amount = 1",
        "UPDATE ledger.withdrawals SET destination_id = 'mine'",
        "UPDATE ledger.withdrawal_destinations SET address = 'mine'",
        "INSERT INTO ledger.withdrawal_destinations (destination_id, account_id, asset, kind, "
        "address, usable_at) VALUES ('d', 'a', 'USD', 'BANK', 'x', now())",
        "UPDATE ledger.accounts SET frozen = false",
        "DELETE FROM ledger.outbox",
        "SELECT * FROM ledger.notification_preferences",
    ],
    "exchange_account": [
        # A destination's waiting period is the database's: the account function cannot shorten it
        "UPDATE ledger.withdrawal_destinations SET usable_at = now()",
        "UPDATE ledger.withdrawal_destinations SET address = 'mine'",
        "UPDATE ledger.withdrawals SET amount = 1",
        "UPDATE ledger.withdrawals SET attempts = 0",
        "UPDATE ledger.outbox SET published_at = now()",
        "SELECT * FROM ledger.outbox",
    ],
}


@pytest.mark.parametrize(
    ("role", "statement"), [(r, s) for r, statements in OVERSTEPS.items() for s in statements]
)
def test_a_new_role_cannot_overstep(role: str, statement: str, as_role: Roles) -> None:
    with as_role(role).connection() as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
        conn.rollback()
