"""Money out, to the end: withdrawal destinations, the payout worker's claim, the provider's
outcome, cancels and the stuck payouts. ``PostgresLedger`` implements it
(``exchange.ledger.postgres.withdrawals``).

A withdrawal goes PENDING -> SENDING -> COMPLETED or FAILED, or PENDING -> CANCELLED
(``WithdrawalStatus``). Its funds are held from the request until it is COMPLETED (the hold is
debited to the outside world) or FAILED/CANCELLED (the hold goes back to available).
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from exchange.ledger.model import Withdrawal


class DestinationKind(StrEnum):
    ADDRESS = "ADDRESS"  # a blockchain address (crypto assets)
    BANK = "BANK"  # a bank account reference (IBAN or account number; fiat assets)


@dataclass(frozen=True, slots=True)
class NewDestination:
    destination_id: str  # the API derives it from the Idempotency-Key, like a withdrawal's id
    account_id: str
    asset: str
    kind: DestinationKind
    address: str
    label: str


@dataclass(frozen=True, slots=True)
class Destination:
    destination_id: str
    account_id: str
    asset: str
    kind: DestinationKind
    address: str
    label: str
    created_at: datetime
    usable_at: datetime  # created_at + the waiting period; withdrawals to it before are refused
    removed_at: datetime | None = None

    def status(self, now: datetime) -> Literal["PENDING", "ACTIVE", "REMOVED"]:
        if self.removed_at is not None:
            return "REMOVED"
        return "ACTIVE" if now >= self.usable_at else "PENDING"


@dataclass(frozen=True, slots=True)
class PayoutOrder:
    """What the payout worker sends: the withdrawal, where to, and which attempt this is. The
    provider's idempotency key is ``withdrawal.withdrawal_id`` on every attempt."""

    withdrawal: Withdrawal
    destination: Destination
    attempt: int


@dataclass(frozen=True, slots=True)
class PayoutNotice:
    """A verified payout webhook event (``exchange.payouts.webhooks``)."""

    event_id: str
    withdrawal_id: str
    status: Literal["COMPLETED", "FAILED"]
    asset: str
    amount: Decimal
    provider_reference: str
    signed_at: int
    failure_reason: str | None = None


class WithdrawalsPort(ABC):
    # -- destinations ---------------------------------------------------------------------------
    @abstractmethod
    def add_destination(self, new: NewDestination, *, delay: timedelta) -> Destination:
        """Add a destination, usable ``delay`` after now (the database's clock). The same id with
        the same terms returns the destination added before; other terms raise
        DestinationConflict. Raises UnknownAccount, UnknownAsset, AccountFrozen. Writes a
        ``destination.added`` SECURITY notice to the outbox in the same transaction."""

    @abstractmethod
    def destinations(self, account_id: str) -> list[Destination]:
        """The account's destinations not removed, newest first."""

    @abstractmethod
    def remove_destination(self, account_id: str, destination_id: str) -> Destination:
        """Remove one (idempotent: removing it again returns it). Raises UnknownDestination.
        Withdrawals already requested to it go on."""

    # -- the withdrawal's life ------------------------------------------------------------------
    @abstractmethod
    def withdrawal(self, account_id: str, withdrawal_id: str) -> Withdrawal:
        """One of the account's withdrawals; UnknownWithdrawal otherwise (another account's too)."""

    @abstractmethod
    def withdrawals(self, account_id: str, *, limit: int = 100) -> list[Withdrawal]:
        """The account's withdrawals, newest first."""

    @abstractmethod
    def cancel_withdrawal(self, account_id: str, withdrawal_id: str) -> Withdrawal:
        """PENDING -> CANCELLED, the hold released, a notice in the outbox. Cancelling a
        cancelled one returns it; SENDING or final raises WithdrawalNotCancellable;
        UnknownWithdrawal for another account's."""

    @abstractmethod
    def claim_payout(self, withdrawal_id: str) -> PayoutOrder | None:
        """For the payout worker: PENDING or SENDING -> SENDING, ``attempts`` + 1, and what to
        send. None when there is nothing to send (cancelled or final). Raises AccountFrozen when
        the account is frozen (it stays PENDING: a freeze stops money leaving), and
        UnknownWithdrawal."""

    @abstractmethod
    def record_payout_outcome(self, notice: PayoutNotice) -> Withdrawal:
        """The provider's webhook: record the event id once (ReplayedWebhook on a repeat), then
        COMPLETED (the hold debited to the outside world) or FAILED (the hold released), with a
        notice in the outbox, all in one transaction. A notice whose asset or amount differs
        from the withdrawal's raises InvalidWebhook; an outcome for a final withdrawal raises
        InvalidTransition (the same outcome again returns it). Nothing is written on a raise."""

    @abstractmethod
    def stuck_payouts(self, older_than: timedelta, *, limit: int) -> list[Withdrawal]:
        """PENDING or SENDING withdrawals not updated for ``older_than``, oldest first: a lost
        queue message, or a provider that never answered."""
