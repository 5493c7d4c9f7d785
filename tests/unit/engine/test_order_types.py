"""Scenarios: order types, time in force, stops, amends, self-trade prevention and the band."""

import pytest

from engine_service.core import Engine
from exchange.domain import (
    BookDelta,
    CancelReason,
    ExpireReason,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderTriggered,
    OrderType,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
    Trade,
)
from tests.unit.engine.helpers import INSTRUMENT, SYMBOL, amend, kinds, new, run

BUY, SELL = Side.BUY, Side.SELL


@pytest.fixture
def engine() -> Engine:
    return Engine([INSTRUMENT])


def queue(engine: Engine, side: Side, price: int) -> list[str]:
    view = engine.l3(SYMBOL, depth=100)
    for level in view.bids if side is BUY else view.asks:
        if level.price == price:
            return [order.order_id for order in level.orders]
    return []


def test_limit_gtc_rests_when_nothing_crosses(engine: Engine) -> None:
    # When a buy limit arrives on an empty book
    events = run(engine, new("b1", BUY, 5, 100))
    # Then it is accepted and rests: one new level
    assert kinds(events) == ["OrderAccepted", "BookDelta"]
    assert events[1] == BookDelta(symbol=SYMBOL, ts=events[1].ts, seq=2, side=BUY, price=100,
                                  qty=5, orders=1)  # fmt: skip


def test_crossing_limit_trades_at_makers_price_then_rests_its_remainder(engine: Engine) -> None:
    # Given a sell of 3 at 99
    run(engine, new("s1", SELL, 3, 99, account="a2"))
    # When a buy of 5 at 101 arrives
    events = run(engine, new("b1", BUY, 5, 101))
    # Then it buys 3 at the maker's 99, and the 2 left rest at 101
    assert kinds(events) == ["OrderAccepted", "Trade", "BookDelta", "BookDelta"]
    trade = events[1]
    assert isinstance(trade, Trade)
    assert (trade.price, trade.qty, trade.maker_order_id, trade.aggressor_side) == (
        99,
        3,
        "s1",
        BUY,
    )
    assert (events[2].side, events[2].price, events[2].qty, events[2].orders) == (SELL, 99, 0, 0)  # type: ignore[attr-defined]
    assert (events[3].side, events[3].price, events[3].qty) == (BUY, 101, 2)  # type: ignore[attr-defined]


def test_ioc_remainder_expires(engine: Engine) -> None:
    # Given a sell of 3 at 100
    run(engine, new("s1", SELL, 3, 100, account="a2"))
    # When an IOC buy of 5 at 100 arrives
    events = run(engine, new("b1", BUY, 5, 100, tif=TimeInForce.IOC))
    # Then 3 trade and 2 expire; nothing rests
    assert kinds(events) == ["OrderAccepted", "Trade", "BookDelta", "OrderExpired"]
    expired = events[-1]
    assert isinstance(expired, OrderExpired)
    assert (expired.expired_qty, expired.reason) == (2, ExpireReason.IOC_REMAINDER)
    assert engine.l2(SYMBOL).bids == []


def test_fok_that_cannot_fill_fully_leaves_book_untouched(engine: Engine) -> None:
    # Given 4 lots offered over two levels
    run(engine, new("s1", SELL, 2, 100, account="a2"), new("s2", SELL, 2, 101, account="a2"))
    before = engine.l3(SYMBOL)
    # When a FOK buy of 5 up to 101 arrives
    events = run(engine, new("b1", BUY, 5, 101, tif=TimeInForce.FOK))
    # Then it expires whole, with no trade, and the book is as it was
    assert kinds(events) == ["OrderAccepted", "OrderExpired"]
    assert events[1].reason is ExpireReason.FOK_NOT_FILLABLE  # type: ignore[attr-defined]
    assert events[1].expired_qty == 5  # type: ignore[attr-defined]
    assert engine.l3(SYMBOL).asks == before.asks


def test_fok_that_can_fill_fully_trades_across_levels(engine: Engine) -> None:
    run(engine, new("s1", SELL, 2, 100, account="a2"), new("s2", SELL, 3, 101, account="a2"))
    events = run(engine, new("b1", BUY, 5, 101, tif=TimeInForce.FOK))
    assert kinds(events) == ["OrderAccepted", "Trade", "BookDelta", "Trade", "BookDelta"]
    assert [e.price for e in events if isinstance(e, Trade)] == [100, 101]
    assert engine.l2(SYMBOL).asks == []


