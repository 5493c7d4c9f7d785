"""What the market-data reads answer, in decimal strings at the instrument's precision."""

from dataclasses import dataclass


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
