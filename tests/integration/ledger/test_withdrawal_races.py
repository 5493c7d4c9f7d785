"""Races of money out on the real PostgreSQL: a destination's removal against a withdrawal to it.

A user who sees a ``destination.added`` email they did not expect removes the destination; a
withdrawal to it that is checked while the removal is in flight must wait for the removal and then
be refused, never slip through on the row as it was before the removal committed.
"""

import time
from collections.abc import Callable
from decimal import Decimal

import psycopg
from psycopg_pool import ConnectionPool

from exchange.ledger.errors import DestinationNotUsable
from exchange.ledger.model import Balance
from exchange.ledger.postgres import PostgresLedger
from tests.integration.ledger.conftest import destination, ledger_as
from tests.integration.ledger.test_freeze import run_in_thread
from tests.unit.ledger.helpers import new_id, verified_account

Roles = Callable[[str], ConnectionPool]


def test_a_withdrawal_waits_for_a_removal_in_flight_and_is_then_refused(
    ledger: PostgresLedger, fresh_database: str, as_role: Roles
) -> None:
    alice = verified_account(ledger, USD="100")
    target = destination(ledger, alice, "USD")
    # The account function's own role: its grants must allow the row lock the check takes
    account = ledger_as(as_role("exchange_account"), ledger.fee_account_id)
    with psycopg.connect(fresh_database) as remover:
        # Given the destination's removal written but not yet committed
        remover.execute(
            "UPDATE ledger.withdrawal_destinations SET removed_at = now() "
            "WHERE destination_id = %s",
            (target,),
        )
        # When a withdrawal to it is requested meanwhile
        thread, outcome = run_in_thread(
            lambda: account.request_withdrawal(
                new_id("wd"), alice, "USD", Decimal("40"), destination_id=target
            )
        )
        time.sleep(0.5)
        # Then it waits for the removal ...
        assert thread.is_alive()
        assert outcome == []
        remover.commit()
    thread.join(10)
    # ... and, once the removal commits, is refused with nothing held
    assert len(outcome) == 1
    assert isinstance(outcome[0], DestinationNotUsable)
    assert ledger.balances(alice) == [Balance("USD", Decimal(100), Decimal(0))]
    assert ledger.withdrawals(alice) == []
