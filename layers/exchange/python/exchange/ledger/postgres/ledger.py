"""``PostgresLedger``: the ledger port on PostgreSQL. Holds and funding here; engine events in
``postgres.events``, amend holds in ``postgres.amends``, freezes in ``postgres.accounts``,
dividends in ``postgres.dividends``; withdrawal destinations and payouts, statements and the
notices' outbox in the mixins ``postgres.withdrawals``, ``postgres.statements`` and
``postgres.notices``."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from functools import partial

from psycopg import Cursor
from psycopg.errors import DeadlockDetected, SerializationFailure
from psycopg_pool import ConnectionPool

from exchange.domain.commands import AmendOrder, NewOrder
from exchange.domain.errors import UnknownInstrument
from exchange.domain.events import Event
from exchange.domain.instruments import InstrumentCatalog
from exchange.ledger.catalog import LedgerInstruments
from exchange.ledger.connection import function_pool
from exchange.ledger.dividends import (
    Dividend,
    DividendDeclaration,
    DividendPayout,
    check_declaration,
)
from exchange.ledger.errors import InvalidDividend, ReservationConflict, UnknownAccount
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
from exchange.ledger.money import scale_of, show
from exchange.ledger.movements import Bucket, Pocket, move
from exchange.ledger.port import LedgerPort
from exchange.ledger.postgres import accounts as account_sql
from exchange.ledger.postgres import amends, funding, reads
from exchange.ledger.postgres import dividends as dividend_sql
from exchange.ledger.postgres.accounts import refuse_frozen, require_trading
from exchange.ledger.postgres.events import Settler, settles
from exchange.ledger.postgres.holds_sql import find_hold, insert_hold, lock_holds
from exchange.ledger.postgres.journal import hold_funds, post
from exchange.ledger.postgres.notices import PostgresNotices
from exchange.ledger.postgres.statements import PostgresStatements
from exchange.ledger.postgres.withdrawals import PostgresWithdrawals
from exchange.settings import LedgerSettings

Row = tuple[object, ...]
_RETRYABLE = (DeadlockDetected, SerializationFailure)


class PostgresLedger(LedgerPort, PostgresWithdrawals, PostgresStatements, PostgresNotices):
    """Accounts, holds, settlement, deposits and withdrawals in PostgreSQL."""

    def __init__(
        self,
        pool: ConnectionPool,
        *,
        instruments: InstrumentCatalog,
        asset_scales: Mapping[str, int],
        fee_account_id: str = "fees",
        retries: int = 3,
    ) -> None:
        self._pool = pool
        self._scales = dict(asset_scales)
        self._instruments = LedgerInstruments(instruments, self._scales)
        self._fee_account_id = fee_account_id
        self._settler = Settler(self._instruments, self._scales, fee_account_id)
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
        on ``pool``, or on a pool of its own from the settings (opened lazily; in AWS through RDS
        Proxy as the function's role, with an IAM token per connection)."""
        if pool is None:
            pool = function_pool(settings)
        return cls(
            pool,
            instruments=instruments,
            asset_scales=settings.ledger_asset_scales,
            fee_account_id=settings.ledger_fee_account_id,
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

    def set_frozen(self, account_id: str, frozen: bool, *, actor: str, reason: str) -> bool:
        return self._run(
            lambda cur: account_sql.set_frozen(cur, account_id, frozen, actor=actor, reason=reason)
        )

    def is_frozen(self, account_id: str) -> bool:
        return self._run(lambda cur: account_sql.is_frozen(cur, account_id))

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

        def work(cur: Cursor[Row]) -> Hold:
            require_trading(cur, order.account_id)
            if not insert_hold(cur, hold):
                return _same_reservation(cur, hold)
            refuse_frozen(cur, order.account_id, what=f"order {order.order_id}")
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
            return self._settler.resize(cur, hold, kind="RELEASE", reference=order_id, open_lots=0)

        return self._run(work)

    def reserve_amend(self, amend: AmendOrder) -> Decimal:
        def work(cur: Cursor[Row]) -> Decimal:
            hold = lock_holds(cur, [amend.order_id])[amend.order_id]
            instrument = self._instruments.get(hold.symbol)
            return amends.reserve_amend(cur, amend, hold, instrument, self._scales)

        return self._run(work)

    # -- engine events --------------------------------------------------------------------------
    def apply_event(self, event: Event) -> bool:
        if not settles(event):
            return False
        return self._run(lambda cur: self._settler.apply(cur, event))

    def apply_events(self, events: Sequence[Event]) -> list[bool]:
        """Apply a batch in one transaction (one commit), e.g. a Kinesis record's events.

        All or nothing: if one event fails, none is applied, and the caller retries, bisects or
        applies them one by one (``ledger.consumer``). Each is idempotent on ``(symbol, seq)``.
        """
        relevant = [event for event in events if settles(event)]
        if not relevant:
            return [False] * len(events)
        applied = iter(self._run(lambda cur: [self._settler.apply(cur, e) for e in relevant]))
        return [next(applied) if settles(event) else False for event in events]

    # -- deposits and withdrawals ---------------------------------------------------------------
    # (the rest of a withdrawal's life, and destinations: ``postgres.withdrawals``)
    def credit_deposit(self, notice: DepositNotice) -> Deposit:
        amount = funding.checked_amount(self._scales, notice.asset, notice.amount)
        credited = replace(notice, amount=amount)
        return self._run(lambda cur: funding.credit_deposit(cur, self._scales, credited))

    def request_withdrawal(
        self,
        withdrawal_id: str,
        account_id: str,
        asset: str,
        amount: Decimal,
        *,
        destination_id: str,
    ) -> Withdrawal:
        checked = funding.checked_amount(self._scales, asset, amount)
        wanted = Withdrawal(
            withdrawal_id,
            account_id,
            asset,
            checked,
            WithdrawalStatus.PENDING,
            destination_id=destination_id,
        )
        return self._run(lambda cur: funding.request_withdrawal(cur, self._scales, wanted))

    def complete_withdrawal(self, withdrawal_id: str) -> Withdrawal:
        return self._run(
            lambda cur: funding.finish_withdrawal(cur, self._scales, withdrawal_id, completed=True)
        )

    def fail_withdrawal(self, withdrawal_id: str, *, reason: str | None = None) -> Withdrawal:
        return self._run(
            lambda cur: funding.finish_withdrawal(
                cur, self._scales, withdrawal_id, completed=False, failure_reason=reason
            )
        )

    # -- reads ----------------------------------------------------------------------------------
    def balances(self, account_id: str) -> list[Balance]:
        return self._run(lambda cur: reads.balances(cur, account_id, self._scales))

    def positions(self, account_id: str) -> Positions:
        return self._run(
            lambda cur: reads.positions(cur, account_id, self._instruments, self._scales)
        )

    # -- dividends ------------------------------------------------------------------------------
    def declare_dividend(self, declaration: DividendDeclaration) -> Dividend:
        try:
            instrument = self._instruments.get(declaration.symbol)
        except UnknownInstrument as exc:
            raise InvalidDividend(f"no instrument {declaration.symbol!r}") from exc

        def work(cur: Cursor[Row]) -> Dividend:
            existing = dividend_sql.find(cur, declaration.dividend_id, self._scales)
            if existing is not None:  # a retry, however late, is answered as it was
                return dividend_sql.same_or_conflict(existing, declaration)
            amount = check_declaration(
                declaration, instrument, self._scales, now=dividend_sql.database_now(cur)
            )
            return dividend_sql.declare(
                cur,
                declaration,
                amount_per_unit=amount,
                asset=instrument.quote,
                unit_asset=instrument.base,
                scales=self._scales,
            )

        return self._run(work)

    def dividends(self, symbol: str | None = None) -> list[Dividend]:
        return self._run(lambda cur: dividend_sql.listed(cur, symbol, self._scales))

    def pay_due_dividends(self, now: datetime, *, limit: int) -> list[DividendPayout]:
        """Each due dividend in its own transaction, so an unfunded issuer holds back no other
        dividend."""
        payouts: list[DividendPayout] = []
        for dividend_id in self._run(lambda cur: dividend_sql.due(cur, now, limit)):
            payout = self._run(
                partial(dividend_sql.pay, dividend_id=dividend_id, now=now, scales=self._scales)
            )
            if payout is not None:
                payouts.append(payout)
        return payouts


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
