"""Scenarios: protected market and stop orders, the band's own reference, the maximum price, and
a cancel that comes before its order. Each is named after the attack or fault it stops."""

from decimal import Decimal

import pytest

from engine_service.core import Engine
from exchange.domain import (
    ExpireReason,
    OrderAccepted,
    OrderExpired,
    OrderRejected,
    OrderType,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
    Trade,
)
from tests.unit.engine.helpers import (
    INSTRUMENT,
    SYMBOL,
    amend,
    cancel,
    kinds,
    make_instrument,
    market,
    new,
    run,
)

BUY, SELL = Side.BUY, Side.SELL
# An opening reference of 100 (band 90..110), one lot is the minimum order, and only trades of
# 5 lots or more move the band's reference.
GUARDED = make_instrument(min_qty=Decimal(1), reference_price=Decimal(100), band_min_qty=Decimal(5))


def trades(events: list) -> list[tuple[str, int, int]]:  # type: ignore[type-arg]
    return [(e.taker_order_id, e.price, e.qty) for e in events if isinstance(e, Trade)]


def expiry(events: list) -> tuple[int, ExpireReason]:  # type: ignore[type-arg]
    expired = events[-1]
    assert isinstance(expired, OrderExpired)
    return expired.expired_qty, expired.reason


def reason(events: list) -> RejectReason:  # type: ignore[type-arg]
    assert kinds(events) == ["OrderRejected"]
    return events[0].reason  # type: ignore[no-any-return]


def offers(engine: Engine, *levels: tuple[int, int]) -> None:
    for i, (qty, price) in enumerate(levels):
        run(engine, new(f"ask{price}-{i}", SELL, qty, price, account="mm"))


def bids(engine: Engine, *levels: tuple[int, int]) -> None:
    for i, (qty, price) in enumerate(levels):
        run(engine, new(f"bid{price}-{i}", BUY, qty, price, account="mm"))


# -- protected market and stop orders ---------------------------------------------------------
def test_market_buy_stops_at_its_protection_price_and_expires_the_rest() -> None:
    # Given 2 lots offered at each of 100, 101 and 103
    engine = Engine([INSTRUMENT])
    offers(engine, (2, 100), (2, 101), (2, 103))
    # When a market buy of 6 protected at 101 arrives
    events = run(engine, market("m1", BUY, 6, protection=101))
    # Then it buys up to 101, and the 2 it could only get at 103 expire, in the documented order
    assert kinds(events) == [
        "OrderAccepted", "Trade", "BookDelta", "Trade", "BookDelta", "OrderExpired"
    ]  # fmt: skip
    assert events[0].protection_price == 101  # type: ignore[attr-defined]
    assert trades(events) == [("m1", 100, 2), ("m1", 101, 2)]
    assert expiry(events) == (2, ExpireReason.PRICE_PROTECTION)
    assert [level.price for level in engine.l2(SYMBOL).asks] == [103]


def test_market_sell_stops_at_its_protection_price_and_expires_the_rest() -> None:
    engine = Engine([INSTRUMENT])
    bids(engine, (2, 100), (2, 99), (2, 97))
    events = run(engine, market("m1", SELL, 6, protection=99))
    assert trades(events) == [("m1", 100, 2), ("m1", 99, 2)]
    assert expiry(events) == (2, ExpireReason.PRICE_PROTECTION)


def test_protected_market_order_with_nothing_within_its_limit_expires_whole() -> None:
    engine = Engine([INSTRUMENT])
    offers(engine, (2, 105))
    events = run(engine, market("m1", BUY, 4, protection=101))
    assert kinds(events) == ["OrderAccepted", "OrderExpired"]
    assert expiry(events) == (4, ExpireReason.PRICE_PROTECTION)


