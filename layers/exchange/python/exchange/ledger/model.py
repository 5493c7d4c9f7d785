"""The ledger's value types: what its port takes and returns. Amounts are exact ``Decimal``."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal


class KycStatus(StrEnum):
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"
    SUSPENDED = "SUSPENDED"

    @property
    def may_trade(self) -> bool:
        """Trading and withdrawing need a verified account; deposits are accepted regardless."""
        return self is KycStatus.VERIFIED


class AccountKind(StrEnum):
    USER = "USER"
    FEE = "FEE"
    EXTERNAL = "EXTERNAL"


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    available: Decimal
    held: Decimal

    @property
    def total(self) -> Decimal:
        return self.available + self.held


@dataclass(frozen=True, slots=True)
class DepositNotice:
    """A verified deposit event from the payment provider."""

    event_id: str
    deposit_id: str
    account_id: str
    asset: str
    amount: Decimal
    status: Literal["CREDITED", "FAILED"]
    signed_at: int


@dataclass(frozen=True, slots=True)
class Deposit:
    deposit_id: str
    account_id: str
    asset: str
    amount: Decimal
    status: Literal["CREDITED", "FAILED"]


class WithdrawalStatus(StrEnum):
    """PENDING: held, not sent (the user may cancel it). SENDING: claimed by the payout worker and
    sent to the provider (perhaps more than once, with the same idempotency key); it can no
    longer be cancelled. COMPLETED: paid out (the hold debited). FAILED: the provider refused it
    (the hold released). CANCELLED: the user cancelled it before it was sent (hold released)."""

    PENDING = "PENDING"
    SENDING = "SENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def final(self) -> bool:
        return self in (
            WithdrawalStatus.COMPLETED,
            WithdrawalStatus.FAILED,
            WithdrawalStatus.CANCELLED,
        )


@dataclass(frozen=True, slots=True)
class Withdrawal:
    withdrawal_id: str
    account_id: str
    asset: str
    amount: Decimal
    status: WithdrawalStatus
    destination_id: str | None = None
    attempts: int = 0  # how many times the payout worker sent it
    provider_reference: str | None = None  # the provider's id of the payout, once it answered
    failure_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SymbolPnl:
    """Average cost and realized P&L of one instrument's base, in its quote asset, fees included.

    ``quantity`` is the traded quantity still held that has a known cost (deposits have none).
    """

    symbol: str
    quantity: Decimal
    average_cost: Decimal | None
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class DividendCredit:
    """A cash dividend paid to the account: ``units`` of the symbol's base held at the record
    time, times ``amount_per_unit``, rounded down to ``asset``'s scale, is ``amount``."""

    dividend_id: str
    symbol: str
    asset: str
    units: Decimal
    amount_per_unit: Decimal
    amount: Decimal
    paid_at: datetime


@dataclass(frozen=True, slots=True)
class Positions:
    """Holdings (the balances, dividends received included), P&L per symbol from trades alone,
    and the dividends credited, newest first."""

    holdings: list[Balance]
    pnl: list[SymbolPnl]
    dividends: list[DividendCredit] = field(default_factory=list)
