"""Public market data: the instruments, the L2 book from the engine's Redis snapshot (with its
seq), recent trades and candles from the tables the journal consumers write."""

from abc import ABC, abstractmethod
from dataclasses import dataclass

from exchange.domain.candles import CandleInterval
from exchange.domain.instruments import Instrument, InstrumentCatalog
from exchange.l2 import BookLevel
from exchange.market.books import BookStore
from exchange.market.errors import BookUnavailable, MarketNotFound


@dataclass(frozen=True, slots=True)
class TradePrint:
    seq: int
    price: str
    qty: str
    aggressor_side: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class Candle:
    start: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    trades: int


@dataclass(frozen=True, slots=True)
class Level:
    price: str
    qty: str
    orders: int


@dataclass(frozen=True, slots=True)
class Book:
    symbol: str
    seq: int
    bids: list[Level]
    asks: list[Level]


class MarketStore(ABC):
    @abstractmethod
    def trades(self, symbol: str, limit: int) -> list[TradePrint]:
        """The most recent trades, newest first."""

    @abstractmethod
    def candles(self, symbol: str, interval: CandleInterval, limit: int) -> list[Candle]:
        """The most recent bars, newest first."""


class MarketService:
    def __init__(
        self, *, instruments: InstrumentCatalog, books: BookStore, store: MarketStore
    ) -> None:
        self._instruments = instruments
        self._books = books
        self._store = store

    def markets(self) -> list[Instrument]:
        return list(self._instruments)

    def book(self, symbol: str, depth: int) -> Book:
        instrument = self._listed(symbol)
        snapshot = self._books.get(symbol)
        if snapshot is None:
            raise BookUnavailable(f"no book snapshot of {symbol} has been published yet")
        return Book(
            symbol=symbol,
            seq=snapshot.seq,
            bids=[_level(instrument, level) for level in snapshot.bids[:depth]],
            asks=[_level(instrument, level) for level in snapshot.asks[:depth]],
        )

    def trades(self, symbol: str, limit: int) -> list[TradePrint]:
        self._listed(symbol)
        return self._store.trades(symbol, limit)

    def candles(self, symbol: str, interval: CandleInterval, limit: int) -> list[Candle]:
        self._listed(symbol)
        return self._store.candles(symbol, interval, limit)

    def _listed(self, symbol: str) -> Instrument:
        if symbol not in self._instruments:
            raise MarketNotFound(f"no market {symbol}")
        return self._instruments.get(symbol)


def _level(instrument: Instrument, level: BookLevel) -> Level:
    return Level(
        instrument.format_price(level.price), instrument.format_qty(level.qty), level.orders
    )
