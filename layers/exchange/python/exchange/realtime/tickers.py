"""The ``ticker.{symbol}`` channel: fan-out's 24 h statistics frames.

Fan-out notes each symbol whose record had trades or moved the top of the book; after the whole
Kinesis batch (``Fanout.flush``) it pushes one ``ticker`` frame per noted symbol, at most one a
second per symbol: a symbol pushed less than a second ago stays noted for the next batch.

The statistics are ``market.ticker``'s, as ``GET /v1/markets/{symbol}/ticker`` computes them, from
the 1-minute bars of the candles table, with this batch's own trades folded in (the candles
consumer, running beside fan-out, may not have stored them yet): last, high and low include
every trade fan-out posted; a bar the candles table holds only up to an earlier trade of the
same minute is completed at the next push. The book's top is fan-out's own book at the
frame's ``seq``.

A failure to compute or push a ticker is logged and counted (``TickerPushFailures``), never
raised: the batch's book and trade frames are already posted, and a retry would not redo them.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from exchange.domain.events import Trade
from exchange.domain.instruments import InstrumentCatalog
from exchange.journal.batch import count
from exchange.l2 import L2Book
from exchange.market.candles import Bar, add_trade, bar_start
from exchange.market.ticker import MINUTE_BAR, Ticker, TickerSource, compute_ticker, window_starts
from exchange.observability import logger
from exchange.realtime import frames
from exchange.realtime.channels import ticker_channel
from exchange.realtime.connections import ConnectionStore

MIN_INTERVAL_NS: Final = 10**9
Publish = Callable[[dict[str, list[bytes]]], int]


def top_changed(before: L2Book, after: L2Book) -> bool:
    """Whether the best bid or ask (price, quantity or order count) differs between two books."""
    return (before.bids[:1], before.asks[:1]) != (after.bids[:1], after.asks[:1])


@dataclass
class _Noted:
    seq: int
    book: L2Book | None
    trades: list[Trade] = field(default_factory=list)


class TickerPusher:
    """Notes symbols during a batch; ``flush`` pushes their tickers to subscribers."""

    def __init__(
        self,
        source: TickerSource,
        connections: ConnectionStore,
        publish: Publish,
        *,
        catalog: InstrumentCatalog,
        min_interval_ns: int = MIN_INTERVAL_NS,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._source = source
        self._connections = connections
        self._publish = publish
        self._catalog = catalog
        self._min_interval_ns = min_interval_ns
        self._clock = clock
        self._noted: dict[str, _Noted] = {}
        self._pushed_at: dict[str, int] = {}

    def note(self, symbol: str, *, seq: int, book: L2Book | None, trades: Sequence[Trade]) -> None:
        """A record of ``symbol`` ending at ``seq`` had ``trades`` or moved the top of ``book``."""
        noted = self._noted.setdefault(symbol, _Noted(seq, book))
        noted.seq, noted.book = seq, book
        noted.trades.extend(trades)

    def flush(self) -> int:
        """Push the tickers that are due; returns how many frames were posted."""
        now = self._clock()
        posted = 0
        for symbol, noted in list(self._noted.items()):
            last = self._pushed_at.get(symbol)
            if last is not None and now - last < self._min_interval_ns:
                continue
            del self._noted[symbol]
            self._pushed_at[symbol] = now
            try:
                posted += self._push(symbol, noted, now)
            except Exception as exc:  # noqa: BLE001 - a ticker never fails the batch
                count("TickerPushFailures")
                logger.warning(
                    "ticker not pushed",
                    extra={"symbol": symbol, "error": f"{type(exc).__name__}: {exc}"},
                )
        return posted

    def _push(self, symbol: str, noted: _Noted, now: int) -> int:
        key = ticker_channel(symbol)
        if not self._connections.subscribers(key):
            return 0  # nobody listens: spare the candles read
        instrument = self._catalog.get(symbol)
        stats = self.ticker(symbol, noted.book, noted.trades, now)
        return self._publish(
            {key: [frames.encode(frames.ticker(instrument, stats, seq=noted.seq))]}
        )

    def ticker(
        self, symbol: str, book: L2Book | None, trades: Sequence[Trade], now_ns: int
    ) -> Ticker:
        """The ticker at ``now_ns``: the stored 1-minute bars of the window with ``trades``
        folded in, and ``book``'s top."""
        instrument = self._catalog.get(symbol)
        first, last = window_starts(now_ns)
        bars: dict[int, Bar] = {
            bar.start: bar for bar in self._source.minute_bars(instrument, first, last)
        }
        for trade in trades:
            start = bar_start(trade.ts, MINUTE_BAR)
            if first <= start <= last:
                bars[start] = add_trade(bars.get(start), trade, MINUTE_BAR)
        last_price = None if bars else self._source.last_price(instrument)
        return compute_ticker(
            instrument, bars.values(), book=book, now_ns=now_ns, last_price=last_price
        )
