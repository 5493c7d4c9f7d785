"""Amend holds on the real PostgreSQL: the increase is held before the amend is sent, once per
command id, and settlement adopts it, gives it back, or releases it with the order."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from psycopg_pool import ConnectionPool

from exchange.domain import (
    CancelReason,
    NewOrder,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    RejectReason,
    Side,
)
from exchange.ledger import InsufficientFunds, ReservationConflict, UnknownReservation
from exchange.ledger.postgres import PostgresLedger
from tests.integration.ledger.conftest import total
from tests.integration.ledger.test_conservation import check_books
from tests.integration.ledger.test_settlement import balances, snapshot
from tests.unit.ledger.helpers import amend, new_id, next_seq, order, trade, verified_account


def cmd(name: str) -> str:
    """A command id unique to this run (the tests share one database; ids are global)."""
    return new_id(name)


def amended(
    placed: NewOrder, command_id: str, *, price: int, qty: int, filled: int = 0
) -> OrderAmended:
    return OrderAmended(
        symbol=placed.symbol,
        ts=1,
        seq=next_seq(),
        order_id=placed.order_id,
        account_id=placed.account_id,
        command_id=command_id,
        price=price,
        qty=qty,
        open_qty=qty - filled,
    )


def refused(placed: NewOrder, command_id: str) -> OrderRejected:
    return OrderRejected(
        symbol=placed.symbol,
        ts=1,
        seq=next_seq(),
        order_id=placed.order_id,
        account_id=placed.account_id,
        reason=RejectReason.PRICE_OUT_OF_BAND,
        command_id=command_id,
    )


def amend_holds(pool: ConnectionPool, order_id: str) -> list[tuple[object, ...]]:
    with pool.connection() as conn:
        return conn.execute(
            "SELECT command_id, held, status FROM ledger.amend_holds WHERE order_id = %s "
            "ORDER BY command_id",
            (order_id,),
        ).fetchall()


@pytest.fixture
def buyer(ledger: PostgresLedger) -> str:
    return verified_account(ledger, USD="500")


@pytest.fixture
def buy(ledger: PostgresLedger, buyer: str) -> NewOrder:
    """A buy of 1 BTC at 100.00, holding 100.05."""
    placed = order(buyer, Side.BUY, qty=10_000, price=10_000)
    ledger.reserve(placed)
    return placed


def test_amend_up_holds_the_difference_once_per_command_id(
    ledger: PostgresLedger, pool: ConnectionPool, buyer: str, buy: NewOrder
) -> None:
    # Given an amend to 2 BTC at 150.00 (hold 300.15, so 200.10 more)
    command_id = cmd("up")
    up = amend(buy, command_id, price=15_000, qty=20_000)
    # When the API's request is retried: 16 times, from 8 threads at once
    with ThreadPoolExecutor(max_workers=8) as workers:
        increases = list(workers.map(lambda _: ledger.reserve_amend(up), range(16)))
    # Then every attempt answers the same increase, and it is held once
    assert set(increases) == {Decimal("200.1")}
    assert balances(ledger, buyer)["USD"] == (Decimal("199.85"), Decimal("300.15"))
    assert amend_holds(pool, buy.order_id) == [(command_id, Decimal("200.1"), "PENDING")]
    check_books(pool)
    # And the same command id with other terms is a conflict that holds nothing
    with pytest.raises(ReservationConflict):
        ledger.reserve_amend(amend(buy, command_id, qty=30_000))
    assert balances(ledger, buyer)["USD"] == (Decimal("199.85"), Decimal("300.15"))


def test_amend_beyond_funds_raises_insufficient_funds_and_changes_nothing(
    ledger: PostgresLedger, pool: ConnectionPool, buy: NewOrder
) -> None:
    before = snapshot(pool)
    # When the buy is amended to 5 BTC (500.25 in all: 400.20 more than held, 399.95 free)
    with pytest.raises(InsufficientFunds, match=r"needs 400\.2 USD, available 399\.95"):
        ledger.reserve_amend(amend(buy, cmd("too-big"), qty=50_000))
    # Then nothing is held, nothing is journaled and no amend hold is recorded
    assert snapshot(pool) == before
    assert amend_holds(pool, buy.order_id) == []


def test_a_rejected_amend_releases_its_increase(
    ledger: PostgresLedger, pool: ConnectionPool, buyer: str, buy: NewOrder
) -> None:
    # Given an amend's increase held
    command_id = cmd("up")
    ledger.reserve_amend(amend(buy, command_id, qty=20_000))
    assert balances(ledger, buyer)["USD"] == (Decimal("299.9"), Decimal("200.1"))
    # When the engine refuses the amend (twice delivered)
    rejection = refused(buy, command_id)
    assert ledger.apply_events([rejection]) == [True]
    assert ledger.apply_event(rejection) is False
    # Then the increase is back in available, once; the order keeps its own hold
    assert balances(ledger, buyer)["USD"] == (Decimal("399.95"), Decimal("100.05"))
    assert amend_holds(pool, buy.order_id) == [(command_id, Decimal("100.05"), "RELEASED")]
    # And a retried reserve of the answered amend holds nothing again
    assert ledger.reserve_amend(amend(buy, command_id, qty=20_000)) == Decimal("100.05")
    assert balances(ledger, buyer)["USD"] == (Decimal("399.95"), Decimal("100.05"))
    check_books(pool)


def test_an_amended_order_filled_at_its_new_qty_settles_and_conserves(
    ledger: PostgresLedger, pool: ConnectionPool, buyer: str, buy: NewOrder
) -> None:
    # Given a seller of 2 BTC at 150.00, and the buy amended to 2 BTC at 150.00
    seller = verified_account(ledger, BTC="2")
    sell = order(seller, Side.SELL, qty=20_000, price=15_000)
    usd_before, btc_before = total(pool, "USD"), total(pool, "BTC")
    command_id = cmd("up")
    assert ledger.reserve_amend(amend(buy, command_id, price=15_000, qty=20_000)) == Decimal(
        "200.1"
    )
    ledger.reserve(sell)
    # When the engine applies the amend and the order then fills in full at the new terms
    applied = ledger.apply_events(
        [
            amended(buy, command_id, price=15_000, qty=20_000),
            trade(sell, buy, price=15_000, qty=20_000),
        ]
    )
    # Then everything settles: 300.00 + 0.15 taker fee paid, nothing left held
    assert applied == [True, True]
    assert balances(ledger, buyer) == {
        "BTC": (Decimal("2"), Decimal("0")),
        "USD": (Decimal("199.85"), Decimal("0")),
    }
    assert amend_holds(pool, buy.order_id) == [(command_id, Decimal("200.1"), "ADOPTED")]
    assert (total(pool, "USD"), total(pool, "BTC")) == (usd_before, btc_before)
    check_books(pool)


def test_the_orders_final_event_releases_a_pending_increase(
    ledger: PostgresLedger, pool: ConnectionPool, buyer: str, buy: NewOrder
) -> None:
    # Given an amend's increase held, and the order cancelled before the engine saw the amend
    command_id = cmd("late")
    ledger.reserve_amend(amend(buy, command_id, qty=20_000))
    cancel = OrderCancelled(
        symbol="BTC-USD",
        ts=1,
        seq=next_seq(),
        order_id=buy.order_id,
        account_id=buyer,
        cancelled_qty=10_000,
        reason=CancelReason.USER_REQUESTED,
    )
    # When the cancel settles, Then the order's hold and the pending increase are both back
    assert ledger.apply_event(cancel)
    assert balances(ledger, buyer)["USD"] == (Decimal("500"), Decimal("0"))
    assert amend_holds(pool, buy.order_id) == [(command_id, Decimal("100.05"), "RELEASED")]
    # And the engine's later refusal of the amend (unknown order) moves nothing
    assert ledger.apply_event(refused(buy, command_id)) is False
    assert balances(ledger, buyer)["USD"] == (Decimal("500"), Decimal("0"))
    check_books(pool)


def test_a_price_cut_with_added_lots_survives_fills_settled_after_it(
    ledger: PostgresLedger, pool: ConnectionPool, buyer: str, buy: NewOrder
) -> None:
    # Given the buy of 1 BTC at 100.00 amended to 2 BTC at 50.00 while the engine had already
    # filled 0.9 BTC at 100.00, which the ledger settles only afterwards
    seller = verified_account(ledger, BTC="1")
    sell = order(seller, Side.SELL, qty=9_000, price=10_000)
    ledger.reserve(sell)
    command_id = cmd("cut")
    assert ledger.reserve_amend(amend(buy, command_id, price=5_000, qty=20_000)) == Decimal(
        "50.025"
    )
    # When the fill, then the amend (1.1 BTC left open at 50.00), settle in the engine's order
    applied = ledger.apply_events(
        [
            trade(sell, buy, price=10_000, qty=9_000),
            amended(buy, command_id, price=5_000, qty=20_000, filled=9_000),
        ]
    )
    # Then it settles without touching available beyond the reserved increase: 1.1 BTC at
    # 50.00 plus fee (55.0275) stays held, and the 90.045 paid came out of the hold
    assert applied == [True, True]
    assert balances(ledger, buyer)["USD"] == (Decimal("354.9275"), Decimal("55.0275"))
    check_books(pool)


def test_amend_of_an_order_without_a_hold_or_of_another_account_holds_nothing(
    ledger: PostgresLedger, pool: ConnectionPool, buy: NewOrder
) -> None:
    mallory = verified_account(ledger, USD="500")
    before = snapshot(pool)
    with pytest.raises(UnknownReservation):
        ledger.reserve_amend(amend(order(mallory, Side.BUY, qty=1, price=1), cmd("ghost"), qty=2))
    with pytest.raises(UnknownReservation, match=mallory):
        ledger.reserve_amend(amend(buy, cmd("forged"), qty=20_000).__replace__(account_id=mallory))
    assert snapshot(pool) == before
    assert amend_holds(pool, buy.order_id) == []