def test_a_remainder_with_no_liquidity_left_at_all_expires_as_no_liquidity() -> None:
    # Given 2 lots offered, well within the buyer's protection
    engine = Engine([INSTRUMENT])
    offers(engine, (2, 100))
    # When a protected market buy of 5 empties the other side
    events = run(engine, market("m1", BUY, 5, protection=105))
    # Then the 3 left expire for want of liquidity: protection was not what stopped them
    assert expiry(events) == (3, ExpireReason.MARKET_NO_LIQUIDITY)


def test_fok_market_order_not_fillable_within_its_protection_is_killed_whole() -> None:
    engine = Engine([INSTRUMENT])
    offers(engine, (2, 100), (2, 103))
    before = engine.l3(SYMBOL)
    events = run(
        engine,
        new("m1", BUY, 4, None, order_type=OrderType.MARKET, tif=TimeInForce.FOK, protection=101),
    )
    assert expiry(events) == (4, ExpireReason.FOK_NOT_FILLABLE)
    assert engine.l3(SYMBOL).asks == before.asks


def test_triggered_stop_is_protected_like_a_market_order() -> None:
    # Given a buy stop of 3 at 101, protected at 102, and offers at 101, 102 and 104
    engine = Engine([INSTRUMENT])
    accepted = run(
        engine,
        new("st", BUY, 3, None, order_type=OrderType.STOP, stop_price=101, protection=102),
    )
    offers(engine, (2, 101), (2, 102), (5, 104))
    # When a trade prints at 101
    events = run(engine, new("b1", BUY, 2, 101, account="a2"))
    # Then the stop triggers, buys 2 at 102 and the lot it could only get at 104 expires
    assert isinstance(accepted[0], OrderAccepted)
    assert accepted[0].protection_price == 102
    assert kinds(events) == [
        "OrderAccepted", "Trade", "BookDelta", "OrderTriggered", "Trade", "BookDelta",
        "OrderExpired",
    ]  # fmt: skip
    assert trades(events) == [("b1", 101, 2), ("st", 102, 2)]
    assert expiry(events) == (1, ExpireReason.PRICE_PROTECTION)


def test_unprotected_market_order_from_an_old_journal_is_held_to_the_band() -> None:
    # Given a last trade at 100, then offers at 104 and 110 (both inside the band then)
    engine = Engine([INSTRUMENT])
    run(engine, new("s0", SELL, 2, 100, account="a2"), new("b0", BUY, 2, 100))
    offers(engine, (3, 104), (3, 110))
    # And a trade at 95 that moves the band to 86..104
    run(engine, new("b1", BUY, 2, 95, account="a3"), new("s1", SELL, 2, 95, account="a2"))
    assert engine.band_reference(SYMBOL) == 95
    # When a market buy of 5 without a protection price arrives
    events = run(engine, market("m1", BUY, 5))
    # Then it stops at the band's edge, 104, fixed when it started to take
    assert trades(events) == [("m1", 104, 3)]
    assert expiry(events) == (2, ExpireReason.PRICE_PROTECTION)
    assert [level.price for level in engine.l2(SYMBOL).asks] == [110]


def test_protection_price_beyond_the_band_is_tightened_to_the_band() -> None:
    engine = Engine([INSTRUMENT])
    run(engine, new("s0", SELL, 2, 100, account="a2"), new("b0", BUY, 2, 100))
    offers(engine, (3, 104), (3, 110))
    run(engine, new("b1", BUY, 2, 95, account="a3"), new("s1", SELL, 2, 95, account="a2"))
    events = run(engine, market("m1", BUY, 5, protection=200))
    assert trades(events) == [("m1", 104, 3)]
    assert expiry(events) == (2, ExpireReason.PRICE_PROTECTION)


def test_unprotected_market_order_with_no_reference_at_all_sweeps_as_before() -> None:
    engine = Engine([INSTRUMENT])
    offers(engine, (2, 100), (2, 1_000))
    events = run(engine, market("m1", BUY, 6))
    assert trades(events) == [("m1", 100, 2), ("m1", 1_000, 2)]
    assert expiry(events) == (2, ExpireReason.MARKET_NO_LIQUIDITY)


