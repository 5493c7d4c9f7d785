"""Withdrawals for the statement tests: to a destination usable at once, then completed by the
payout (claimed, then paid out), failed by the provider, cancelled, or left pending."""

from datetime import timedelta
from decimal import Decimal
from typing import Literal

from exchange.ledger.payouts_port import DestinationKind, NewDestination
from exchange.ledger.postgres import PostgresLedger
from tests.unit.ledger.helpers import new_id

Outcome = Literal["COMPLETED", "FAILED", "CANCELLED", "PENDING"]


def withdraw(
    ledger: PostgresLedger, account_id: str, asset: str, amount: Decimal, outcome: Outcome
) -> None:
    destination = ledger.add_destination(
        NewDestination(
            destination_id=new_id("dst"),
            account_id=account_id,
            asset=asset,
            kind=DestinationKind.ADDRESS,
            address=f"addr-{new_id('x')}",
            label="statements",
        ),
        delay=timedelta(0),
    )
    withdrawal_id = new_id("wd")
    ledger.request_withdrawal(
        withdrawal_id, account_id, asset, amount, destination_id=destination.destination_id
    )
    if outcome == "CANCELLED":
        ledger.cancel_withdrawal(account_id, withdrawal_id)
    elif outcome != "PENDING":
        assert ledger.claim_payout(withdrawal_id) is not None
        if outcome == "COMPLETED":
            ledger.complete_withdrawal(withdrawal_id)
        else:
            ledger.fail_withdrawal(withdrawal_id)