def test_market_order_sweeps_levels_and_its_remainder_expires(engine: Engine) -> None:
    # Given 2 @ 100 and 2 @ 105 offered
    run(engine, new("s1", SELL, 2, 100, account="a2"), new("s2", SELL, 2, 105, account="a2"))
    # When a market buy of 6 arrives
    events = run(engine, new("m1", BUY, 6, None, order_type=OrderType.MARKET))
    # Then it takes both levels and the 2 left expire instead of resting
    assert [e.qty for e in events if isinstance(e, Trade)] == [2, 2]
    assert isinstance(events[-1], OrderExpired)
    assert (events[-1].expired_qty, events[-1].reason) == (2, ExpireReason.MARKET_NO_LIQUIDITY)
    assert engine.l2(SYMBOL).bids == engine.l2(SYMBOL).asks == []


def test_market_order_on_an_empty_book_expires_whole(engine: Engine) -> None:
    events = run(engine, new("m1", SELL, 4, None, order_type=OrderType.MARKET))
    assert kinds(events) == ["OrderAccepted", "OrderExpired"]
    assert events[1].expired_qty == 4  # type: ignore[attr-defined]


def test_post_only_that_would_take_is_rejected_and_book_unchanged(engine: Engine) -> None:
    run(engine, new("s1", SELL, 2, 100, account="a2"))
    events = run(engine, new("b1", BUY, 2, 100, post_only=True))
    assert kinds(events) == ["OrderRejected"]
    assert events[0].reason is RejectReason.POST_ONLY_WOULD_TAKE  # type: ignore[attr-defined]
    assert engine.l2(SYMBOL).asks[0].qty == 2


def test_post_only_that_does_not_cross_rests(engine: Engine) -> None:
    run(engine, new("s1", SELL, 2, 100, account="a2"))
    events = run(engine, new("b1", BUY, 2, 99, post_only=True))
    assert kinds(events) == ["OrderAccepted", "BookDelta"]


def test_buy_stop_triggers_when_last_trade_reaches_stop_and_becomes_market(engine: Engine) -> None:
    # Given a buy stop at 101 held, and offers at 101 and 102
    run(
        engine,
        new("stop", BUY, 2, None, order_type=OrderType.STOP, stop_price=101, account="a3"),
        new("s1", SELL, 2, 101, account="a2"),
        new("s2", SELL, 5, 102, account="a2"),
    )
    # When a trade prints at 101
    events = run(engine, new("b1", BUY, 2, 101))
    # Then the stop triggers after the trade and buys at market
    assert kinds(events) == ["OrderAccepted", "Trade", "BookDelta", "OrderTriggered", "Trade",
                             "BookDelta"]  # fmt: skip
    triggered = events[3]
    assert isinstance(triggered, OrderTriggered)
    assert (triggered.order_id, triggered.last_price) == ("stop", 101)
    assert (events[4].taker_order_id, events[4].price, events[4].qty) == ("stop", 102, 2)  # type: ignore[attr-defined]


def test_stop_does_not_trigger_before_last_trade_reaches_it(engine: Engine) -> None:
    run(
        engine,
        new("stop", SELL, 2, None, order_type=OrderType.STOP, stop_price=98, account="a3"),
        new("b0", BUY, 2, 99, account="a2"),
    )
    events = run(engine, new("s1", SELL, 2, 99))
    assert "OrderTriggered" not in kinds(events)


def test_stop_limit_triggers_into_a_resting_limit(engine: Engine) -> None:
    run(
        engine,
        new("sl", SELL, 3, 97, order_type=OrderType.STOP_LIMIT, stop_price=98, account="a3"),
        new("b0", BUY, 2, 98, account="a2"),
    )
    events = run(engine, new("s1", SELL, 2, 98))
    assert kinds(events)[-2:] == ["OrderTriggered", "BookDelta"]
    assert engine.l2(SYMBOL).asks[0].price == 97


def test_stops_trigger_in_stop_price_order_then_arrival(engine: Engine) -> None:
    # Given three buy stops: 102 first, then 101, then another 101
    stop = OrderType.STOP_LIMIT
    run(
        engine,
        new("st102", BUY, 2, 90, order_type=stop, stop_price=102, account="a3"),
        new("st101a", BUY, 2, 90, order_type=stop, stop_price=101, account="a3"),
        new("st101b", BUY, 2, 90, order_type=stop, stop_price=101, account="a3"),
        new("s1", SELL, 2, 103, account="a2"),
    )
    # When a trade prints at 103, beyond all of them
    events = run(engine, new("b1", BUY, 2, 103))
    # Then they trigger nearest-first, ties by arrival
    triggered = [e.order_id for e in events if isinstance(e, OrderTriggered)]
    assert triggered == ["st101a", "st101b", "st102"]
    assert queue(engine, BUY, 90) == ["st101a", "st101b", "st102"]


