"""The account function's logic: profile (identity claims plus KYC status), balances, positions
with P&L, and withdrawals. Money comes from the ledger; the identity from the caller's token."""

from abc import ABC, abstractmethod
from dataclasses import dataclass

from exchange.domain.numbers import parse_decimal
from exchange.ids import command_id
from exchange.ledger.model import Balance, KycStatus, Positions, Withdrawal
from exchange.ledger.port import LedgerPort


class AccountDirectory(ABC):
    """Reads the ledger's account records. (The ledger port has no read of an account's KYC
    status yet; when it gets one, this port folds into it.)"""

    @abstractmethod
    def kyc_status(self, account_id: str) -> KycStatus | None:
        """The account's KYC status, or None when the ledger has no such user account."""


@dataclass(frozen=True, slots=True)
class Profile:
    account_id: str
    kyc_status: KycStatus | None
    email: str | None = None
    username: str | None = None


class AccountService:
    def __init__(self, *, ledger: LedgerPort, directory: AccountDirectory) -> None:
        self._ledger = ledger
        self._directory = directory

    def profile(self, account_id: str, *, email: str | None, username: str | None) -> Profile:
        return Profile(account_id, self._directory.kyc_status(account_id), email, username)

    def balances(self, account_id: str) -> list[Balance]:
        return self._ledger.balances(account_id)

    def positions(self, account_id: str) -> Positions:
        return self._ledger.positions(account_id)

    def withdraw(
        self, account_id: str, *, asset: str, amount: str, idempotency_key: str
    ) -> Withdrawal:
        """Hold ``amount`` for a withdrawal, once per key.

        The withdrawal id follows from the account and the key, and the ledger records each id
        once: a retry returns the same withdrawal, and the same key with another asset or amount
        raises InvalidTransition (409), all inside one ledger transaction.
        """
        value = parse_decimal(amount, what="amount")
        withdrawal_id = f"wd-{command_id(account_id, 'withdraw', idempotency_key)}"
        return self._ledger.request_withdrawal(withdrawal_id, account_id, asset, value)
