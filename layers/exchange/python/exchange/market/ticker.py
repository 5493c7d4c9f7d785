"""24-hour ticker statistics of a market, from its 1-minute bars and its L2 book.

The window is rolling 24 h at 1-minute granularity. At ``now`` a ticker counts the 1-minute bars
whose start ``s`` (epoch seconds) satisfies ``now - 24 h <= s <= now``, compared exactly in
nanoseconds. A bar starting at ``s`` holds the trades of ``[s, s + 60 s)``, so the window holds
every trade from the first minute boundary at or after ``now - 24 h`` up to ``now``: between
23 h 59 min and 24 h of trades, never one older than 24 h. That is at most 1,441 bars (1,441 only
when ``now`` falls on a minute boundary: the bar starting at ``now - 24 h`` and the one starting at
``now`` both count).

- open: the first bar's open; high/low: over the bars; last: the last bar's close;
  volume: the bars' base quantity; quote volume: the bars' price x qty, exact, or None when a bar
  of the window predates notional tracking (``Bar.notional`` is None);
  change: last - open; change %: (last - open) / open x 100, rounded half-even to 2 places.
- No bar in the window: last, open, high and low are the last trade's price when one is known
  (change 0), else None; volume 0.
- Best bid/ask and their quantities: the top of the L2 book (None when a side is empty or no book
  was published).

>>> from decimal import Decimal
>>> from exchange.domain.instruments import Instrument
>>> from exchange.market.candles import Bar
>>> btc = Instrument(symbol="BTC-USD", base="BTC", quote="USD", tick_size=Decimal("0.01"),
...                  lot_size=Decimal("0.0001"), min_qty=Decimal("0.0001"), max_qty=Decimal("100"),
...                  price_band_pct=Decimal("10"))
>>> now = 1_700_000_000 * NANOS
>>> bar = Bar("BTC-USD", "1m", 1_699_999_980, 100, 120, 90, 110, 5, 2, 1, 2, notional=525)
>>> ticker_json(btc, compute_ticker(btc, [bar], book=None, now_ns=now))["change_pct_24h"]
'10.00'
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Final

from exchange.domain.candles import CANDLE_INTERVALS, CandleInterval
from exchange.domain.instruments import Instrument
from exchange.domain.numbers import plain, steps_to_decimal
from exchange.l2 import BookLevel, L2Book

if TYPE_CHECKING:
    # Types only: the markets handler imports this module at cold start, and the book store
    # (redis), the bars' consumer (the journal) and the tables (pynamodb) load at first use.
    from exchange.market.books import BookStore
    from exchange.market.candles import Bar

NANOS: Final = 10**9

WINDOW_SECONDS: Final = 86_400
MINUTE_BAR: Final[CandleInterval] = "1m"
BAR_SECONDS: Final = CANDLE_INTERVALS[MINUTE_BAR]
# The most 1-minute bars a window can hold (see the module docstring).
MAX_WINDOW_BARS: Final = WINDOW_SECONDS // BAR_SECONDS + 1
CHANGE_PCT_PLACES: Final = 2


@dataclass(frozen=True, slots=True)
class Ticker:
    """A market's 24 h statistics at ``ts`` (epoch nanoseconds), exact decimals at the
    instrument's precision. Prices in the quote asset, ``volume_24h`` in the base asset."""

    symbol: str
    last: Decimal | None
    best_bid: Decimal | None
    best_bid_qty: Decimal | None
    best_ask: Decimal | None
    best_ask_qty: Decimal | None
    open_24h: Decimal | None
    high_24h: Decimal | None
    low_24h: Decimal | None
    volume_24h: Decimal
    quote_volume_24h: Decimal | None
    change_24h: Decimal | None
    change_pct_24h: Decimal | None
    trades_24h: int
    ts: int


