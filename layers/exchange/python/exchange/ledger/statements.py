"""Statements: every movement of an account's money, as the journal recorded it.

Each journal transaction that changes an account's total (available + held) of an asset gives
one line per kind of movement: a trade's proceeds or cost (TRADE), its fee (FEE) or rebate
(REBATE), deposits, withdrawals (the debit of the hold at completion; a hold and its release
move nothing), dividends. Moves between an account's own available and held balances change no
total and are not lines. So, per asset, the sum of an account's lines is its balance's total,
and ``balance_after`` is that running sum.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class MovementKind(StrEnum):
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    TRADE = "TRADE"
    FEE = "FEE"
    REBATE = "REBATE"
    DIVIDEND = "DIVIDEND"
    ADJUSTMENT = "ADJUSTMENT"  # anything else (an operator's correction)


@dataclass(frozen=True, slots=True)
class StatementLine:
    tx_id: int  # the journal transaction; with kind and asset, a line's identity
    at: datetime
    kind: MovementKind
    asset: str
    amount: Decimal  # signed: positive into the account, negative out of it
    balance_after: Decimal  # the account's total of ``asset`` after this line
    reference: str  # the order, deposit, withdrawal or dividend id; ``symbol#seq`` for a trade
    symbol: str | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class StatementPosition:
    """Where a page ended: the next page starts after this line."""

    tx_id: int
    kind: MovementKind
    asset: str


@dataclass(frozen=True, slots=True)
class StatementQuery:
    account_id: str
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    asset: str | None = None
    limit: int = 100
    newest_first: bool = True
    after: StatementPosition | None = None


@dataclass(frozen=True, slots=True)
class StatementPage:
    lines: list[StatementLine]
    next_after: StatementPosition | None  # None: the range has no more lines


class StatementsPort(ABC):
    @abstractmethod
    def statement(self, query: StatementQuery) -> StatementPage:
        """One page of the account's lines in the range, in tx order (newest first unless
        asked). Raises UnknownAccount."""
