"""Holds on order placement, against the real PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from psycopg_pool import ConnectionPool

from exchange.domain import OrderType, Side
from exchange.ledger import (
    Balance,
    InsufficientFunds,
    KycNotAllowed,
    KycStatus,
    NoProtectionPrice,
    ReservationConflict,
    UnknownAccount,
)
from exchange.ledger.postgres import PostgresLedger
from tests.unit.ledger.helpers import new_id, order, verified_account


def usd(ledger: PostgresLedger, account_id: str) -> Balance:
    return next(b for b in ledger.balances(account_id) if b.asset == "USD")


def test_200_concurrent_reservations_never_oversell(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    # Given 100 USD, and buys of 0.01 BTC at 100.00 that each hold 1.0005 USD (5 bps taker fee)
    account = verified_account(ledger, USD="100")
    orders = [order(account, Side.BUY, qty=100, price=10000) for _ in range(200)]

    def attempt(o: object) -> str:
        try:
            ledger.reserve(o)  # type: ignore[arg-type]
        except InsufficientFunds:
            return "refused"
        return "held"

    # When 200 reservations race from 8 threads on 8 connections
    with ThreadPoolExecutor(max_workers=8) as workers:
        outcomes = list(workers.map(attempt, orders))
    # Then exactly floor(100 / 1.0005) = 99 are held, and available is exact to the last unit
    assert outcomes.count("held") == 99
    assert outcomes.count("refused") == 101
    balance = usd(ledger, account)
    assert balance.held == Decimal("99.0495")
    assert balance.available == Decimal("0.9505")
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*), sum(held) FROM ledger.reservations WHERE account_id = %s", (account,)
        ).fetchone()
    assert row == (99, Decimal("99.0495"))


def test_reserving_the_same_order_twice_holds_once(ledger: PostgresLedger) -> None:
    # Given a buy reserved once
    account = verified_account(ledger, USD="50")
    buy = order(account, Side.BUY, qty=100, price=100000)  # 0.01 BTC at 1000.00
    first = ledger.reserve(buy)
    # When the same order id is reserved again (a retried request)
    second = ledger.reserve(buy)
    # Then one hold: 10.00 plus 5 bps
    assert first == second
    assert first.held == Decimal("10.005")
    assert usd(ledger, account) == Balance("USD", Decimal("39.995"), Decimal("10.005"))


@pytest.fixture
def rich(ledger: PostgresLedger) -> str:
    return verified_account(ledger, USD="1000", BTC="2")


def test_buy_limit_holds_notional_plus_max_fee(ledger: PostgresLedger, rich: str) -> None:
    # Given a buy of 0.5 BTC at 1,000.00 (notional 500, max fee 5 bps = 0.25)
    # When it is reserved
    hold = ledger.reserve(order(rich, Side.BUY, qty=5000, price=100000))
    # Then 500.25 USD moves from available to held
    assert hold.held == Decimal("500.25")
    assert usd(ledger, rich) == Balance("USD", Decimal("499.75"), Decimal("500.25"))


def test_sell_holds_the_base_quantity(ledger: PostgresLedger, rich: str) -> None:
    hold = ledger.reserve(order(rich, Side.SELL, qty=12_345, price=100000))
    assert (hold.asset, hold.held) == ("BTC", Decimal("1.2345"))
    btc = next(b for b in ledger.balances(rich) if b.asset == "BTC")
    assert (btc.available, btc.held) == (Decimal("0.7655"), Decimal("1.2345"))


def test_market_buy_holds_at_its_commands_protection_price(
    ledger: PostgresLedger, rich: str
) -> None:
    # Given a market buy of 0.001 BTC whose command carries a protection price of 123,456.78
    buy = order(rich, Side.BUY, qty=10, protection_price=12_345_678)
    # When it is reserved
    hold = ledger.reserve(buy)
    # Then it holds 123.45678 plus 5 bps, rounded up: at the command's price, nothing static
    assert hold.limit_ticks == 12_345_678
    assert hold.held == Decimal("123.51850839")
    assert usd(ledger, rich).held == Decimal("123.51850839")


def test_stop_buy_holds_at_its_commands_protection_price(ledger: PostgresLedger, rich: str) -> None:
    stop = order(rich, Side.BUY, qty=10, order_type=OrderType.STOP, protection_price=20_000_000)
    assert ledger.reserve(stop).held == Decimal("200.1")


@pytest.mark.parametrize("order_type", [OrderType.MARKET, OrderType.STOP])
def test_market_or_stop_buy_without_protection_price_holds_nothing(
    ledger: PostgresLedger, rich: str, order_type: OrderType
) -> None:
    # Given a market (or stop) buy whose command has no protection price: no limit to hold at
    unprotected = order(rich, Side.BUY, qty=10, order_type=order_type, protected=False)
    # When it is reserved, Then it is refused and nothing is held
    with pytest.raises(NoProtectionPrice, match="BTC-USD"):
        ledger.reserve(unprotected)
    assert usd(ledger, rich) == Balance("USD", Decimal("1000"), Decimal("0"))


def test_insufficient_funds_names_amount_and_available(ledger: PostgresLedger) -> None:
    account = verified_account(ledger, USD="10")
    with pytest.raises(InsufficientFunds, match=r"needs 100\.05 USD, available 10"):
        ledger.reserve(order(account, Side.BUY, qty=1000, price=100000))
    assert usd(ledger, account) == Balance("USD", Decimal("10"), Decimal("0"))


def test_kyc_pending_account_cannot_trade(ledger: PostgresLedger) -> None:
    account = new_id("acct")
    ledger.open_account(account, kyc_status=KycStatus.PENDING)
    with pytest.raises(KycNotAllowed, match="PENDING"):
        ledger.reserve(order(account, Side.SELL, qty=1, price=100))
    ledger.set_kyc_status(account, KycStatus.SUSPENDED)
    with pytest.raises(KycNotAllowed, match="SUSPENDED"):
        ledger.reserve(order(account, Side.SELL, qty=1, price=100))


def test_unknown_account_cannot_trade(ledger: PostgresLedger) -> None:
    with pytest.raises(UnknownAccount):
        ledger.reserve(order(new_id("ghost"), Side.SELL, qty=1, price=100))


def test_same_order_id_with_other_terms_conflicts(ledger: PostgresLedger, rich: str) -> None:
    first = order(rich, Side.BUY, qty=10, price=100000)
    ledger.reserve(first)
    with pytest.raises(ReservationConflict, match="original_lots"):
        ledger.reserve(order(rich, Side.BUY, qty=11, price=100000, order_id=first.order_id))


def test_release_gives_the_hold_back_once(ledger: PostgresLedger, rich: str) -> None:
    # Given a reserved buy whose publish then failed
    buy = order(rich, Side.BUY, qty=5000, price=100000)
    ledger.reserve(buy)
    # When it is released, twice
    first = ledger.release(buy.order_id)
    second = ledger.release(buy.order_id)
    # Then the hold is back in available, once
    assert (first, second) == (Decimal("500.25"), Decimal("0"))
    assert usd(ledger, rich) == Balance("USD", Decimal("1000"), Decimal("0"))
