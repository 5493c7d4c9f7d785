"""OHLCV bars from trades, upserted idempotently."""

import copy
from typing import get_args

from exchange.domain import CANDLE_INTERVALS, CandleInterval, Side, Trade
from exchange.journal.batch import consume
from exchange.market.candles import CandleAggregator, bar_start
from exchange.testing.stores import InMemoryCandleStore, InMemoryCursorStore
from exchange.wire import JournalRecord
from tests.unit.streams.helpers import BTC, CATALOG, START_NS, Market, busy_market, records

MINUTE = 60 * 10**9


def aggregate(events: list, *, size: int = 3) -> tuple[InMemoryCandleStore, CandleAggregator]:  # type: ignore[type-arg]
    store = InMemoryCandleStore()
    sink = CandleAggregator(store, InMemoryCursorStore(), catalog=CATALOG)
    for record in records(events, size):
        consume(sink, record, {})
    return store, sink


def test_bars_hold_open_high_low_close_and_volume_for_every_interval() -> None:
    # Given the busy market's three trades: 0.5 @ 65000, 0.1 @ 65010, 0.2 @ 65010
    market = busy_market()
    store, _ = aggregate(market.events)
    trades = [event for event in market.events if isinstance(event, Trade)]
    # Then each interval's bar(s) hold them, in decimal strings via the instrument
    day = store.bars[("BTC-USD#1d", bar_start(trades[0].ts, "1d"))]
    assert (BTC.format_price(day.open), BTC.format_price(day.high)) == ("65000.00", "65010.00")
    assert (BTC.format_price(day.low), BTC.format_price(day.close)) == ("65000.00", "65010.00")
    assert (BTC.format_qty(day.volume), day.trades) == ("0.8000", 3)
    assert (day.first_seq, day.last_seq) == (trades[0].seq, trades[-1].seq)
    assert {series for series, _ in store.bars} == {f"BTC-USD#{i}" for i in CANDLE_INTERVALS}


def test_the_api_interval_enum_names_exactly_the_intervals_the_consumer_writes() -> None:
    # Given the Literal the REST API (and its OpenAPI enum) validates against, and the intervals
    # the candles consumer keeps a series for
    api_names = set(get_args(CandleInterval))
    # Then they are the same names, each with a positive length that divides a day evenly
    assert api_names == set(CANDLE_INTERVALS)
    assert all(seconds > 0 and 86_400 % seconds == 0 for seconds in CANDLE_INTERVALS.values())


def test_trades_in_different_minutes_make_separate_minute_bars_inside_one_hour() -> None:
    # Given trades one second apart around a minute boundary (the market's clock ticks 1 s)
    market = Market()
    boundary = (START_NS // MINUTE + 1) * MINUTE
    market.ts = iter(range(boundary - 2 * 10**9, boundary + 10 * 10**9, 10**9))  # type: ignore[assignment]
    market.order("m", Side.SELL, "1", "65000.00", account="a")
    for n in range(4):
        market.order(f"t{n}", Side.BUY, "0.1", "65000.00", account="b")
    store, _ = aggregate(market.events)
    minute_bars = sorted(
        (bar for (series, _), bar in store.bars.items() if series.endswith("1m")),
        key=lambda bar: bar.start,
    )
    hour_bars = [bar for (series, _), bar in store.bars.items() if series.endswith("1h")]
    # Then minute bars split the trades, and the hour bar counts them all
    assert sum(bar.trades for bar in minute_bars) == 4
    assert [(bar.start * 10**9 < boundary, bar.trades) for bar in minute_bars] == [
        (True, 1),
        (False, 3),
    ]
    assert [bar.trades for bar in hour_bars] == [4]


def test_replaying_trades_already_counted_changes_no_bar() -> None:
    # Given every bar built
    events = busy_market().events
    store, _ = aggregate(events)
    before = copy.deepcopy(store.bars)
    # When the same records arrive at a fresh consumer whose cursor was lost (bars are the
    # last line of defence: a trade at or below a bar's last_seq is already in)
    replay = CandleAggregator(store, InMemoryCursorStore(), catalog=CATALOG)
    for record in records(events, 5):
        consume(replay, record, {})
    # Then nothing changed
    assert store.bars == before


def test_a_record_without_trades_writes_nothing_but_moves_the_cursor() -> None:
    market = Market()
    market.order("m", Side.SELL, "1", "65000.00", account="a")
    store = InMemoryCandleStore()
    cursors = InMemoryCursorStore()
    consume(CandleAggregator(store, cursors, catalog=CATALOG), JournalRecord.of(market.events), {})
    assert store.bars == {}
    assert cursors.get("candles", "BTC-USD") == len(market.events)