def test_triggered_stop_whose_trade_reaches_another_stop_triggers_it_too(engine: Engine) -> None:
    market_stop = OrderType.STOP
    run(
        engine,
        new("st1", BUY, 2, None, order_type=market_stop, stop_price=100, account="a3"),
        new("st2", BUY, 2, None, order_type=market_stop, stop_price=101, account="a3"),
        new("s1", SELL, 2, 100, account="a2"),
        new("s2", SELL, 2, 101, account="a2"),
        new("s3", SELL, 2, 102, account="a2"),
    )
    events = run(engine, new("b1", BUY, 2, 100))
    trades = [(e.taker_order_id, e.price) for e in events if isinstance(e, Trade)]
    assert trades == [("b1", 100), ("st1", 101), ("st2", 102)]


def test_stop_placed_through_the_last_price_triggers_at_once(engine: Engine) -> None:
    run(engine, new("s1", SELL, 2, 100, account="a2"), new("b1", BUY, 2, 100))
    events = run(engine, new("st", SELL, 2, None, order_type=OrderType.STOP, stop_price=101))
    assert kinds(events) == ["OrderAccepted", "OrderTriggered", "OrderExpired"]


def test_held_stop_can_be_cancelled_but_not_amended(engine: Engine) -> None:
    from tests.unit.engine.helpers import cancel  # noqa: PLC0415

    run(engine, new("st", BUY, 2, None, order_type=OrderType.STOP, stop_price=105))
    rejected = run(engine, amend("st", qty=3))
    assert rejected[0].reason is RejectReason.INVALID_ORDER  # type: ignore[attr-defined]
    events = run(engine, cancel("st"))
    assert kinds(events) == ["OrderCancelled"]  # not on the book: no delta
    assert events[0].cancelled_qty == 2  # type: ignore[attr-defined]


def test_amend_qty_down_keeps_priority(engine: Engine) -> None:
    # Given two bids at 100, b1 first
    run(engine, new("b1", BUY, 5, 100), new("b2", BUY, 5, 100, account="a2"))
    # When b1 is amended down to 3
    events = run(engine, amend("b1", qty=3))
    # Then it stays first in the queue, and the level shrinks by 2
    assert kinds(events) == ["OrderAmended", "BookDelta"]
    assert (events[0].qty, events[0].open_qty) == (3, 3)  # type: ignore[attr-defined]
    assert events[1].qty == 8  # type: ignore[attr-defined]
    assert queue(engine, BUY, 100) == ["b1", "b2"]
    fill = run(engine, new("s1", SELL, 2, 100, account="a3"))
    assert fill[1].maker_order_id == "b1"  # type: ignore[attr-defined]


def test_amend_qty_up_loses_priority(engine: Engine) -> None:
    run(engine, new("b1", BUY, 5, 100), new("b2", BUY, 5, 100, account="a2"))
    events = run(engine, amend("b1", qty=7))
    assert kinds(events) == ["OrderAmended", "BookDelta", "BookDelta"]
    assert queue(engine, BUY, 100) == ["b2", "b1"]


def test_amend_price_loses_priority_and_matches_again(engine: Engine) -> None:
    # Given a bid at 98 and an offer at 100
    run(engine, new("b1", BUY, 5, 98), new("s1", SELL, 2, 100, account="a2"))
    # When the bid is moved up to 100
    events = run(engine, amend("b1", price=100))
    # Then it trades 2 at 100 and the rest, 3, rests at 100
    assert kinds(events) == ["OrderAmended", "BookDelta", "Trade", "BookDelta", "BookDelta"]
    assert isinstance(events[0], OrderAmended)
    assert (events[0].price, events[0].open_qty) == (100, 5)
    assert engine.l2(SYMBOL).bids[0].price == 100
    assert engine.l2(SYMBOL).bids[0].qty == 3


def test_amend_to_at_or_below_filled_quantity_cancels_the_order(engine: Engine) -> None:
    # Given a bid of 5 of which 3 have filled
    run(engine, new("b1", BUY, 5, 100), new("s1", SELL, 3, 100, account="a2"))
    # When it is amended to a total of 3
    events = run(engine, amend("b1", qty=3))
    # Then the 2 still open are cancelled
    assert kinds(events) == ["OrderCancelled", "BookDelta"]
    cancelled = events[0]
    assert isinstance(cancelled, OrderCancelled)
    assert (cancelled.cancelled_qty, cancelled.reason) == (2, CancelReason.AMENDED_TO_FILLED)
    assert engine.l2(SYMBOL).bids == []


