"""Account freezes on the real PostgreSQL: a frozen account's new orders, amends that hold more
and withdrawals are refused with nothing written; its cancels and settlement go on; every freeze
request is kept, append-only; and a freeze never interleaves with a hold in flight."""

import threading
import time
from decimal import Decimal

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from exchange.domain import CancelReason, OrderCancelled, Side
from exchange.domain.enums import InstrumentStatus
from exchange.domain.events import AccountFrozen as AccountFrozenEvent
from exchange.domain.events import TradingStatusChanged
from exchange.ledger import AccountFrozen, Balance, UnknownAccount
from exchange.ledger.model import Withdrawal, WithdrawalStatus
from exchange.ledger.postgres import PostgresLedger, funding
from exchange.ledger.postgres import accounts as account_sql
from exchange.settings import DEFAULT_ASSET_SCALES
from tests.integration.ledger.conftest import destination
from tests.integration.ledger.test_conservation import check_books
from tests.unit.ledger.helpers import amend, new_id, next_seq, order, trade, verified_account


def freeze(ledger: PostgresLedger, account_id: str, frozen: bool = True) -> bool:
    return ledger.set_frozen(account_id, frozen, actor="op-alice", reason="fraud review")


def written(pool: ConnectionPool, account_id: str) -> tuple[object, ...]:
    """How many reservations, withdrawals, amend holds and journal entries the account has."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM ledger.reservations WHERE account_id = %(a)s), "
            "(SELECT count(*) FROM ledger.withdrawals WHERE account_id = %(a)s), "
            "(SELECT count(*) FROM ledger.amend_holds WHERE account_id = %(a)s), "
            "(SELECT count(*) FROM ledger.journal_entries WHERE account_id = %(a)s)",
            {"a": account_id},
        ).fetchone()
    assert row is not None
    return tuple(row)


def freeze_events(pool: ConnectionPool, account_id: str) -> list[tuple[object, ...]]:
    with pool.connection() as conn:
        return conn.execute(
            "SELECT frozen, changed, actor, reason FROM ledger.account_freeze_events "
            "WHERE account_id = %s ORDER BY event_no",
            (account_id,),
        ).fetchall()


def test_a_frozen_account_can_neither_order_nor_withdraw_and_nothing_is_written(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    # Given a funded account with a destination, frozen by an operator
    alice = verified_account(ledger, USD="1000", BTC="1")
    target = destination(ledger, alice, "USD")
    before = written(pool, alice)
    assert freeze(ledger, alice) is True
    assert ledger.is_frozen(alice) is True
    # When it places a buy, a sell and a market order, and asks for a withdrawal
    for refused in (
        order(alice, Side.BUY, qty=1000, price=100000),
        order(alice, Side.SELL, qty=1000, price=100000),
        order(alice, Side.BUY, qty=10),
    ):
        with pytest.raises(AccountFrozen, match="frozen"):
            ledger.reserve(refused)
    with pytest.raises(AccountFrozen):
        ledger.request_withdrawal(new_id("wd"), alice, "USD", Decimal("10"), destination_id=target)
    # Then nothing was held or written
    assert written(pool, alice) == before
    assert ledger.balances(alice) == [
        Balance("BTC", Decimal(1), Decimal(0)),
        Balance("USD", Decimal(1000), Decimal(0)),
    ]
    check_books(pool)


def test_an_unfrozen_account_trades_again_and_a_repeated_request_changes_nothing(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    alice = verified_account(ledger, USD="1000")
    assert freeze(ledger, alice) is True
    assert freeze(ledger, alice) is False  # already frozen
    assert freeze(ledger, alice, False) is True
    assert freeze(ledger, alice, False) is False
    assert ledger.is_frozen(alice) is False
    assert ledger.reserve(order(alice, Side.BUY, qty=1000, price=100000)).held > 0
    # And every request was kept, with who, why and whether it changed anything
    assert freeze_events(pool, alice) == [
        (True, True, "op-alice", "fraud review"),
        (True, False, "op-alice", "fraud review"),
        (False, True, "op-alice", "fraud review"),
        (False, False, "op-alice", "fraud review"),
    ]


def test_an_amend_that_holds_more_is_refused_one_that_holds_nothing_goes_through(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    alice = verified_account(ledger, USD="1000")
    buy = order(alice, Side.BUY, qty=2000, price=100000)
    held = ledger.reserve(buy).held
    freeze(ledger, alice)
    with pytest.raises(AccountFrozen):
        ledger.reserve_amend(amend(buy, new_id("cmd"), qty=3000))
    assert ledger.reserve_amend(amend(buy, new_id("cmd"), qty=1000)) == 0
    assert ledger.balances(alice) == [Balance("USD", Decimal(1000) - held, held)]
    check_books(pool)


def test_cancels_and_settlement_go_on_for_a_frozen_account(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    # Given resting orders of an account that is then frozen
    buyer, seller = verified_account(ledger, USD="1000"), verified_account(ledger, BTC="1")
    buy = order(buyer, Side.BUY, qty=5000, price=100000)  # 0.5 BTC at 1,000.00
    sell = order(seller, Side.SELL, qty=2000, price=100000)
    ledger.reserve(buy)
    ledger.reserve(sell)
    freeze(ledger, buyer)
    # When a fill settles, the engine's status and freeze events pass, and the engine cancels the
    # rest for the freeze (reason OPERATOR)
    symbol = "BTC-USD"
    events = [
        trade(buy, sell, price=100000, qty=2000),
        TradingStatusChanged(
            symbol=symbol,
            ts=1,
            seq=next_seq(),
            command_id="adm_1",
            status=InstrumentStatus.HALTED,
            previous=InstrumentStatus.TRADING,
            actor="op-alice",
        ),
        AccountFrozenEvent(
            symbol=symbol,
            ts=1,
            seq=next_seq(),
            command_id="adm_2",
            account_id=buyer,
            frozen=True,
            actor="op-alice",
        ),
        OrderCancelled(
            symbol=symbol,
            ts=1,
            seq=next_seq(),
            order_id=buy.order_id,
            account_id=buyer,
            cancelled_qty=3000,
            reason=CancelReason.OPERATOR,
            command_id="adm_2",
        ),
    ]
    # Then the trade and the cancel apply, the operator's events change nothing
    assert ledger.apply_events(events) == [True, False, False, True]
    assert ledger.apply_events(events) == [False, False, False, False]
    # And the frozen buyer holds nothing more: paid 200.00 + 0.04 fee (2 bps, maker) for 0.2 BTC
    assert ledger.balances(buyer) == [
        Balance("BTC", Decimal("0.2"), Decimal(0)),
        Balance("USD", Decimal("799.96"), Decimal(0)),
    ]
    check_books(pool)


def test_freeze_events_are_append_only(ledger: PostgresLedger, pool: ConnectionPool) -> None:
    alice = verified_account(ledger)
    freeze(ledger, alice)
    with pool.connection() as conn:
        for statement in (
            "UPDATE ledger.account_freeze_events SET reason = 'nothing happened'",
            "DELETE FROM ledger.account_freeze_events",
            "TRUNCATE ledger.account_freeze_events",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
            conn.rollback()
    assert len(freeze_events(pool, alice)) == 1


def test_only_an_existing_user_account_can_be_frozen(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    for account_id in (new_id("nobody"), ledger.fee_account_id, "external"):
        with pytest.raises(UnknownAccount):
            freeze(ledger, account_id)
        with pytest.raises(UnknownAccount):
            ledger.is_frozen(account_id)
        assert freeze_events(pool, account_id) == []


def run_in_thread(work: object) -> tuple[threading.Thread, list[object]]:
    """Start ``work()`` in a thread; its result or exception lands in the returned list."""
    outcome: list[object] = []

    def target() -> None:
        try:
            outcome.append(work())  # type: ignore[operator]
        except Exception as exc:  # noqa: BLE001 - handed to the test, which asserts on it
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def test_a_reservation_waits_for_a_freeze_in_flight_and_is_then_refused(
    ledger: PostgresLedger, pool: ConnectionPool, fresh_database: str
) -> None:
    alice = verified_account(ledger, USD="1000")
    before = written(pool, alice)
    with psycopg.connect(fresh_database) as operator:
        # Given a freeze written but not yet committed
        with operator.cursor() as cur:
            assert account_sql.set_frozen(cur, alice, True, actor="op", reason="review")
        # When the account reserves meanwhile
        thread, outcome = run_in_thread(
            lambda: ledger.reserve(order(alice, Side.BUY, qty=1000, price=100000))
        )
        time.sleep(0.5)
        # Then it waits for the freeze (the account's row is locked) ...
        assert thread.is_alive()
        assert outcome == []
        operator.commit()
    thread.join(10)
    # ... and, once the freeze commits, is refused with nothing written
    assert len(outcome) == 1
    assert isinstance(outcome[0], AccountFrozen)
    assert written(pool, alice) == before


def test_a_freeze_waits_for_a_withdrawal_in_flight_which_commits_first(
    ledger: PostgresLedger, pool: ConnectionPool, fresh_database: str
) -> None:
    alice = verified_account(ledger, USD="100")
    wanted = Withdrawal(
        new_id("wd"),
        alice,
        "USD",
        Decimal("40"),
        WithdrawalStatus.PENDING,
        destination_id=destination(ledger, alice, "USD"),
    )
    with psycopg.connect(fresh_database) as account:
        # Given a withdrawal's hold written but not yet committed
        with account.cursor() as cur:
            funding.request_withdrawal(cur, DEFAULT_ASSET_SCALES, wanted)
        # When an operator freezes the account meanwhile
        thread, outcome = run_in_thread(lambda: freeze(ledger, alice))
        time.sleep(0.5)
        # Then the freeze waits for it, and the withdrawal stands
        assert thread.is_alive()
        account.commit()
    thread.join(10)
    assert outcome == [True]
    assert ledger.balances(alice) == [Balance("USD", Decimal(60), Decimal(40))]
    check_books(pool)