# -- the band's reference -----------------------------------------------------------------------
def test_one_lot_self_trades_cannot_walk_the_band_reference() -> None:
    # Given the opening reference 100, band 90..110
    engine = Engine([GUARDED])
    # When an account trades one lot with itself at the top of the band
    run(engine, new("s1", SELL, 1, 110), new("b1", BUY, 1, 110, stp=StpMode.NONE))
    # Then the last price moved, the band's reference did not
    assert (engine.last_price(SYMBOL), engine.band_reference(SYMBOL)) == (110, 100)
    # And the next step of the walk, inside a band around 110, is refused
    assert reason(run(engine, new("s2", SELL, 1, 121))) is RejectReason.PRICE_OUT_OF_BAND


def test_a_trade_of_the_band_min_qty_moves_the_band_reference() -> None:
    engine = Engine([GUARDED])
    run(engine, new("s1", SELL, 5, 105, account="a2"), new("b1", BUY, 5, 105))
    assert engine.band_reference(SYMBOL) == 105
    assert kinds(run(engine, new("b2", BUY, 1, 115))) == ["OrderAccepted", "BookDelta"]


def test_a_sweep_of_small_fills_does_not_move_the_band_reference() -> None:
    # Given one-lot offers at 101..104
    engine = Engine([GUARDED])
    offers(engine, (1, 101), (1, 102), (1, 103), (1, 104))
    # When one buy of 4 takes them all: four trades of one lot each
    run(engine, new("b1", BUY, 4, 104, account="a2"))
    # Then each fill is below the minimum, so the reference stays
    assert (engine.last_price(SYMBOL), engine.band_reference(SYMBOL)) == (104, 100)


def test_opening_reference_bands_orders_before_the_first_trade() -> None:
    # Given an instrument listed with a reference price of 100 and no trade yet
    engine = Engine([GUARDED])
    assert (engine.last_price(SYMBOL), engine.band_reference(SYMBOL)) == (None, 100)
    # When limits arrive at the band's edges and beyond them
    # Then the edges are accepted and beyond is refused
    for order_id, side, price in (("b1", BUY, 90), ("s1", SELL, 110)):
        assert isinstance(run(engine, new(order_id, side, 1, price))[0], OrderAccepted)
    for order_id, side, price in (("b2", BUY, 111), ("s2", SELL, 89)):
        assert reason(run(engine, new(order_id, side, 1, price))) is RejectReason.PRICE_OUT_OF_BAND


def test_opening_reference_also_bands_an_amend_before_the_first_trade() -> None:
    engine = Engine([GUARDED])
    run(engine, new("b1", BUY, 1, 95))
    assert reason(run(engine, amend("b1", price=80))) is RejectReason.PRICE_OUT_OF_BAND


def test_stops_still_trigger_on_a_trade_too_small_to_move_the_band() -> None:
    engine = Engine([GUARDED])
    run(
        engine,
        new("st", BUY, 1, 105, order_type=OrderType.STOP_LIMIT, stop_price=102, account="a3"),
    )
    events = run(engine, new("s1", SELL, 1, 102, account="a2"), new("b1", BUY, 1, 102))
    assert "OrderTriggered" in kinds(events)
    assert engine.band_reference(SYMBOL) == 100


# -- the maximum price --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "order",
    [
        new("o1", price=10_001),
        new("o1", price=None, order_type=OrderType.STOP, stop_price=10_001, protection=100),
        new("o1", price=None, order_type=OrderType.MARKET, protection=10_001),
        new("o1", price=90, order_type=OrderType.STOP_LIMIT, stop_price=10_001),
    ],
    ids=["price", "stop_price", "protection_price", "stop_limit_stop_price"],
)
def test_a_price_above_the_maximum_is_refused_even_with_no_band(order: object) -> None:
    engine = Engine([INSTRUMENT])
    assert reason(run(engine, order)) is RejectReason.INVALID_PRICE  # type: ignore[arg-type]