def test_amend_of_post_only_across_the_book_is_rejected_and_the_order_kept(engine: Engine) -> None:
    run(engine, new("b1", BUY, 5, 98, post_only=True), new("s1", SELL, 2, 100, account="a2"))
    events = run(engine, amend("b1", price=100))
    assert events[0].reason is RejectReason.POST_ONLY_WOULD_TAKE  # type: ignore[attr-defined]
    assert queue(engine, BUY, 98) == ["b1"]


def test_stp_cancel_newest_cancels_the_taker_and_keeps_the_maker(engine: Engine) -> None:
    run(engine, new("s1", SELL, 2, 100))
    events = run(engine, new("b1", BUY, 3, 100, stp=StpMode.CANCEL_NEWEST))
    assert kinds(events) == ["OrderAccepted", "OrderCancelled"]
    assert (events[1].order_id, events[1].cancelled_qty) == ("b1", 3)  # type: ignore[attr-defined]
    assert queue(engine, SELL, 100) == ["s1"]


def test_stp_cancel_oldest_removes_maker_and_continues_matching(engine: Engine) -> None:
    # Given an own offer ahead of another account's at 100
    run(engine, new("own", SELL, 2, 100), new("other", SELL, 2, 100, account="a2"))
    # When a buy of 2 with CANCEL_OLDEST arrives
    events = run(engine, new("b1", BUY, 2, 100, stp=StpMode.CANCEL_OLDEST))
    # Then the own maker is cancelled and the buy trades with the other account's offer
    assert kinds(events) == ["OrderAccepted", "OrderCancelled", "BookDelta", "Trade", "BookDelta"]
    cancelled = events[1]
    assert isinstance(cancelled, OrderCancelled)
    assert (cancelled.order_id, cancelled.reason) == ("own", CancelReason.SELF_TRADE_PREVENTION)
    assert events[3].maker_order_id == "other"  # type: ignore[attr-defined]


def test_stp_cancel_both_cancels_maker_and_taker(engine: Engine) -> None:
    run(engine, new("own", SELL, 2, 100), new("other", SELL, 2, 100, account="a2"))
    events = run(engine, new("b1", BUY, 2, 100, stp=StpMode.CANCEL_BOTH))
    assert kinds(events) == ["OrderAccepted", "OrderCancelled", "BookDelta", "OrderCancelled"]
    assert [e.order_id for e in events if isinstance(e, OrderCancelled)] == ["own", "b1"]
    assert queue(engine, SELL, 100) == ["other"]


def test_stp_none_allows_a_self_trade(engine: Engine) -> None:
    run(engine, new("own", SELL, 2, 100))
    events = run(engine, new("b1", BUY, 2, 100, stp=StpMode.NONE))
    assert "Trade" in kinds(events)


def test_limit_beyond_the_band_around_the_last_trade_is_rejected(engine: Engine) -> None:
    # Given a last trade at 100 and a 10% band: 90..110
    run(engine, new("s1", SELL, 2, 100, account="a2"), new("b1", BUY, 2, 100))
    assert INSTRUMENT.band(100) == (90, 110)
    # When limits arrive at the edges and just beyond
    at_edges = [run(engine, new(f"e{p}", BUY, 2, p)) for p in (90, 110)]
    beyond = [run(engine, new(f"x{p}", BUY, 2, p)) for p in (89, 111)]
    # Then the edges are accepted and beyond is rejected
    assert all(isinstance(events[0], OrderAccepted) for events in at_edges)
    assert [events[0].reason for events in beyond] == [RejectReason.PRICE_OUT_OF_BAND] * 2  # type: ignore[attr-defined]


def test_no_band_applies_before_the_first_trade(engine: Engine) -> None:
    events = run(engine, new("b1", BUY, 2, 1), new("b2", BUY, 2, 10_000))
    assert isinstance(events[0], OrderAccepted)


def test_band_also_limits_an_amended_price(engine: Engine) -> None:
    run(
        engine, new("s1", SELL, 2, 100, account="a2"), new("b1", BUY, 2, 100), new("b2", BUY, 2, 95)
    )
    events = run(engine, amend("b2", price=80))
    assert isinstance(events[0], OrderRejected)
    assert events[0].reason is RejectReason.PRICE_OUT_OF_BAND
