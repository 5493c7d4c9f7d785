"""``InMemoryLedger``: the ledger port on dicts, for unit tests, the fuzz test and the benchmark.

It holds and releases funds with the ledger's own rules (``new_hold``; amend increases with
``amend_hold``), moves deposits and withdrawals (``InMemoryWithdrawals``: destinations, payouts
and the outbox of notices), freezes accounts, and declares and pays dividends with the ledger's
checks (``check_declaration``, ``payout_amounts``); settling engine events is the PostgreSQL
ledger's job and is not faked. Holders of record come from a log of every change
of an account's total (deposits, ``fund``, completed withdrawals, dividends), timed by ``clock``.
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from exchange.domain.commands import AmendOrder, NewOrder
from exchange.domain.events import Event
from exchange.domain.instruments import InstrumentCatalog
from exchange.ledger.accounts import AccountDirectory
from exchange.ledger.amends import AmendHold, amend_hold
from exchange.ledger.dividends import (
    Dividend,
    DividendDeclaration,
    DividendPayout,
    check_declaration,
    payout_amounts,
)
from exchange.ledger.errors import (
    AccountFrozen,
    DividendConflict,
    InsufficientFunds,
    InvalidDividend,
    KycNotAllowed,
    ReplayedWebhook,
    ReservationConflict,
    UnknownAccount,
    UnknownReservation,
)
from exchange.ledger.holds import Hold, new_hold
from exchange.ledger.model import (
    AccountKind,
    Balance,
    Deposit,
    DepositNotice,
    DividendCredit,
    KycStatus,
    Positions,
)
from exchange.ledger.money import ZERO, add, amount_text, check_amount, scale_of
from exchange.ledger.port import LedgerPort
from exchange.ledger.statements import MovementKind
from exchange.notices import NoticeKind
from exchange.settings import DEFAULT_ASSET_SCALES
from exchange.testing.withdrawals import InMemoryWithdrawals


@dataclass(frozen=True, slots=True)
class FreezeEvent:
    account_id: str
    frozen: bool
    changed: bool
    actor: str
    reason: str
    at: datetime


class InMemoryLedger(InMemoryWithdrawals, LedgerPort, AccountDirectory):
    """Holds, releases, deposits, withdrawals (with their destinations and notices), freezes and
    dividends on dicts, with the ledger's rules."""

    def __init__(
        self,
        instruments: InstrumentCatalog,
        *,
        asset_scales: dict[str, int] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._instruments = instruments
        self._scales = dict(asset_scales or DEFAULT_ASSET_SCALES)
        self._clock = clock
        self.accounts: dict[str, KycStatus] = {}
        self.kinds: dict[str, AccountKind] = {}
        self.frozen: set[str] = set()
        self.freeze_events: list[FreezeEvent] = []
        # (when, account, asset, change of available + held): what holders of record sum.
        self.total_changes: list[tuple[datetime, str, str, Decimal]] = []
        self.declared: dict[str, Dividend] = {}
        self.credits: dict[str, list[DividendCredit]] = defaultdict(list)
        self.available: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        self.held: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        self.holds: dict[str, Hold] = {}
        # Every amend hold by command id; the pending ones (no engine answer: the fake does not
        # settle) are those whose command id is in ``pending_amends``.
        self.amend_holds: dict[str, AmendHold] = {}
        self.pending_amends: set[str] = set()
        self._seen_events: set[str] = set()
        self._init_withdrawals()
        self._init_statements()

    # -- accounts -------------------------------------------------------------------------------
    def open_account(
        self,
        account_id: str,
        *,
        kyc_status: KycStatus = KycStatus.PENDING,
        kind: AccountKind = AccountKind.USER,
    ) -> None:
        self.accounts.setdefault(account_id, kyc_status)
        self.kinds.setdefault(account_id, kind)

    def set_kyc_status(self, account_id: str, kyc_status: KycStatus) -> None:
        if account_id not in self.accounts:
            raise UnknownAccount(f"no user account {account_id!r}")
        self.accounts[account_id] = kyc_status

    def kyc_status(self, account_id: str) -> KycStatus | None:
        return self.accounts.get(account_id)

    def fund(self, account_id: str, asset: str, amount: Decimal) -> None:
        """A test shortcut for a credited deposit."""
        self._credit(account_id, asset, amount)

    def _credit(
        self,
        account_id: str,
        asset: str,
        amount: Decimal,
        *,
        kind: MovementKind = MovementKind.DEPOSIT,
        reference: str = "fund",
    ) -> None:
        """Change the account's available, and so its total, by ``amount``: a statement line."""
        self.available[(account_id, asset)] += amount
        at = self._clock()
        self.total_changes.append((at, account_id, asset, amount))
        self._record_line(account_id, asset, kind, amount, reference, at=at)

    def _require_user(self, account_id: str) -> None:
        if account_id not in self.accounts or self.kinds.get(account_id) is not AccountKind.USER:
            raise UnknownAccount(f"no user account {account_id!r}")

    def set_frozen(self, account_id: str, frozen: bool, *, actor: str, reason: str) -> bool:
        self._require_user(account_id)
        changed = (account_id in self.frozen) != frozen
        if frozen:
            self.frozen.add(account_id)
        else:
            self.frozen.discard(account_id)
        self.freeze_events.append(
            FreezeEvent(account_id, frozen, changed, actor, reason, self._clock())
        )
        return changed

    def is_frozen(self, account_id: str) -> bool:
        self._require_user(account_id)
        return account_id in self.frozen

    def _refuse_frozen(self, account_id: str, what: str) -> None:
        if account_id in self.frozen:
            raise AccountFrozen(f"account {account_id} is frozen by an operator: {what} refused")

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
        self._refuse_frozen(order.account_id, f"order {order.order_id}")
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
        if wanted.held > 0:
            self._refuse_frozen(wanted.account_id, f"amend {amend.command_id}")
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
            self._credit(notice.account_id, notice.asset, amount, reference=notice.deposit_id)
            self._notify(
                NoticeKind.DEPOSIT,
                "deposit.credited",
                notice.account_id,
                {
                    "asset": notice.asset,
                    "amount": amount_text(self._scales, notice.asset, amount),
                    "deposit_id": notice.deposit_id,
                },
            )
        return Deposit(notice.deposit_id, notice.account_id, notice.asset, amount, notice.status)

    # (withdrawals, destinations and notices: ``InMemoryWithdrawals``)

    # -- reads ----------------------------------------------------------------------------------
    def balances(self, account_id: str) -> list[Balance]:
        assets = {asset for owner, asset in (*self.available, *self.held) if owner == account_id}
        return [
            Balance(asset, self.available[(account_id, asset)], self.held[(account_id, asset)])
            for asset in sorted(assets)
        ]

    def positions(self, account_id: str) -> Positions:
        return Positions(
            holdings=self.balances(account_id),
            pnl=[],
            dividends=list(reversed(self.credits[account_id])),
        )

    # -- dividends ------------------------------------------------------------------------------
    def declare_dividend(self, declaration: DividendDeclaration) -> Dividend:
        existing = self.declared.get(declaration.dividend_id)
        if existing is not None:
            if not existing.same_terms(declaration):
                raise DividendConflict(f"dividend {declaration.dividend_id} has other terms")
            return existing
        if declaration.symbol not in self._instruments:
            raise InvalidDividend(f"no instrument {declaration.symbol!r}")
        instrument = self._instruments.get(declaration.symbol)
        amount = check_declaration(declaration, instrument, self._scales, now=self._clock())
        if self.kinds.get(declaration.issuer_account_id) in (None, AccountKind.EXTERNAL):
            raise UnknownAccount(f"no issuer account {declaration.issuer_account_id!r}")
        d = declaration
        dividend = Dividend(
            dividend_id=d.dividend_id,
            symbol=d.symbol,
            amount_per_unit=amount,
            record_time=d.record_time,
            pay_time=d.pay_time,
            issuer_account_id=d.issuer_account_id,
            actor=d.actor,
            reason=d.reason,
            asset=instrument.quote,
            unit_asset=instrument.base,
            status="DECLARED",
            declared_at=self._clock(),
        )
        self.declared[d.dividend_id] = dividend
        return dividend

    def dividends(self, symbol: str | None = None) -> list[Dividend]:
        found = [d for d in self.declared.values() if symbol is None or d.symbol == symbol]
        return sorted(found, key=lambda d: (d.pay_time, d.dividend_id))

    def pay_due_dividends(self, now: datetime, *, limit: int) -> list[DividendPayout]:
        due = [d for d in self.dividends() if d.status == "DECLARED" and d.pay_time <= now]
        return [self._pay(dividend) for dividend in due[:limit]]

    def _pay(self, dividend: Dividend) -> DividendPayout:
        units: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for at, account_id, asset, change in self.total_changes:
            if asset == dividend.unit_asset and at <= dividend.record_time:
                units[account_id] += change
        holders = {
            account_id: held
            for account_id, held in units.items()
            if held > 0
            and self.kinds.get(account_id) is AccountKind.USER
            and account_id != dividend.issuer_account_id
        }
        amounts = payout_amounts(
            holders, dividend.amount_per_unit, scale=scale_of(self._scales, dividend.asset)
        )
        total = add(*amounts.values())
        payout = DividendPayout(
            dividend.dividend_id, dividend.symbol, dividend.asset, True, len(amounts), total
        )
        issuer = dividend.issuer_account_id
        if self.available[(issuer, dividend.asset)] < total:
            return replace(payout, paid=False, detail=f"issuer {issuer} lacks {total}")
        self._credit(
            issuer,
            dividend.asset,
            -total,
            kind=MovementKind.DIVIDEND,
            reference=dividend.dividend_id,
        )
        paid_at = self._clock()
        for account_id, amount in amounts.items():
            self._credit(
                account_id,
                dividend.asset,
                amount,
                kind=MovementKind.DIVIDEND,
                reference=dividend.dividend_id,
            )
            self.credits[account_id].append(
                DividendCredit(
                    dividend.dividend_id,
                    dividend.symbol,
                    dividend.asset,
                    holders[account_id],
                    dividend.amount_per_unit,
                    amount,
                    paid_at,
                )
            )
        self.declared[dividend.dividend_id] = replace(
            dividend, status="PAID", paid_at=paid_at, holders=len(amounts), total_paid=total
        )
        return payout