def test_an_amend_above_the_maximum_price_is_refused_and_the_order_kept() -> None:
    engine = Engine([INSTRUMENT])
    run(engine, new("b1", BUY, 2, 100))
    assert reason(run(engine, amend("b1", price=10_001))) is RejectReason.INVALID_PRICE
    assert engine.l2(SYMBOL).bids[0].price == 100


@pytest.mark.parametrize("protection", [0, -1])
def test_a_non_positive_protection_price_is_refused(protection: int) -> None:
    engine = Engine([INSTRUMENT])
    assert reason(run(engine, market("m1", BUY, 2, protection))) is RejectReason.INVALID_PRICE


def test_a_limit_order_with_a_protection_price_is_refused() -> None:
    engine = Engine([INSTRUMENT])
    assert reason(run(engine, new("o1", protection=100))) is RejectReason.INVALID_PRICE


def test_an_instrument_without_a_maximum_price_takes_any_price() -> None:
    engine = Engine([make_instrument(max_price=None)])
    assert kinds(run(engine, new("o1", price=10**12))) == ["OrderAccepted", "BookDelta"]


# -- a cancel that comes before its order --------------------------------------------------------
def test_cancel_before_new_order_makes_the_late_order_a_duplicate() -> None:
    # Given a cancel for an order id the engine has never seen (the API settling an ambiguous
    # publish)
    engine = Engine([INSTRUMENT])
    refused = run(engine, cancel("late", command_id="k-1"))
    # Then the cancel is refused as UNKNOWN_ORDER, naming its command
    assert isinstance(refused[0], OrderRejected)
    assert (refused[0].reason, refused[0].command_id) == (RejectReason.UNKNOWN_ORDER, "k-1")
    # When the order arrives after all
    events = run(engine, new("late", BUY, 2, 100))
    # Then it is refused, saying why, and never reaches the book
    assert reason(events) is RejectReason.DUPLICATE_ORDER_ID
    assert "cancelled before" in events[0].detail  # type: ignore[attr-defined]
    assert engine.l2(SYMBOL).bids == []
    assert engine.is_duplicate(new("late", BUY, 2, 100))


def test_an_amend_before_its_new_order_takes_the_order_id_too() -> None:
    engine = Engine([INSTRUMENT])
    assert reason(run(engine, amend("late", qty=3))) is RejectReason.UNKNOWN_ORDER
    assert reason(run(engine, new("late", BUY, 2, 100))) is RejectReason.DUPLICATE_ORDER_ID


def test_a_redelivered_early_cancel_is_dropped_and_the_late_order_still_refused() -> None:
    engine = Engine([INSTRUMENT])
    run(engine, cancel("late", command_id="k-1"))
    assert run(engine, cancel("late", command_id="k-1")) == []
    assert reason(run(engine, new("late", BUY, 2, 100))) is RejectReason.DUPLICATE_ORDER_ID


def test_a_cancel_of_a_closed_order_is_unknown_but_not_cancelled_early() -> None:
    engine = Engine([INSTRUMENT])
    run(engine, new("o1", BUY, 2, 100), cancel("o1"))
    events = run(engine, cancel("o1"))
    assert reason(events) is RejectReason.UNKNOWN_ORDER
    duplicate = run(engine, new("o1", BUY, 2, 100))
    assert "already used" in duplicate[0].detail  # type: ignore[attr-defined]


def test_an_early_cancelled_id_is_forgotten_with_the_dedupe_window() -> None:
    # Given a window of two ids, and an early cancel pushed out of it by two orders
    engine = Engine([INSTRUMENT], dedupe_window=2)
    run(engine, cancel("late"), new("o1", BUY, 2, 90), new("o2", BUY, 2, 91))
    # Then the id and its flag are both gone, so the window stays bounded
    assert engine.books[SYMBOL].seen_orders.flagged == set()
    assert kinds(run(engine, new("late", BUY, 2, 92))) == ["OrderAccepted", "BookDelta"]
