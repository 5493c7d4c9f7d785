"""The private ``balances`` channel: an account's balances, pushed after the ledger changed them.

Frame: ``{"type": "balances", "channel": "balances", "balances": [{"asset", "available", "held",
"total"}, ...], "ts"}``: every asset of the account, as ``GET /v1/balances`` shows them, read
after the change committed (so two quick changes may both show the later state).

Who pushes, each after its ledger transaction committed:

- settlement (``BalancesSettlement``), per journal record, to the accounts of its trades (fills
  and fees), of the orders whose holds its cancels, expiries, amends and rejects resized or
  released, and of the orders the engine accepted (their holds were taken at placement);
- deposits (``BalancesLedger.credit_deposit``), to the credited account;
- the account function (``BalancesLedger.request_withdrawal``), after a withdrawal's hold; and
  wherever a withdrawal is completed or failed, or an order's funds are held (``reserve``,
  ``reserve_amend``), if that function's ledger is wrapped too.

An account without a ``balances`` subscriber costs one index query and no ledger read. A push
failure is logged and counted (``BalancesPushFailures``), never raised: the money has moved.

Subscribing sends no balances (``ws_messages`` has no ledger connection): the first frame comes
with the next change, so a client reads ``GET /v1/balances`` right after subscribing.
"""

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from exchange.domain.commands import AmendOrder, NewOrder
from exchange.domain.events import AnyEvent, Event, OrderAccepted, Trade
from exchange.journal.batch import count
from exchange.journal.cursors import Clock, CursorStore
from exchange.journal.quarantine import QuarantineStore
from exchange.ledger.consumer import Settlement
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
from exchange.ledger.port import LedgerPort
from exchange.ledger.postgres.events import HoldEvent
from exchange.observability import logger
from exchange.realtime import frames
from exchange.realtime.channels import balances_key
from exchange.realtime.connections import DynamoConnectionStore
from exchange.realtime.fanout import Broadcaster
from exchange.realtime.sender import ManagementApiLocation, ManagementApiSender
from exchange.tables import bind_tables
from exchange.wire import JournalRecord


