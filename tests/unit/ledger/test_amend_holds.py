"""Amends reserve their increase before they are sent: ``reserve_amend`` on the in-memory ledger
(the API's fake), which follows the PostgreSQL ledger's rules (``ledger.amends``)."""

from decimal import Decimal

import pytest

from exchange.domain import OrderType, Side
from exchange.ledger import (
    Balance,
    InsufficientFunds,
    NoProtectionPrice,
    ReservationConflict,
    UnknownReservation,
)
from exchange.testing.ledger import InMemoryLedger
from tests.unit.ledger.helpers import CATALOG, amend, new_id, order, verified_account


@pytest.fixture
def ledger() -> InMemoryLedger:
    return InMemoryLedger(CATALOG)


def usd(ledger: InMemoryLedger, account_id: str) -> Balance:
    return next(b for b in ledger.balances(account_id) if b.asset == "USD")


def test_amend_up_holds_the_difference_once_per_command_id(ledger: InMemoryLedger) -> None:
    # Given a buy of 1 BTC at 100.00 (holds 100.05)
    buyer = verified_account(ledger, USD="500")
    buy = order(buyer, Side.BUY, qty=10_000, price=10_000)
    ledger.reserve(buy)
    # When it is amended to 2 BTC at 150.00, and the request is retried twice
    up = amend(buy, "cmd-1", price=15_000, qty=20_000)
    increases = [ledger.reserve_amend(up) for _ in range(3)]
    # Then the increase (300.15 - 100.05) is held once, and every retry answers the same
    assert increases == [Decimal("200.1")] * 3
    assert usd(ledger, buyer) == Balance("USD", Decimal("199.85"), Decimal("300.15"))


def test_amend_beyond_funds_raises_insufficient_funds_and_holds_nothing(
    ledger: InMemoryLedger,
) -> None:
    buyer = verified_account(ledger, USD="150")
    buy = order(buyer, Side.BUY, qty=10_000, price=10_000)
    ledger.reserve(buy)
    with pytest.raises(InsufficientFunds):
        ledger.reserve_amend(amend(buy, "cmd-1", qty=30_000))  # needs 200.10 more, 49.95 free
    assert usd(ledger, buyer) == Balance("USD", Decimal("49.95"), Decimal("100.05"))
    # And a retry that now fits is held (nothing was recorded for the refused attempt)
    ledger.fund(buyer, "USD", Decimal("200"))
    assert ledger.reserve_amend(amend(buy, "cmd-1", qty=30_000)) == Decimal("200.1")


@pytest.mark.parametrize(
    ("price", "qty"), [(None, 5_000), (9_000, None), (10_000, 10_000), (None, None)]
)
def test_amend_that_does_not_increase_holds_nothing(
    ledger: InMemoryLedger, price: int | None, qty: int | None
) -> None:
    buyer = verified_account(ledger, USD="500")
    buy = order(buyer, Side.BUY, qty=10_000, price=10_000)
    ledger.reserve(buy)
    assert ledger.reserve_amend(amend(buy, "cmd", price=price, qty=qty)) == 0
    assert usd(ledger, buyer).held == Decimal("100.05")


def test_sell_amend_holds_its_added_base(ledger: InMemoryLedger) -> None:
    seller = verified_account(ledger, BTC="2")
    sell = order(seller, Side.SELL, qty=10_000, price=10_000)
    ledger.reserve(sell)
    # A new price moves no base; a larger quantity holds the added 0.5 BTC
    assert ledger.reserve_amend(amend(sell, "reprice", price=20_000)) == 0
    assert ledger.reserve_amend(amend(sell, "grow", qty=15_000)) == Decimal("0.5")
    btc = next(b for b in ledger.balances(seller) if b.asset == "BTC")
    assert (btc.available, btc.held) == (Decimal("0.5"), Decimal("1.5"))


def test_price_cut_with_added_lots_holds_the_added_lots_in_full(ledger: InMemoryLedger) -> None:
    # Given a buy of 1 BTC at 100.00; fills at 100.00 the ledger has not settled yet may spend
    # its whole hold before the engine applies the amend
    buyer = verified_account(ledger, USD="500")
    buy = order(buyer, Side.BUY, qty=10_000, price=10_000)
    ledger.reserve(buy)
    # When it is amended to 2 BTC at 50.00 (the same notional as now: the naive increase is 0)
    increase = ledger.reserve_amend(amend(buy, "cut", price=5_000, qty=20_000))
    # Then the added 1 BTC at 50.00 is held in full, fee included
    assert increase == Decimal("50.025")


