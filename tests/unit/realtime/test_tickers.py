"""The ``ticker.{symbol}`` channel: one frame per symbol per batch after trades or a top-of-book
change, at most one a second, with the batch's trades folded into the stored bars."""

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from exchange.domain import Side, Trade
from exchange.domain.instruments import Instrument
from exchange.journal.batch import consume
from exchange.market.candles import Bar, add_trade
from exchange.market.ticker import TickerSource
from exchange.realtime.fanout import Broadcaster, Fanout
from exchange.realtime.tickers import TickerPusher
from exchange.wire import JournalRecord, encode_record
from lambdas.fanout.handler import handler as fanout_handler
from tests.unit.realtime.helpers import World
from tests.unit.streams.helpers import (
    CATALOG,
    START_NS,
    LambdaContext,
    Market,
    busy_market,
    kinesis_event,
    records,
)


@dataclass
class Source(TickerSource):
    bars: list[Bar] = field(default_factory=list)
    last: int | None = None
    reads: int = 0
    broken: bool = False

    def minute_bars(self, instrument: Instrument, first_start: int, last_start: int) -> list[Bar]:
        self.reads += 1
        if self.broken:
            raise ConnectionError("candles table unreachable")
        return [bar for bar in self.bars if first_start <= bar.start <= last_start]

    def last_price(self, instrument: Instrument) -> int | None:
        return self.last


@dataclass
class Clock:
    now: int = START_NS + 3600 * 10**9

    def __call__(self) -> int:
        return self.now


def ticker_world(source: Source, clock: Clock) -> tuple[World, Fanout]:
    world = World()
    broadcaster = Broadcaster(world.connections, world.sender)
    tickers = TickerPusher(
        source, world.connections, broadcaster.publish, catalog=CATALOG, clock=clock
    )
    fanout = Fanout(
        broadcaster, world.books, world.cursors, catalog=CATALOG, tracked=world.tracked,
        tickers=tickers,
    )  # fmt: skip
    world.connect("t1")
    world.send("t1", {"action": "subscribe", "channel": "ticker.BTC-USD"})
    world.sender.sent.clear()
    return world, fanout


def tickers(world: World) -> list[dict[str, Any]]:
    return [f for f in world.received("t1") if f["type"] == "ticker"]


def test_a_batch_with_trades_pushes_one_ticker_after_it_with_its_trades_folded_in() -> None:
    # Given a stored bar from an hour ago (the candles consumer has not stored this batch yet)
    hour_ago = START_NS // 10**9 - 3600
    stored = Bar("BTC-USD", "1m", hour_ago // 60 * 60, 6_400_000, 6_420_000, 6_390_000, 6_410_000,
                 1_000, 1, 1, 1)  # fmt: skip
    source, clock = Source([stored]), Clock()
    world, fanout = ticker_world(source, clock)
    # When the busy market's records are consumed, then the batch ends
    market = busy_market()
    market.order("o9", Side.BUY, "0.1", "64000.00", account="dave")
    for record in records(market.events, 4):
        consume(fanout, record, {})
    assert tickers(world) == []
    fanout.flush()
    # Then one ticker frame went out, with the batch's trades and the book's top
    (frame,) = tickers(world)
    assert (frame["channel"], frame["symbol"], frame["seq"]) == (
        "ticker.BTC-USD", "BTC-USD", len(market.events)
    )  # fmt: skip
    assert (frame["open_24h"], frame["last"], frame["high_24h"], frame["low_24h"]) == (
        "64000.00", "65010.00", "65010.00", "63900.00"
    )  # fmt: skip
    assert Decimal(frame["volume_24h"]) == Decimal("0.1") + Decimal("0.8")
    assert frame["trades_24h"] == 1 + 3
    assert (frame["best_bid"], frame["best_bid_qty"]) == ("64000.00", "0.1000")
    assert frame["best_ask"] is None
    assert frame["ts_ns"] == clock.now


def test_tickers_are_pushed_at_most_once_a_second_per_symbol() -> None:
    # Given a ticker pushed for a first batch
    source, clock = Source(), Clock()
    world, fanout = ticker_world(source, clock)
    market = Market()
    market.order("a", Side.SELL, "0.5", "65000.00", account="alice")
    market.order("b", Side.BUY, "0.1", "65000.00", account="bob")
    consume(fanout, JournalRecord.of(market.events), {})
    fanout.flush()
    done = len(market.events)
    # (which the candles consumer stores meanwhile)
    (first,) = [e for e in market.events if isinstance(e, Trade)]
    source.bars = [add_trade(None, first, "1m")]
    # When another trade comes in a batch 0.4 s later
    market.order("c", Side.BUY, "0.2", "65000.00", account="carol")
    consume(fanout, JournalRecord.of(market.events[done:]), {})
    clock.now += 400_000_000
    fanout.flush()
    # Then nothing more goes out until a second has passed; then the latest state does
    assert [f["last"] for f in tickers(world)] == ["65000.00"]
    clock.now += 600_000_000
    fanout.flush()
    assert [(f["seq"], f["trades_24h"]) for f in tickers(world)] == [
        (done, 1), (len(market.events), 2)
    ]  # fmt: skip


def test_a_change_below_the_top_of_the_book_pushes_no_ticker_and_one_at_the_top_does() -> None:
    source, clock = Source(last=6_500_000), Clock()
    world, fanout = ticker_world(source, clock)
    market = Market()
    market.order("a", Side.SELL, "0.5", "65000.00", account="alice")
    consume(fanout, JournalRecord.of(market.events), {})
    fanout.flush()
    clock.now += 10**9
    # When a deeper ask rests, then a better one
    done = len(market.events)
    market.order("b", Side.SELL, "0.5", "65100.00", account="alice")
    consume(fanout, JournalRecord.of(market.events[done:]), {})
    fanout.flush()
    assert len(tickers(world)) == 1
    clock.now += 10**9
    done = len(market.events)
    market.order("c", Side.SELL, "0.1", "64990.00", account="alice")
    consume(fanout, JournalRecord.of(market.events[done:]), {})
    fanout.flush()
    # Then only the new top is pushed; with no bar in 24 h, last is the tape's last trade
    assert [(f["best_ask"], f["last"]) for f in tickers(world)] == [
        ("65000.00", "65000.00"), ("64990.00", "65000.00")
    ]  # fmt: skip


def test_without_subscribers_or_with_a_failing_read_nothing_breaks() -> None:
    source, clock = Source(), Clock()
    world, fanout = ticker_world(source, clock)
    world.send("t1", {"action": "unsubscribe", "channel": "ticker.BTC-USD"})
    market = busy_market()
    consume(fanout, JournalRecord.of(market.events), {})
    fanout.flush()
    assert source.reads == 0  # nobody listens: no candles read
    world.send("t1", {"action": "subscribe", "channel": "ticker.BTC-USD"})
    source.broken = True
    market.order("z", Side.SELL, "0.1", "64000.00", account="zed")
    consume(fanout, JournalRecord.of(market.events[-3:]), {})
    clock.now += 10**9
    assert fanout.flush() == 0
    assert tickers(world) == []


def test_the_handler_flushes_the_tickers_once_per_batch() -> None:
    source, clock = Source(), Clock()
    world, fanout = ticker_world(source, clock)
    market = busy_market()
    batch = kinesis_event([encode_record(r) for r in records(market.events, 2)])
    assert fanout_handler(batch, LambdaContext(), sink=fanout) == {"batchItemFailures": []}
    assert [json.loads(d)["seq"] for _, d in world.sender.sent] == [len(market.events)]
