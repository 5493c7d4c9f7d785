"""Double-entry movements: every change of a balance is a pair of journal entries summing to zero.

A ``Movement`` takes ``amount`` of one asset out of one pocket (an account's available or held
balance) and puts it into another. The journal stores it as two entries, ``-amount`` and
``+amount``; balances are the sums of the entries, so conservation holds by construction.

>>> alice, bob = Pocket("alice", Bucket.AVAILABLE), Pocket("bob", Bucket.AVAILABLE)
>>> moves = move("USD", Decimal("-5"), alice, bob)  # a negative amount flows the other way
>>> moves[0].source.account_id, moves[0].amount
('bob', Decimal('5'))
>>> balance_deltas(moves)[("alice", "USD")]
(Decimal('5'), Decimal('0'))
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from exchange.ledger.money import ZERO, add

# The outside world (payment providers, chains): a journal-only account with no balance row, so
# deposits and withdrawals balance in the journal without a negative balance anywhere.
EXTERNAL_ACCOUNT = "external"


class Bucket(StrEnum):
    AVAILABLE = "AVAILABLE"
    HELD = "HELD"


@dataclass(frozen=True, slots=True)
class Pocket:
    account_id: str
    bucket: Bucket


@dataclass(frozen=True, slots=True)
class Movement:
    asset: str
    amount: Decimal  # always positive
    source: Pocket
    target: Pocket


def move(asset: str, amount: Decimal, source: Pocket, target: Pocket) -> list[Movement]:
    """Zero or one movement; a negative ``amount`` moves the other way."""
    if amount == 0 or source == target:
        return []
    if amount < 0:
        return [Movement(asset, -amount, target, source)]
    return [Movement(asset, amount, source, target)]


def balance_deltas(movements: list[Movement]) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """Net (available, held) change per (account, asset), the external account left out."""
    deltas: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
    for movement in movements:
        for pocket, sign in ((movement.source, -1), (movement.target, 1)):
            if pocket.account_id == EXTERNAL_ACCOUNT:
                continue
            key = (pocket.account_id, movement.asset)
            available, held = deltas.get(key, (ZERO, ZERO))
            amount = movement.amount if sign > 0 else -movement.amount
            if pocket.bucket is Bucket.AVAILABLE:
                available = add(available, amount)
            else:
                held = add(held, amount)
            deltas[key] = (available, held)
    return deltas
