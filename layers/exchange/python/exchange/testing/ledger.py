"""``InMemoryLedger``: the ledger port on dicts, for unit tests, the fuzz test and the benchmark.

It holds and releases funds with the ledger's own rules (``new_hold``; amend increases with
``amend_hold``) and moves deposits and withdrawals; settling engine events is the PostgreSQL
ledger's job and is not faked.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from exchange.domain.commands import AmendOrder, NewOrder
from exchange.domain.events import Event
from exchange.domain.instruments import InstrumentCatalog
from exchange.ledger.accounts import AccountDirectory
from exchange.ledger.amends import AmendHold, amend_hold
from exchange.ledger.errors import (
    InsufficientFunds,
    InvalidTransition,
    KycNotAllowed,
    ReplayedWebhook,
    ReservationConflict,
    UnknownAccount,
    UnknownReservation,
    UnknownWithdrawal,
)
from exchange.ledger.holds import Hold, new_hold
from exchange.ledger.model import (
    AccountKind,
    Balance,
    Deposit,
    DepositNotice,
    KycStatus,
    Positions,
    Withdrawal,
    WithdrawalStatus,
)
from exchange.ledger.money import ZERO, check_amount, scale_of
from exchange.ledger.port import LedgerPort
from exchange.settings import DEFAULT_ASSET_SCALES


class InMemoryLedger(LedgerPort, AccountDirectory):
    """Holds, releases, deposits and withdrawals on dicts, with the ledger's hold rules."""

    def __init__(
        self, instruments: InstrumentCatalog, *, asset_scales: dict[str, int] | None = None
    ) -> None:
        self._instruments = instruments
        self._scales = dict(asset_scales or DEFAULT_ASSET_SCALES)
        self.accounts: dict[str, KycStatus] = {}
        self.available: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        self.held: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        self.holds: dict[str, Hold] = {}
        # Every amend hold by command id; the pending ones (no engine answer: the fake does not
        # settle) are those whose command id is in ``pending_amends``.
        self.amend_holds: dict[str, AmendHold] = {}
        self.pending_amends: set[str] = set()
        self.withdrawals: dict[str, Withdrawal] = {}
        self._seen_events: set[str] = set()

    # -- accounts -------------------------------------------------------------------------------
    def open_account(
        self,
        account_id: str,
        *,
        kyc_status: KycStatus = KycStatus.PENDING,
        kind: AccountKind = AccountKind.USER,
    ) -> None:
        self.accounts.setdefault(account_id, kyc_status)

    def set_kyc_status(self, account_id: str, kyc_status: KycStatus) -> None:
        if account_id not in self.accounts:
            raise UnknownAccount(f"no user account {account_id!r}")
        self.accounts[account_id] = kyc_status

    def kyc_status(self, account_id: str) -> KycStatus | None:
        return self.accounts.get(account_id)

    def fund(self, account_id: str, asset: str, amount: Decimal) -> None:
        """A test shortcut for a credited deposit."""
        self.available[(account_id, asset)] += amount

    def _require_trading(self, account_id: str) -> None:
        status = self.accounts.get(account_id)
        if status is None:
            raise UnknownAccount(f"no user account {account_id!r}")
        if not status.may_trade:
            raise KycNotAllowed(f"account {account_id} has KYC status {status}")

    def _hold_funds(self, account_id: str, asset: str, amount: Decimal) -> None:
        if self.available[(account_id, asset)] < amount:
            raise InsufficientFunds(f"{account_id} has less than {amount} {asset} available")
        self.available[(account_id, asset)] -= amount
        self.held[(account_id, asset)] += amount

    # -- holds ----------------------------------------------------------------------------------
    def reserve(self, order: NewOrder) -> Hold:
        instrument = self._instruments.get(order.symbol)
        hold = new_hold(
            order_id=order.order_id,
            account_id=order.account_id,
            instrument=instrument,
            side=order.side,
            order_type=order.order_type,
            qty_lots=order.qty,
            price_ticks=order.price,
            protection_ticks=order.protection_price,
            quote_scale=scale_of(self._scales, instrument.quote),
            base_scale=scale_of(self._scales, instrument.base),
        )
        self._require_trading(order.account_id)
        existing = self.holds.get(order.order_id)
        if existing is not None:
            terms = ("account_id", "symbol", "side", "limit_ticks", "original_lots")
            if any(getattr(existing, t) != getattr(hold, t) for t in terms):
                raise ReservationConflict(f"order {order.order_id} was reserved with other terms")
            return existing
        self._hold_funds(hold.account_id, hold.asset, hold.held)
        self.holds[order.order_id] = hold
        return hold

    def release(self, order_id: str) -> Decimal:
        hold = self.holds.get(order_id)
        if hold is None:
            raise UnknownReservation(f"no reservation for order {order_id}")
        pending = self._pending_of(order_id)
        self.pending_amends -= {a.command_id for a in pending}
        amount = hold.held + sum((a.held for a in pending), ZERO)
        self.held[(hold.account_id, hold.asset)] -= amount
        self.available[(hold.account_id, hold.asset)] += amount
        self.holds[order_id] = replace(hold, open_lots=0, held=ZERO)
        return amount

    def reserve_amend(self, amend: AmendOrder) -> Decimal:
        hold = self.holds.get(amend.order_id)
        if hold is None:
            raise UnknownReservation(f"no reservation for order {amend.order_id}")
        instrument = self._instruments.get(hold.symbol)
        wanted = amend_hold(
            amend,
            hold,
            instrument,
            pending=self._pending_of(hold.order_id),
            existing=self.amend_holds.get(amend.command_id),
            quote_scale=scale_of(self._scales, instrument.quote),
            base_scale=scale_of(self._scales, instrument.base),
        )
        if amend.command_id in self.amend_holds:
            return wanted.held
        self._hold_funds(wanted.account_id, wanted.asset, wanted.held)
        self.amend_holds[amend.command_id] = wanted
        self.pending_amends.add(amend.command_id)
        return wanted.held

    def _pending_of(self, order_id: str) -> list[AmendHold]:
        pending = (self.amend_holds[c] for c in sorted(self.pending_amends))
        return [a for a in pending if a.order_id == order_id]

    def apply_event(self, event: Event) -> bool:
        raise NotImplementedError("settlement is the PostgreSQL ledger's; this fake only holds")

    def apply_events(self, events: Sequence[Event]) -> list[bool]:
        raise NotImplementedError("settlement is the PostgreSQL ledger's; this fake only holds")

    # -- deposits and withdrawals ---------------------------------------------------------------
    def credit_deposit(self, notice: DepositNotice) -> Deposit:
        amount = check_amount(
            notice.amount, scale_of(self._scales, notice.asset), asset=notice.asset
        )
        if notice.event_id in self._seen_events:
            raise ReplayedWebhook(f"webhook event {notice.event_id} was already processed")
        if notice.account_id not in self.accounts:
            raise UnknownAccount(f"deposit names unknown account {notice.account_id!r}")
        self._seen_events.add(notice.event_id)
        if notice.status == "CREDITED":
            self.available[(notice.account_id, notice.asset)] += amount
        return Deposit(notice.deposit_id, notice.account_id, notice.asset, amount, notice.status)

    def request_withdrawal(
        self, withdrawal_id: str, account_id: str, asset: str, amount: Decimal
    ) -> Withdrawal:
        checked = check_amount(amount, scale_of(self._scales, asset), asset=asset)
        self._require_trading(account_id)
        existing = self.withdrawals.get(withdrawal_id)
        if existing is not None:
            if (existing.account_id, existing.asset, existing.amount) != (
                account_id,
                asset,
                checked,
            ):
                raise InvalidTransition(f"withdrawal {withdrawal_id} exists with other terms")
            return existing
        self._hold_funds(account_id, asset, checked)
        withdrawal = Withdrawal(withdrawal_id, account_id, asset, checked, WithdrawalStatus.PENDING)
        self.withdrawals[withdrawal_id] = withdrawal
        return withdrawal

    def complete_withdrawal(self, withdrawal_id: str) -> Withdrawal:
        return self._finish(withdrawal_id, WithdrawalStatus.COMPLETED)

    def fail_withdrawal(self, withdrawal_id: str) -> Withdrawal:
        return self._finish(withdrawal_id, WithdrawalStatus.FAILED)

    def _finish(self, withdrawal_id: str, target: WithdrawalStatus) -> Withdrawal:
        current = self.withdrawals.get(withdrawal_id)
        if current is None:
            raise UnknownWithdrawal(f"no withdrawal {withdrawal_id!r}")
        if current.status is target:
            return current
        if current.status is not WithdrawalStatus.PENDING:
            raise InvalidTransition(f"withdrawal {withdrawal_id} is {current.status}")
        pocket = (current.account_id, current.asset)
        self.held[pocket] -= current.amount
        if target is WithdrawalStatus.FAILED:
            self.available[pocket] += current.amount
        finished = replace(current, status=target)
        self.withdrawals[withdrawal_id] = finished
        return finished

    # -- reads ----------------------------------------------------------------------------------
    def balances(self, account_id: str) -> list[Balance]:
        assets = {asset for owner, asset in (*self.available, *self.held) if owner == account_id}
        return [
            Balance(asset, self.available[(account_id, asset)], self.held[(account_id, asset)])
            for asset in sorted(assets)
        ]

    def positions(self, account_id: str) -> Positions:
        return Positions(holdings=self.balances(account_id), pnl=[])
