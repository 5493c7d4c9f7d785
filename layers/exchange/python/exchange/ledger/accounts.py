"""The account function's logic: profile, balances, positions with P&L, and withdrawals.

Money, the KYC status and the email (stored at onboarding) come from the ledger; only the account
id and the username come from the caller's access token, which carries no email.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass

from exchange.domain.numbers import parse_decimal
from exchange.ids import command_id
from exchange.ledger.model import Balance, KycStatus, Positions, Withdrawal
from exchange.ledger.port import LedgerPort


@dataclass(frozen=True, slots=True)
class AccountRecord:
    account_id: str
    kyc_status: KycStatus
    email: str | None = None


class AccountDirectory(ABC):
    """Reads the ledger's account records. (The ledger port has no read of an account's KYC
    status yet; when it gets one, this port folds into it.)"""

    @abstractmethod
    def kyc_status(self, account_id: str) -> KycStatus | None:
        """The account's KYC status, or None when the ledger has no such user account."""

    def account(self, account_id: str) -> AccountRecord | None:
        """The user account's record, or None. A directory that stores no email answers none."""
        status = self.kyc_status(account_id)
        return None if status is None else AccountRecord(account_id, status)


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

    def profile(self, account_id: str, *, username: str | None = None) -> Profile:
        """The KYC status and email from the ledger (None before onboarding opened the account),
        the username from the caller's token."""
        record = self._directory.account(account_id)
        if record is None:
            return Profile(account_id, None, None, username)
        return Profile(account_id, record.kyc_status, record.email, username)

    def balances(self, account_id: str) -> list[Balance]:
        return self._ledger.balances(account_id)

    def positions(self, account_id: str) -> Positions:
        return self._ledger.positions(account_id)

    def withdraw(
        self,
        account_id: str,
        *,
        asset: str,
        amount: str,
        destination_id: str,
        idempotency_key: str,
    ) -> Withdrawal:
        """Hold ``amount`` for a withdrawal to one of the account's destinations, once per key.

        The withdrawal id follows from the account and the key, and the ledger records each id
        once: a retry returns the same withdrawal, and the same key with another asset, amount or
        destination raises InvalidTransition (409), all inside one ledger transaction. A
        destination that is not the account's, not for the asset, removed or still in its waiting
        period raises DestinationNotUsable.
        """
        value = parse_decimal(amount, what="amount")
        withdrawal_id = f"wd-{command_id(account_id, 'withdraw', idempotency_key)}"
        return self._ledger.request_withdrawal(
            withdrawal_id, account_id, asset, value, destination_id=destination_id
        )
