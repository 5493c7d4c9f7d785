"""In-memory fakes of the trading ports, for unit tests, the fuzz test and the benchmark.

They keep the real rules where callers can observe them (holds computed by the ledger's own
``new_hold``, pagination and cursor checks shared with the DynamoDB store), and nothing else.
``InMemoryLedger`` holds and releases funds and moves deposits and withdrawals; settling engine
events is the PostgreSQL ledger's job and is not faked.
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal

from exchange.domain.candles import CandleInterval
from exchange.domain.commands import Command, NewOrder
from exchange.domain.enums import OrderStatus
from exchange.domain.events import Event
from exchange.domain.instruments import InstrumentCatalog
from exchange.ledger.accounts import AccountDirectory
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
from exchange.market.service import Candle, MarketStore, TradePrint
from exchange.orders.errors import BrokerUnavailable, StoreUnavailable
from exchange.orders.model import Fill, Order, OrderQuery, Page, PageKey
from exchange.orders.publisher import CommandSink
from exchange.orders.store import (
    OrderStore,
    check_fill_key,
    check_order_key,
    fill_key,
    order_key,
    page_of,
    symbol_status_prefix,
)
from exchange.settings import DEFAULT_ASSET_SCALES
from exchange.tables import symbol_status_key


class InMemoryOrderStore(OrderStore):
    def __init__(self) -> None:
        self.orders: dict[tuple[str, str], Order] = {}
        self.fill_rows: dict[str, list[Fill]] = defaultdict(list)
        self.fail_writes = False

    def add(self, order: Order) -> None:
        if self.fail_writes or (order.account_id, order.order_id) in self.orders:
            raise StoreUnavailable(f"order {order.order_id} was not recorded")
        self.orders[(order.account_id, order.order_id)] = order

    def get(self, account_id: str, order_id: str) -> Order | None:
        return self.orders.get((account_id, order_id))

    def list(self, account_id: str, query: OrderQuery, after: PageKey | None) -> Page[Order]:
        prefix = symbol_status_prefix(query)
        mine = [order for (owner, _), order in self.orders.items() if owner == account_id]
        sort_key: Callable[[Order], str]
        if prefix is not None:
            sort_key, cursor_field = _symbol_status, "symbol_status"
            rows = [o for o in mine if _symbol_status(o).startswith(prefix)]
        else:
            sort_key, cursor_field = _order_id, "order_id"
            rows = [o for o in mine if query.status is None or o.status is query.status]
        rows.sort(key=sort_key, reverse=True)
        if after is not None:
            start = str(check_order_key(after, account_id, query)[cursor_field])
            rows = [o for o in rows if sort_key(o) < start]
        return page_of(rows[: query.limit + 1], query.limit, lambda o: order_key(o, query))

    def count_open(self, account_id: str, up_to: int) -> int:
        open_orders = sum(
            1 for (owner, _), o in self.orders.items() if owner == account_id and o.status.is_open
        )
        return min(open_orders, up_to)

    def reject(
        self, account_id: str, order_id: str, *, reason: str, detail: str, now_ns: int
    ) -> None:
        order = self.orders.get((account_id, order_id))
        if order is None or order.status is not OrderStatus.PENDING_NEW:
            return
        self.orders[(account_id, order_id)] = replace(
            order,
            status=OrderStatus.REJECTED,
            reject_reason=reason,
            detail=detail,
            open_qty="0",
            updated_ns=now_ns,
        )

    def add_fill(self, account_id: str, fill: Fill) -> None:
        self.fill_rows[account_id].append(fill)

    def fills(
        self, account_id: str, *, order_id: str | None, limit: int, after: PageKey | None
    ) -> Page[Fill]:
        rows = sorted(
            (f for f in self.fill_rows[account_id] if order_id is None or f.order_id == order_id),
            key=lambda f: f.fill_id,
            reverse=True,
        )
        if after is not None:
            start = str(check_fill_key(after, account_id, order_id)["fill_id"])
            rows = [f for f in rows if f.fill_id < start]
        by_order = order_id is not None
        return page_of(
            rows[: limit + 1], limit, lambda f: fill_key(account_id, f, by_order=by_order)
        )


def _order_id(order: Order) -> str:
    return order.order_id


def _symbol_status(order: Order) -> str:
    return symbol_status_key(order.symbol, order.status.value, order.order_id)


class InMemoryCommandSink(CommandSink):
    def __init__(self) -> None:
        self.commands: list[Command] = []
        self.fail = False

    def publish(self, command: Command) -> None:
        if self.fail:
            raise BrokerUnavailable("broker unavailable (in-memory sink set to fail)")
        self.commands.append(command)


class InMemoryMarketStore(MarketStore):
    def __init__(self) -> None:
        self.trade_rows: dict[str, list[TradePrint]] = defaultdict(list)
        self.candle_rows: dict[tuple[str, str], list[Candle]] = defaultdict(list)

    def trades(self, symbol: str, limit: int) -> list[TradePrint]:
        return sorted(self.trade_rows[symbol], key=lambda t: t.seq, reverse=True)[:limit]

    def candles(self, symbol: str, interval: CandleInterval, limit: int) -> list[Candle]:
        rows = self.candle_rows[(symbol, interval)]
        return sorted(rows, key=lambda c: c.start, reverse=True)[:limit]


class InMemoryLedger(LedgerPort, AccountDirectory):
    """Holds, releases, deposits and withdrawals on dicts, with the ledger's hold rules."""

    def __init__(
        self,
        instruments: InstrumentCatalog,
        *,
        asset_scales: dict[str, int] | None = None,
        protection_prices: dict[str, Decimal] | None = None,
    ) -> None:
        self._instruments = instruments
        self._scales = dict(asset_scales or DEFAULT_ASSET_SCALES)
        self._protection = dict(protection_prices or {})
        self.accounts: dict[str, KycStatus] = {}
        self.available: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        self.held: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        self.holds: dict[str, Hold] = {}
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
        protection = self._protection.get(order.symbol)
        hold = new_hold(
            order_id=order.order_id,
            account_id=order.account_id,
            instrument=instrument,
            side=order.side,
            order_type=order.order_type,
            qty_lots=order.qty,
            price_ticks=order.price,
            protection_ticks=None if protection is None else instrument.price_to_ticks(protection),
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
        amount = hold.held
        self.held[(hold.account_id, hold.asset)] -= amount
        self.available[(hold.account_id, hold.asset)] += amount
        self.holds[order_id] = replace(hold, open_lots=0, held=ZERO)
        return amount

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