class BalancesFeed:
    """Reads and posts an account's balances to its ``balances`` subscribers."""

    def __init__(
        self,
        read: Callable[[str], list[Balance]],
        broadcaster: Broadcaster,
        *,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._read = read
        self._broadcaster = broadcaster
        self._clock = clock

    def push(self, account_ids: Iterable[str]) -> int:
        """Push each account's balances to its subscribers; returns frames posted. Never
        raises."""
        posted = 0
        for account_id in dict.fromkeys(account_ids):
            try:
                posted += self._push(account_id)
            except Exception as exc:  # noqa: BLE001 - the money moved; a push never undoes that
                count("BalancesPushFailures")
                logger.warning(
                    "balances not pushed",
                    extra={"account_id": account_id, "error": f"{type(exc).__name__}: {exc}"},
                )
        return posted

    def _push(self, account_id: str) -> int:
        subscribers = self._broadcaster.connections.subscribers(balances_key(account_id))
        if not subscribers:
            return 0
        payload = frames.encode(frames.balances(self._read(account_id), ts=self._clock()))
        return self._broadcaster.post([(cid, payload) for cid in subscribers])


def accounts_moved(events: Iterable[Event]) -> list[str]:
    """The accounts whose balances the events may change (the ledger's trades and hold events),
    in order, once each; and the owner of each order the engine accepted, whose hold the orders
    function took when it placed the order (that function does not push: it would add a
    Management API call to every placement), so the hold shows when the engine accepts."""
    accounts: list[str] = []
    for event in events:
        if isinstance(event, Trade):
            accounts += [event.maker_account_id, event.taker_account_id]
        elif isinstance(event, HoldEvent | OrderAccepted):
            accounts.append(event.account_id)
    return list(dict.fromkeys(accounts))


class BalancesSettlement(Settlement):
    """Settlement that pushes the changed accounts' balances after each record's transaction."""

    def __init__(
        self,
        ledger: LedgerPort,
        cursors: CursorStore,
        quarantine: QuarantineStore | None = None,
        *,
        balances: BalancesFeed,
        clock: Clock = time.time_ns,
    ) -> None:
        super().__init__(ledger, cursors, quarantine, clock)
        self._balances = balances

    def handle(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        super().handle(record, events, after)
        self._balances.push(accounts_moved(events))


class BalancesLedger(LedgerPort):
    """A ledger that pushes the account's balances after each funding call or hold it makes;
    everything else passes through (settling engine events: ``BalancesSettlement``)."""

    def __init__(self, ledger: LedgerPort, balances: BalancesFeed) -> None:
        self._ledger = ledger
        self._balances = balances

    @property
    def feed(self) -> BalancesFeed:
        """The push, for the money-out calls this port does not carry (a withdrawal cancelled,
        a payout finished by the provider's webhook)."""
        return self._balances

    def open_account(
        self,
        account_id: str,
        *,
        kyc_status: KycStatus = KycStatus.PENDING,
        kind: AccountKind = AccountKind.USER,
    ) -> None:
        self._ledger.open_account(account_id, kyc_status=kyc_status, kind=kind)

    def set_kyc_status(self, account_id: str, kyc_status: KycStatus) -> None:
        self._ledger.set_kyc_status(account_id, kyc_status)

    def set_frozen(self, account_id: str, frozen: bool, *, actor: str, reason: str) -> bool:
        return self._ledger.set_frozen(account_id, frozen, actor=actor, reason=reason)

    def is_frozen(self, account_id: str) -> bool:
        return self._ledger.is_frozen(account_id)

    def reserve(self, order: NewOrder) -> Hold:
        hold = self._ledger.reserve(order)
        self._balances.push([order.account_id])
        return hold

    def reserve_amend(self, amend: AmendOrder) -> Decimal:
        added = self._ledger.reserve_amend(amend)
        if added:
            self._balances.push([amend.account_id])
        return added

    def release(self, order_id: str) -> Decimal:
        # Not pushed: the port names no account here (the order's next settled event pushes).
        return self._ledger.release(order_id)

    def apply_event(self, event: Event) -> bool:
        return self._ledger.apply_event(event)

    def apply_events(self, events: Sequence[Event]) -> list[bool]:
        return self._ledger.apply_events(events)

    def credit_deposit(self, notice: DepositNotice) -> Deposit:
        deposit = self._ledger.credit_deposit(notice)
        if deposit.status == "CREDITED":
            self._balances.push([deposit.account_id])
        return deposit

    def request_withdrawal(
        self,
        withdrawal_id: str,
        account_id: str,
        asset: str,
        amount: Decimal,
        *,
        destination_id: str,
    ) -> Withdrawal:
        withdrawal = self._ledger.request_withdrawal(
            withdrawal_id, account_id, asset, amount, destination_id=destination_id
        )
        self._balances.push([withdrawal.account_id])
        return withdrawal

    def complete_withdrawal(self, withdrawal_id: str) -> Withdrawal:
        withdrawal = self._ledger.complete_withdrawal(withdrawal_id)
        self._balances.push([withdrawal.account_id])
        return withdrawal

    def fail_withdrawal(self, withdrawal_id: str, *, reason: str | None = None) -> Withdrawal:
        withdrawal = self._ledger.fail_withdrawal(withdrawal_id, reason=reason)
        self._balances.push([withdrawal.account_id])
        return withdrawal

    def balances(self, account_id: str) -> list[Balance]:
        return self._ledger.balances(account_id)

    def positions(self, account_id: str) -> Positions:
        return self._ledger.positions(account_id)

    def declare_dividend(self, declaration: DividendDeclaration) -> Dividend:
        return self._ledger.declare_dividend(declaration)

    def dividends(self, symbol: str | None = None) -> list[Dividend]:
        return self._ledger.dividends(symbol)

    def pay_due_dividends(self, now: datetime, *, limit: int) -> list[DividendPayout]:
        # Not pushed: the dividends function, the one caller, pushes nothing (no WebSocket).
        return self._ledger.pay_due_dividends(now, limit=limit)


def balances_pushed(ledger: LedgerPort, settings: ManagementApiLocation) -> BalancesLedger:
    """``ledger`` pushing to ``balances`` subscribers through the Management API (a REST
    function's composition root: deposits, account)."""
    bind_tables(settings)  # the connections table
    broadcaster = Broadcaster(DynamoConnectionStore(), ManagementApiSender.from_settings(settings))
    return BalancesLedger(ledger, BalancesFeed(ledger.balances, broadcaster))