def window_starts(now_ns: int) -> tuple[int, int]:
    """The first and last 1-minute bar start (epoch seconds, inclusive, on minute boundaries) a
    ticker at ``now_ns`` counts."""
    minute_ns = BAR_SECONDS * NANOS
    earliest_ns = now_ns - WINDOW_SECONDS * NANOS
    first = -(-earliest_ns // minute_ns) * BAR_SECONDS  # ceil
    return first, now_ns // minute_ns * BAR_SECONDS


def in_window(bars: Iterable[Bar], symbol: str, now_ns: int) -> list[Bar]:
    """The 1-minute bars of ``symbol`` inside the window, oldest first, one per start (the one
    that counts the most trades when a start comes twice, e.g. a bar and its later update)."""
    first, last = window_starts(now_ns)
    by_start: dict[int, Bar] = {}
    for bar in bars:
        if bar.symbol != symbol or bar.interval != MINUTE_BAR or not first <= bar.start <= last:
            continue
        kept = by_start.get(bar.start)
        if kept is None or bar.last_seq > kept.last_seq:
            by_start[bar.start] = bar
    return [by_start[start] for start in sorted(by_start)]


def compute_ticker(
    instrument: Instrument,
    bars: Iterable[Bar],
    *,
    book: L2Book | None,
    now_ns: int,
    last_price: int | None = None,
) -> Ticker:
    """The ticker at ``now_ns`` from 1-minute ``bars`` (any order; those outside the window are
    ignored), the L2 ``book``, and ``last_price`` (ticks of the latest trade, used only when no bar
    is in the window). Pure: no I/O, no clock."""
    window = in_window(bars, instrument.symbol, now_ns)
    price = instrument.ticks_to_price
    bid = _top(book.bids if book else [])
    ask = _top(book.asks if book else [])
    open_: int | None = last_price
    high, low, last = last_price, last_price, last_price
    notional: int | None = 0
    if window:
        open_, last = window[0].open, window[-1].close
        high, low = max(b.high for b in window), min(b.low for b in window)
        notionals = [b.notional for b in window]
        notional = None if None in notionals else sum(n for n in notionals if n is not None)
    change = None if open_ is None or last is None else (last - open_, _pct(open_, last))
    return Ticker(
        symbol=instrument.symbol,
        last=None if last is None else price(last),
        best_bid=None if bid is None else price(bid.price),
        best_bid_qty=None if bid is None else instrument.lots_to_qty(bid.qty),
        best_ask=None if ask is None else price(ask.price),
        best_ask_qty=None if ask is None else instrument.lots_to_qty(ask.qty),
        open_24h=None if open_ is None else price(open_),
        high_24h=None if high is None else price(high),
        low_24h=None if low is None else price(low),
        volume_24h=instrument.lots_to_qty(sum(b.volume for b in window)),
        quote_volume_24h=None if notional is None else _quote(instrument, notional),
        change_24h=None if change is None else price(change[0]),
        change_pct_24h=None if change is None else change[1],
        trades_24h=sum(b.trades for b in window),
        ts=now_ns,
    )


def ticker_json(instrument: Instrument, ticker: Ticker) -> dict[str, object]:
    """The ticker as the REST API and the ``ticker.{symbol}`` channel send it: decimal strings at
    the instrument's precision (prices at the tick's places, quantities at the lot's, the quote
    volume at both together), null where unknown, ``ts_ns`` the epoch nanoseconds of ``ts``."""
    tick, lot = instrument.tick_size, instrument.lot_size

    def text(value: Decimal | None, step: Decimal) -> str | None:
        return None if value is None else plain(value.quantize(step))

    return {
        "symbol": ticker.symbol,
        "last": text(ticker.last, tick),
        "best_bid": text(ticker.best_bid, tick),
        "best_bid_qty": text(ticker.best_bid_qty, lot),
        "best_ask": text(ticker.best_ask, tick),
        "best_ask_qty": text(ticker.best_ask_qty, lot),
        "open_24h": text(ticker.open_24h, tick),
        "high_24h": text(ticker.high_24h, tick),
        "low_24h": text(ticker.low_24h, tick),
        "volume_24h": text(ticker.volume_24h, lot),
        "quote_volume_24h": text(ticker.quote_volume_24h, _quote(instrument, 1)),
        "change_24h": text(ticker.change_24h, tick),
        "change_pct_24h": None if ticker.change_pct_24h is None else plain(ticker.change_pct_24h),
        "trades_24h": ticker.trades_24h,
        "ts_ns": ticker.ts,
    }


def _top(levels: list[BookLevel]) -> BookLevel | None:
    return levels[0] if levels else None


def _quote(instrument: Instrument, notional: int) -> Decimal:
    """``notional`` tick-lots in the quote asset: one tick-lot is tick_size x lot_size."""
    return steps_to_decimal(notional, instrument.tick_size * instrument.lot_size)


def _pct(open_ticks: int, last_ticks: int) -> Decimal:
    scaled = Fraction(last_ticks - open_ticks, open_ticks) * 100 * 10**CHANGE_PCT_PLACES
    return Decimal(round(scaled)).scaleb(-CHANGE_PCT_PLACES)  # round(): exact, half-even


class TickerSource(ABC):
    """What a ticker is read from besides the book."""

    @abstractmethod
    def minute_bars(self, instrument: Instrument, first_start: int, last_start: int) -> list[Bar]:
        """The 1-minute bars whose start is in ``[first_start, last_start]``, oldest first."""

    @abstractmethod
    def last_price(self, instrument: Instrument) -> int | None:
        """Ticks of the latest trade on the tape, or None when there is none."""


class DynamoTickerSource(TickerSource):
    """The candles table (a Query on ``SYMBOL#1m`` with the start between the window's bounds:
    at most ``MAX_WINDOW_BARS`` items) and the trade tape (the newest item only)."""

    def minute_bars(self, instrument: Instrument, first_start: int, last_start: int) -> list[Bar]:
        from exchange.market.candles import bar_from_record  # noqa: PLC0415 - at first use
        from exchange.tables import CandleRecord, candle_series  # noqa: PLC0415

        rows = CandleRecord.query(
            candle_series(instrument.symbol, MINUTE_BAR),
            CandleRecord.start.between(first_start, last_start),
            limit=MAX_WINDOW_BARS,
        )
        return [bar_from_record(instrument, row) for row in rows]

    def last_price(self, instrument: Instrument) -> int | None:
        from exchange.tables import TradeRecord  # noqa: PLC0415 - at first use

        for row in TradeRecord.query(instrument.symbol, scan_index_forward=False, limit=1):
            return instrument.price_to_ticks(row.price)
        return None


def read_ticker(
    instrument: Instrument, *, source: TickerSource, books: BookStore, now_ns: int
) -> Ticker:
    """The ticker of ``instrument`` at ``now_ns``: its window's bars, its book, and (only when no
    bar is in the window) its last trade."""
    first, last = window_starts(now_ns)
    bars = source.minute_bars(instrument, first, last)
    last_price = None if bars else source.last_price(instrument)
    book = books.get(instrument.symbol)
    return compute_ticker(instrument, bars, book=book, now_ns=now_ns, last_price=last_price)
