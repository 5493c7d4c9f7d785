"""Public market data: the instruments (each listing's version and trading status, from the live
catalog) and assets, the L2 book from the engine's Redis snapshot (with its seq), 24 h tickers,
and pages of trades and candles from the tables the journal consumers write."""

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping

from exchange.domain.candles import CandleInterval
from exchange.domain.instruments import Instrument, InstrumentCatalog
from exchange.instruments.model import Listing
from exchange.l2 import BookLevel
from exchange.market.assets import AssetInfo, asset_catalog, shipped_asset_configs
from exchange.market.books import BookStore
from exchange.market.errors import BookUnavailable, MarketNotFound
from exchange.market.history import (
    CandlePage,
    CandleQuery,
    MarketHistory,
    NoHistory,
    TradeCursor,
    TradePage,
    TradeQuery,
)
from exchange.market.listings import listings
from exchange.market.model import Book, Candle, Level, TradePrint
from exchange.market.ticker import Ticker, read_ticker
from exchange.settings import DEFAULT_ASSET_SCALES

__all__ = ["Book", "Candle", "Level", "MarketService", "MarketStore", "TradePrint"]


class MarketStore(ABC):
    @abstractmethod
    def trades(self, symbol: str, limit: int) -> list[TradePrint]:
        """The most recent trades, newest first."""

    @abstractmethod
    def candles(self, symbol: str, interval: CandleInterval, limit: int) -> list[Candle]:
        """The most recent bars, newest first."""


class MarketService:
    """``store`` serves the latest trades and candles (the listings without a range or cursor),
    ``history`` everything else: ranges, cursors and tickers' bars. None: ``NoHistory``.
    ``asset_scales`` are the ledger's (default ``DEFAULT_ASSET_SCALES``): the assets listed are
    those the catalog trades at the time of the call, so a market listed at run time brings its
    assets; ``clock`` gives epoch nanoseconds."""

    def __init__(
        self,
        *,
        instruments: InstrumentCatalog,
        books: BookStore,
        store: MarketStore,
        history: MarketHistory | None = None,
        asset_scales: Mapping[str, int] | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._instruments = instruments
        self._books = books
        self._store = store
        self._history = history or NoHistory()
        self._scales = dict(DEFAULT_ASSET_SCALES if asset_scales is None else asset_scales)
        self._asset_configs = shipped_asset_configs()
        asset_catalog(instruments, self._scales, self._asset_configs)  # a bad deploy fails now
        self._clock = clock

    def now_ns(self) -> int:
        return self._clock()

    def markets(self) -> list[Listing]:
        """Every listed symbol by symbol, with its version and status (those listed at run time
        included: the live catalog reads them from the instruments store)."""
        return listings(self._instruments)

    def assets(self) -> list[AssetInfo]:
        return asset_catalog(self._instruments, self._scales, self._asset_configs)

    def book(self, symbol: str, depth: int) -> Book:
        instrument = self.listed(symbol)
        snapshot = self._books.get(symbol)
        if snapshot is None:
            raise BookUnavailable(f"no book snapshot of {symbol} has been published yet")
        return Book(
            symbol=symbol,
            seq=snapshot.seq,
            bids=[_level(instrument, level) for level in snapshot.bids[:depth]],
            asks=[_level(instrument, level) for level in snapshot.asks[:depth]],
        )

    def ticker(self, symbol: str) -> Ticker:
        instrument = self.listed(symbol)
        return read_ticker(
            instrument, source=self._history, books=self._books, now_ns=self._clock()
        )

    def tickers(self) -> list[Ticker]:
        """Every listed instrument's ticker, at one ``now``."""
        now_ns = self._clock()
        return [
            read_ticker(instrument, source=self._history, books=self._books, now_ns=now_ns)
            for instrument in self._instruments
        ]

    def trades(self, symbol: str, query: TradeQuery) -> TradePage:
        self.listed(symbol)
        if not query.is_latest:
            return self._history.trade_page(symbol, query)
        trades = self._store.trades(symbol, query.limit)
        full = len(trades) == query.limit and trades
        return TradePage(trades, TradeCursor(after_seq=trades[-1].seq) if full else None)

    def candles(self, symbol: str, query: CandleQuery) -> CandlePage:
        self.listed(symbol)
        if not query.is_latest:
            return self._history.candle_page(symbol, query)
        candles = self._store.candles(symbol, query.interval, query.limit)
        full = len(candles) == query.limit and candles
        return CandlePage(candles, candles[-1].start if full else None)

    def listed(self, symbol: str) -> Instrument:
        """The instrument of ``symbol``; MarketNotFound (404) when none is listed."""
        if symbol not in self._instruments:
            raise MarketNotFound(f"no market {symbol}")
        return self._instruments.get(symbol)


def _level(instrument: Instrument, level: BookLevel) -> Level:
    return Level(
        instrument.format_price(level.price), instrument.format_qty(level.qty), level.orders
    )
