"""``PostgresLedger``: the ledger port on PostgreSQL."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from psycopg import Cursor
from psycopg.errors import DeadlockDetected, SerializationFailure
from psycopg_pool import ConnectionPool

from exchange.aws import secrets_client_factory
from exchange.domain.commands import NewOrder
from exchange.domain.events import (
    Event,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    Trade,
)
from exchange.domain.instruments import Instrument, InstrumentCatalog
from exchange.ledger.connection import pool_from_settings
from exchange.ledger.errors import ReservationConflict, UnknownAccount
from exchange.ledger.holds import Hold, new_hold
from exchange.ledger.model import (
    AccountKind,
    Balance,
    Deposit,
    DepositNotice,
    KycStatus,
    Positions,
    Withdrawal,
)
from exchange.ledger.money import check_instrument, scale_of, show
from exchange.ledger.movements import Bucket, Pocket, move
from exchange.ledger.port import LedgerPort
from exchange.ledger.postgres import funding, reads
from exchange.ledger.postgres.accounts import require_trading
from exchange.ledger.postgres.holds_sql import find_hold, insert_hold, lock_holds, update_holds
from exchange.ledger.postgres.journal import hold_funds, post
from exchange.ledger.settlement import resize_hold, settle_trade
from exchange.settings import LedgerSettings

Row = tuple[object, ...]
ProtectionPrices = Callable[[str], Decimal | None]
_RETRYABLE = (DeadlockDetected, SerializationFailure)


def _no_protection(_symbol: str) -> Decimal | None:
    return None


class PostgresLedger(LedgerPort):
    """Accounts, holds, settlement, deposits and withdrawals in PostgreSQL.

    ``protection_prices`` gives the price per symbol that market buys hold against (e.g.
    ``LedgerSettings.protection_price``, or a provider that follows the market).
    """

    def __init__(
        self,
        pool: ConnectionPool,
        *,
        instruments: InstrumentCatalog,
        asset_scales: Mapping[str, int],
        fee_account_id: str = "fees",
        protection_prices: ProtectionPrices = _no_protection,
        retries: int = 3,
    ) -> None:
        for instrument in instruments:
            check_instrument(instrument, asset_scales)
        self._pool = pool
        self._instruments = instruments
        self._scales = dict(asset_scales)
        self._fee_account_id = fee_account_id
        self._protection_prices = protection_prices
        self._retries = retries

    @classmethod
    def from_settings(
        cls,
        settings: LedgerSettings,
        instruments: InstrumentCatalog,
        *,
        pool: ConnectionPool | None = None,
    ) -> "PostgresLedger":
        """The ledger as every function configures it (the API's and the settlement consumer's):
        on ``pool``, or on a pool of its own from the settings (opened lazily; in AWS the
        credentials come from the database secret)."""
        if pool is None:
            pool = pool_from_settings(settings, secrets_client_factory(settings))
        return cls(
            pool,
            instruments=instruments,
            asset_scales=settings.ledger_asset_scales,
            fee_account_id=settings.ledger_fee_account_id,
            protection_prices=settings.protection_price,
        )

    @property
    def pool(self) -> ConnectionPool:
        return self._pool

    @property
    def fee_account_id(self) -> str:
        return self._fee_account_id

    def _run[T](self, work: Callable[[Cursor[Row]], T]) -> T:
        """Run ``work`` in one transaction; retried on deadlock or serialization failure."""
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                    return work(cur)
            except _RETRYABLE:
                if attempt >= self._retries:
                    raise

    # -- accounts -------------------------------------------------------------------------------
    def bootstrap(self) -> None:
        """Create the fee account (idempotent). Run once after migrating."""
        self.open_account(self._fee_account_id, kyc_status=KycStatus.VERIFIED, kind=AccountKind.FEE)

    def open_account(
        self,
        account_id: str,
        *,
        kyc_status: KycStatus = KycStatus.PENDING,
        kind: AccountKind = AccountKind.USER,
    ) -> None:
        self._run(
            lambda cur: cur.execute(
                "INSERT INTO ledger.accounts (account_id, kind, kyc_status) VALUES (%s, %s, %s) "
                "ON CONFLICT (account_id) DO NOTHING",
                (account_id, kind.value, kyc_status.value),
            )
        )

    def set_kyc_status(self, account_id: str, kyc_status: KycStatus) -> None:
        def work(cur: Cursor[Row]) -> None:
            cur.execute(
                "UPDATE ledger.accounts SET kyc_status = %s "
                "WHERE account_id = %s AND kind = 'USER'",
                (kyc_status.value, account_id),
            )
            if cur.rowcount == 0:
                raise UnknownAccount(f"no user account {account_id!r}")

        self._run(work)

    # -- holds ----------------------------------------------------------------------------------
    def reserve(self, order: NewOrder) -> Hold:
        instrument = self._instruments.get(order.symbol)
        protection = self._protection_prices(order.symbol)
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

        def work(cur: Cursor[Row]) -> Hold:
            require_trading(cur, order.account_id)
            if not insert_hold(cur, hold):
                return _same_reservation(cur, hold)
            hold_funds(cur, account_id=hold.account_id, asset=hold.asset, amount=hold.held)
            post(
                cur,
                kind="RESERVE",
                reference=hold.order_id,
                movements=move(
                    hold.asset,
                    hold.held,
                    Pocket(hold.account_id, Bucket.AVAILABLE),
                    Pocket(hold.account_id, Bucket.HELD),
                ),
                symbol=hold.symbol,
                apply_balances=False,  # hold_funds has moved them, conditionally
            )
            return hold

        return self._run(work)

    def release(self, order_id: str) -> Decimal:
        def work(cur: Cursor[Row]) -> Decimal:
            hold = lock_holds(cur, [order_id])[order_id]
            return self._resize(cur, hold, kind="RELEASE", reference=order_id, open_lots=0)

        return self._run(work)

    def _resize(
        self,
        cur: Cursor[Row],
        hold: Hold,
        *,
        kind: str,
        reference: str,
        open_lots: int,
        limit_ticks: int | None = None,
        seq: int | None = None,
    ) -> Decimal:
        resized = resize_hold(
            hold,
            self._instruments.get(hold.symbol),
            open_lots=open_lots,
            limit_ticks=limit_ticks,
            scales=self._scales,
        )
        update_holds(cur, [resized.after])
        post(
            cur,
            kind=kind,
            reference=reference,
            movements=resized.movements,
            symbol=hold.symbol,
            seq=seq,
        )
        return hold.held - resized.after.held

    # -- engine events --------------------------------------------------------------------------
    def apply_event(self, event: Event) -> bool:
        if not _moves_money(event):
            return False
        return self._run(lambda cur: self._apply(cur, event))

    def apply_events(self, events: Sequence[Event]) -> list[bool]:
        """Apply a batch in one transaction (one commit), e.g. a Kinesis record's events.

        All or nothing: if one event fails, none is applied, and the caller retries or bisects
        the batch. Each event is still idempotent on ``(symbol, seq)``.
        """
        relevant = [event for event in events if _moves_money(event)]
        if not relevant:
            return [False] * len(events)
        applied = iter(self._run(lambda cur: [self._apply(cur, event) for event in relevant]))
        return [next(applied) if _moves_money(event) else False for event in events]

    def _apply(self, cur: Cursor[Row], event: Event) -> bool:
        if isinstance(event, Trade):
            return self._settle(cur, event)
        assert isinstance(event, OrderCancelled | OrderExpired | OrderAmended | OrderRejected)  # noqa: S101
        return self._apply_to_hold(cur, event)

    def _settle(self, cur: Cursor[Row], trade: Trade) -> bool:
        claimed = cur.execute(
            "INSERT INTO ledger.settled_trades (symbol, seq, maker_order_id, taker_order_id, "
            "maker_account_id, taker_account_id, aggressor_side, price_ticks, qty_lots) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (symbol, seq) DO NOTHING RETURNING 1",
            (
                trade.symbol,
                trade.seq,
                trade.maker_order_id,
                trade.taker_order_id,
                trade.maker_account_id,
                trade.taker_account_id,
                trade.aggressor_side.value,
                trade.price,
                trade.qty,
            ),
        ).fetchone()
        if claimed is None:
            return False  # settled before: a replay changes nothing
        holds = lock_holds(cur, [trade.maker_order_id, trade.taker_order_id])
        settlement = settle_trade(
            trade,
            self._instrument(trade.symbol),
            maker=holds[trade.maker_order_id],
            taker=holds[trade.taker_order_id],
            scales=self._scales,
            fee_account_id=self._fee_account_id,
        )
        update_holds(cur, [settlement.maker.after, settlement.taker.after])
        tx_id = post(
            cur,
            kind="TRADE",
            reference=f"{trade.symbol}#{trade.seq}",
            movements=settlement.movements,
            symbol=trade.symbol,
            seq=trade.seq,
        )
        cur.execute(
            "UPDATE ledger.settled_trades SET notional = %s, maker_fee = %s, taker_fee = %s, "
            "tx_id = %s WHERE symbol = %s AND seq = %s",
            (
                settlement.notional,
                settlement.maker.fee,
                settlement.taker.fee,
                tx_id,
                trade.symbol,
                trade.seq,
            ),
        )
        return True

    def _apply_to_hold(
        self, cur: Cursor[Row], event: OrderCancelled | OrderExpired | OrderAmended | OrderRejected
    ) -> bool:
        kind = {
            OrderCancelled: "CANCEL",
            OrderExpired: "EXPIRE",
            OrderAmended: "AMEND",
            OrderRejected: "REJECT",
        }[type(event)]
        claimed = cur.execute(
            "INSERT INTO ledger.applied_events (symbol, seq, kind, order_id) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (symbol, seq) DO NOTHING RETURNING 1",
            (event.symbol, event.seq, kind, event.order_id),
        ).fetchone()
        if claimed is None:
            return False
        hold = lock_holds(cur, [event.order_id])[event.order_id]
        limit: int | None = None
        match event:
            case OrderCancelled():
                open_lots = hold.open_lots - event.cancelled_qty
            case OrderExpired():
                open_lots = hold.open_lots - event.expired_qty
            case OrderAmended():
                open_lots, limit = event.open_qty, event.price
            case OrderRejected():
                open_lots = 0
        self._resize(
            cur,
            hold,
            kind=kind,
            reference=f"{event.symbol}#{event.seq}",
            open_lots=open_lots,
            limit_ticks=limit,
            seq=event.seq,
        )
        return True

    def _instrument(self, symbol: str) -> Instrument:
        return self._instruments.get(symbol)

    # -- deposits and withdrawals ---------------------------------------------------------------
    def credit_deposit(self, notice: DepositNotice) -> Deposit:
        amount = funding.checked_amount(self._scales, notice.asset, notice.amount)
        return self._run(lambda cur: funding.credit_deposit(cur, replace(notice, amount=amount)))

    def request_withdrawal(
        self, withdrawal_id: str, account_id: str, asset: str, amount: Decimal
    ) -> Withdrawal:
        checked = funding.checked_amount(self._scales, asset, amount)
        return self._run(
            lambda cur: funding.request_withdrawal(cur, withdrawal_id, account_id, asset, checked)
        )

    def complete_withdrawal(self, withdrawal_id: str) -> Withdrawal:
        return self._run(lambda cur: funding.finish_withdrawal(cur, withdrawal_id, completed=True))

    def fail_withdrawal(self, withdrawal_id: str) -> Withdrawal:
        return self._run(lambda cur: funding.finish_withdrawal(cur, withdrawal_id, completed=False))

    # -- reads ----------------------------------------------------------------------------------
    def balances(self, account_id: str) -> list[Balance]:
        return self._run(lambda cur: reads.balances(cur, account_id, self._scales))

    def positions(self, account_id: str) -> Positions:
        return self._run(
            lambda cur: reads.positions(cur, account_id, self._instruments, self._scales)
        )


def _moves_money(event: Event) -> bool:
    """Trades, and events that shrink or reprice a hold; a reject with a command id refused a
    cancel or amend, which leaves the order (and its hold) as it was."""
    if isinstance(event, Trade | OrderCancelled | OrderExpired | OrderAmended):
        return True
    return isinstance(event, OrderRejected) and event.command_id is None


def _same_reservation(cur: Cursor[Row], hold: Hold) -> Hold:
    existing = find_hold(cur, hold.order_id)
    assert existing is not None  # noqa: S101 - the insert just conflicted on it
    terms = ("account_id", "symbol", "side", "limit_ticks", "original_lots")
    different = [t for t in terms if getattr(existing, t) != getattr(hold, t)]
    if different:
        raise ReservationConflict(
            f"order {hold.order_id} was reserved with other terms ({', '.join(different)}); "
            f"held {show(existing.held)} {existing.asset}"
        )
    return existing