def test_pending_amends_are_counted_against_a_later_amend(ledger: InMemoryLedger) -> None:
    # Given a buy of 1 BTC at 100.00, with an amend to 150.00 not yet answered by the engine
    buyer = verified_account(ledger, USD="1000")
    buy = order(buyer, Side.BUY, qty=10_000, price=10_000)
    ledger.reserve(buy)
    assert ledger.reserve_amend(amend(buy, "price-up", price=15_000)) == Decimal("50.025")
    # When a second amend grows it to 2 BTC without naming a price (it keeps the price in force
    # when the engine applies it, which may be 150.00)
    increase = ledger.reserve_amend(amend(buy, "grow", qty=20_000))
    # Then it holds the added 1 BTC at 150.00, plus fee (if the first amend is applied first,
    # the hold is for 1 BTC at 150.00 by then), not just at 100.00 (100.05)
    assert increase == Decimal("150.075")


def test_amend_of_an_order_without_a_hold_is_unknown(ledger: InMemoryLedger) -> None:
    buyer = verified_account(ledger, USD="500")
    never_reserved = order(buyer, Side.BUY, qty=10, price=10_000)
    with pytest.raises(UnknownReservation, match=never_reserved.order_id):
        ledger.reserve_amend(amend(never_reserved, "cmd", qty=20))
    assert usd(ledger, buyer).held == 0


def test_amend_of_another_accounts_order_is_refused(ledger: InMemoryLedger) -> None:
    # Given Alice's order, and Mallory, who knows its id and has money
    alice = verified_account(ledger, USD="500")
    mallory = verified_account(ledger, USD="500")
    buy = order(alice, Side.BUY, qty=10_000, price=10_000)
    ledger.reserve(buy)
    forged = amend(buy, "forged", qty=20_000).__replace__(account_id=mallory)
    # When Mallory amends it in her own name, Then nothing is held from anyone
    with pytest.raises(UnknownReservation):
        ledger.reserve_amend(forged)
    assert usd(ledger, alice).held == Decimal("100.05")
    assert usd(ledger, mallory).held == 0


def test_a_command_id_reused_with_other_terms_conflicts(ledger: InMemoryLedger) -> None:
    buyer = verified_account(ledger, USD="500")
    buy = order(buyer, Side.BUY, qty=10_000, price=10_000)
    ledger.reserve(buy)
    ledger.reserve_amend(amend(buy, "cmd", qty=20_000))
    with pytest.raises(ReservationConflict, match="cmd was reserved with other terms"):
        ledger.reserve_amend(amend(buy, "cmd", qty=30_000))
    assert usd(ledger, buyer).held == Decimal("200.1")


def test_release_gives_back_pending_amend_increases_too(ledger: InMemoryLedger) -> None:
    buyer = verified_account(ledger, USD="500")
    buy = order(buyer, Side.BUY, qty=10_000, price=10_000)
    ledger.reserve(buy)
    ledger.reserve_amend(amend(buy, "cmd", qty=20_000))
    assert ledger.release(buy.order_id) == Decimal("200.1")
    assert usd(ledger, buyer) == Balance("USD", Decimal("500"), Decimal("0"))


@pytest.mark.parametrize("order_type", [OrderType.MARKET, OrderType.STOP])
def test_market_or_stop_buy_holds_at_its_protection_price_or_not_at_all(
    ledger: InMemoryLedger, order_type: OrderType
) -> None:
    buyer = verified_account(ledger, USD="500")
    with pytest.raises(NoProtectionPrice):
        ledger.reserve(order(buyer, Side.BUY, qty=10, order_type=order_type, protected=False))
    assert usd(ledger, buyer).held == 0
    protected = order(buyer, Side.BUY, qty=10, order_type=order_type, protection_price=1_234_500)
    assert ledger.reserve(protected).held == Decimal("12.3511725")


def test_unknown_account_cannot_amend(ledger: InMemoryLedger) -> None:
    ghost = order(new_id("ghost"), Side.BUY, qty=10, price=10_000)
    with pytest.raises(UnknownReservation):
        ledger.reserve_amend(amend(ghost, "cmd", qty=20))
