"""The ledger's port: what the Lambdas and stream consumers call. ``PostgresLedger`` implements
it; unit tests of callers can implement it in memory.

``accept_deposit_webhook`` is the logic behind the deposit webhook route: verify, then credit.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from exchange.domain.commands import AmendOrder, NewOrder
from exchange.domain.events import Event
from exchange.ledger.dividends import Dividend, DividendDeclaration, DividendPayout
from exchange.ledger.holds import Hold
from exchange.ledger.model import (
    AccountKind,
    Balance,
    Deposit,
    DepositNotice,
    KycStatus,
    Positions,
    Withdrawal,
)
from exchange.ledger.webhooks import DEFAULT_TOLERANCE_SECONDS, verify_deposit_webhook


class LedgerPort(ABC):
    @abstractmethod
    def open_account(
        self,
        account_id: str,
        *,
        kyc_status: KycStatus = KycStatus.PENDING,
        kind: AccountKind = AccountKind.USER,
    ) -> None:
        """Create the account if it does not exist (idempotent)."""

    @abstractmethod
    def set_kyc_status(self, account_id: str, kyc_status: KycStatus) -> None: ...

    @abstractmethod
    def set_frozen(self, account_id: str, frozen: bool, *, actor: str, reason: str) -> bool:
        """Freeze (or unfreeze) a user account; True when that changed it. Every call is kept
        (``ledger.account_freeze_events``: who, why, when, whether it changed anything).

        A frozen account's new orders, amends that hold more, and withdrawals raise
        AccountFrozen; its cancels and settlement go on. Raises UnknownAccount.
        """

    @abstractmethod
    def is_frozen(self, account_id: str) -> bool:
        """Whether the user account is frozen; raises UnknownAccount."""

    @abstractmethod
    def reserve(self, order: NewOrder) -> Hold:
        """Hold the funds a new order needs, once per order id. A buy holds at its limit, a
        market or stop buy at its ``protection_price``; a sell holds its base.

        Raises UnknownAccount, KycNotAllowed, AccountFrozen, InsufficientFunds,
        NoProtectionPrice (a market or stop buy without a protection price) or
        ReservationConflict; on any of them nothing is held. A retry of an order reserved before
        its account was frozen returns its hold.
        """

    @abstractmethod
    def reserve_amend(self, amend: AmendOrder) -> Decimal:
        """Hold what ``amend`` adds to its order's hold, before the amend is sent; returns it.

        The order's hold is recomputed with the amend's price and/or total qty (qty counts
        filled lots) and the increase is held (0 when it does not increase; a sell's in base, a
        buy's in quote with the fee), keyed by ``amend.command_id``: a retry holds nothing more
        and returns the same amount. Settlement adds it to the hold on ``OrderAmended``, gives it
        back on the amend's ``OrderRejected`` or the order's final event (``ledger.amends``).

        Raises UnknownReservation (no hold for the order, or another account's),
        AccountFrozen (an increase for a frozen account), InsufficientFunds or
        ReservationConflict (the command id reserved with other terms); on any of them nothing
        is held.
        """

    @abstractmethod
    def release(self, order_id: str) -> Decimal:
        """Give back what an order still holds (e.g. its publish failed), pending amend increases
        included; returns the amount."""

    @abstractmethod
    def apply_event(self, event: Event) -> bool:
        """Settle a trade, apply a cancel, expiry, amend or reject to the holds, or record a
        listing's fees (``InstrumentListed``: a trade pays the fees in force at its seq,
        ``ledger.fees``).

        Idempotent on ``(symbol, seq)``: returns False when the event was applied before. Events
        that change nothing here (accepted, triggered, book deltas, a refused cancel, a status
        change, an account frozen in the engine) return False.
        Never takes funds from available: an event that would need more than its order holds
        raises LedgerInconsistency.
        """

    @abstractmethod
    def apply_events(self, events: Sequence[Event]) -> list[bool]:
        """``apply_event`` for a batch, in one transaction: all applied, or none."""

    @abstractmethod
    def credit_deposit(self, notice: DepositNotice) -> Deposit:
        """Record a verified deposit once. Raises ReplayedWebhook for a seen event or deposit."""

    @abstractmethod
    def request_withdrawal(
        self,
        withdrawal_id: str,
        account_id: str,
        asset: str,
        amount: Decimal,
        *,
        destination_id: str,
    ) -> Withdrawal:
        """Hold ``amount`` for a withdrawal to one of the account's destinations (idempotent on
        its id; the same id with other terms raises InvalidTransition), with a
        ``withdrawal.requested`` notice in the outbox. Raises UnknownAccount, KycNotAllowed,
        AccountFrozen, InsufficientFunds or DestinationNotUsable (unknown, removed, still
        waiting, another asset's), and then holds nothing."""

    @abstractmethod
    def complete_withdrawal(self, withdrawal_id: str) -> Withdrawal:
        """SENDING -> COMPLETED: the hold debited to the outside world, a notice in the outbox.
        COMPLETED again returns it; any other status raises InvalidTransition."""

    @abstractmethod
    def fail_withdrawal(self, withdrawal_id: str, *, reason: str | None = None) -> Withdrawal:
        """PENDING or SENDING -> FAILED (the provider refused it, or an operator gave up on it):
        the hold released, ``reason`` kept, a notice in the outbox. FAILED again returns it;
        COMPLETED or CANCELLED raises InvalidTransition."""

    @abstractmethod
    def balances(self, account_id: str) -> list[Balance]: ...

    @abstractmethod
    def positions(self, account_id: str) -> Positions: ...

    # -- dividends (``ledger.dividends``) -------------------------------------------------------
    @abstractmethod
    def declare_dividend(self, declaration: DividendDeclaration) -> Dividend:
        """Record a dividend to pay at its pay time. The same id with the same terms returns the
        dividend declared before. Raises InvalidDividend (``check_declaration``; the symbol not
        an equity the catalog knows), DividendConflict (the id declared with other terms) or
        UnknownAccount (no such issuer); then nothing is written."""

    @abstractmethod
    def dividends(self, symbol: str | None = None) -> list[Dividend]:
        """Every dividend (of ``symbol``), by pay time."""

    @abstractmethod
    def pay_due_dividends(self, now: datetime, *, limit: int) -> list[DividendPayout]:
        """Pay up to ``limit`` DECLARED dividends whose pay time is at or before ``now``, each in
        one transaction, exactly once; an unfunded one stays DECLARED (``paid`` False). One that
        another run is paying meanwhile is skipped."""


def accept_deposit_webhook(
    ledger: LedgerPort,
    body: bytes,
    signature_header: str | None,
    *,
    secrets: Sequence[bytes],
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> Deposit:
    """Verify a raw webhook body and credit its deposit.

    Nothing is written unless the signature, timestamp and body are good and the event is new.
    """
    notice = verify_deposit_webhook(
        body, signature_header, secrets=secrets, now=now, tolerance_seconds=tolerance_seconds
    )
    return ledger.credit_deposit(notice)
