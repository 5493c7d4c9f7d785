"""Pure hold and fee computation: exact amounts, fees rounded up, holds that always cover."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.domain import OrderType, Side
from exchange.ledger import InvalidAmount, LedgerError, LedgerInconsistency, NoProtectionPrice
from exchange.ledger.holds import Hold, fill, new_hold, resize
from exchange.ledger.money import ceil_to, check_amount, check_instrument, fee_exact, notional
from tests.unit.ledger.helpers import BTC, SCALES, SOL


def hold_for(
    side: Side,
    *,
    qty: int,
    price: int | None = None,
    order_type: OrderType = OrderType.LIMIT,
    protection: int | None = None,
) -> Hold:
    return new_hold(
        order_id="o-1",
        account_id="a-1",
        instrument=BTC,
        side=side,
        order_type=order_type,
        qty_lots=qty,
        price_ticks=price,
        protection_ticks=protection,
        quote_scale=SCALES["USD"],
        base_scale=SCALES["BTC"],
    )


def test_notional_is_exact_ticks_times_lots() -> None:
    # Given 65,000.25 x 0.0003 BTC; When the notional is computed; Then it is exact
    assert notional(BTC, price_ticks=6_500_025, qty_lots=3) == Decimal("19.500075")


def test_fee_rounds_up_to_the_quote_scale_and_a_rebate_rounds_towards_zero() -> None:
    assert ceil_to(fee_exact(Decimal("19.500075"), 5), 8) == Decimal("0.00975004")
    assert ceil_to(fee_exact(Decimal("19.500075"), -1), 8) == Decimal("-0.00195000")


def test_buy_limit_holds_price_times_qty_plus_max_fee() -> None:
    # Given a buy of 1.5 BTC at 40,000.00 on a 2/5 bps instrument
    hold = hold_for(Side.BUY, qty=15_000, price=4_000_000)
    # Then it holds 60,000 plus 5 bps (30), in USD
    assert (hold.asset, hold.held) == ("USD", Decimal("60030"))


def test_sell_holds_base_quantity() -> None:
    hold = hold_for(Side.SELL, qty=15_000, price=4_000_000)
    assert (hold.asset, hold.held) == ("BTC", Decimal("1.5"))


def test_market_buy_holds_at_the_protection_price() -> None:
    hold = hold_for(Side.BUY, qty=10_000, order_type=OrderType.MARKET, protection=5_000_000)
    assert hold.held == Decimal("50025")


def test_market_buy_without_protection_price_is_refused() -> None:
    with pytest.raises(NoProtectionPrice, match="BTC-USD"):
        hold_for(Side.BUY, qty=1, order_type=OrderType.MARKET)


def test_fill_at_a_better_price_releases_the_difference() -> None:
    # Given a buy of 1 BTC at 100.00 (hold 100.05)
    hold = hold_for(Side.BUY, qty=10_000, price=10_000)
    # When half fills at 90.00 as taker (5 bps)
    result = fill(
        hold, BTC, price_ticks=9_000, qty_lots=5_000, fee_bps=5, quote_scale=8, base_scale=8
    )
    # Then 45 + 0.0225 is consumed, 50.025 stays held, and 5 is released
    assert result.fee == Decimal("0.0225")
    assert result.consumed == Decimal("45.0225")
    assert result.after.held == Decimal("50.025")
    assert result.released == Decimal("5.0025")


def test_fill_larger_than_the_open_quantity_is_an_inconsistency() -> None:
    hold = hold_for(Side.SELL, qty=10, price=100)
    with pytest.raises(LedgerInconsistency, match="fill of 11 lots, open 10"):
        fill(hold, BTC, price_ticks=100, qty_lots=11, fee_bps=5, quote_scale=8, base_scale=8)


def test_resize_to_zero_releases_everything() -> None:
    hold = hold_for(Side.BUY, qty=10_000, price=10_000)
    assert resize(hold, BTC, open_lots=0, quote_scale=8, base_scale=8).held == 0


@settings(max_examples=200)
@given(
    limit=st.integers(1, 10_000_000),
    qty=st.integers(1, 100_000),
    fills=st.lists(
        st.tuples(st.integers(0, 100), st.integers(1, 100_000), st.booleans()), max_size=30
    ),
    quote_scale=st.integers(6, 10),
)
def test_many_small_fills_never_cost_more_than_the_hold(
    limit: int, qty: int, fills: list[tuple[int, int, bool]], quote_scale: int
) -> None:
    # Given a buy hold, at a coarse or fine quote scale
    hold = new_hold(
        order_id="o",
        account_id="a",
        instrument=BTC,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty_lots=qty,
        price_ticks=limit,
        protection_ticks=None,
        quote_scale=quote_scale,
        base_scale=8,
    )
    initial = hold.held
    spent = Decimal(0)
    # When it fills many times at or below its limit, as maker or taker
    for discount_pct, wanted, as_taker in fills:
        if hold.open_lots == 0:
            break
        price = max(1, limit - limit * discount_pct // 100)
        lots = min(wanted, hold.open_lots)
        bps = BTC.taker_fee_bps if as_taker else BTC.maker_fee_bps
        result = fill(
            hold,
            BTC,
            price_ticks=price,
            qty_lots=lots,
            fee_bps=bps,
            quote_scale=quote_scale,
            base_scale=8,
        )
        # Then the hold never needs a top-up
        assert result.released >= 0
        spent += result.consumed
        hold = result.after
    # And everything spent plus what is still held never exceeds the original hold
    assert spent + hold.held <= initial
    # And the fee charged is the exact fee rounded up once, not once per fill
    assert hold.fee_charged == ceil_to(hold.fee_accrued, quote_scale)


def test_instrument_finer_than_its_quote_scale_is_refused() -> None:
    # Given SOL-USD, whose smallest notional is 0.00001, and a USD kept to cents
    with pytest.raises(LedgerError, match=r"smallest notional 0\.00001 is finer than USD"):
        check_instrument(SOL, {"USD": 2, "SOL": 9})
    check_instrument(SOL, SCALES)


@pytest.mark.parametrize(
    ("amount", "message"),
    [("0", "must be positive"), ("-1", "must be positive"), ("1.001", "finer than 0.01")],
)
def test_amounts_must_be_positive_and_on_scale(amount: str, message: str) -> None:
    with pytest.raises(InvalidAmount, match=message):
        check_amount(Decimal(amount), 2, asset="USD")
    assert check_amount(Decimal("1.5"), 2, asset="USD") == Decimal("1.50")
