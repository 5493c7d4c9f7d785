"""Time-range pages of the trade tape and of candles: the queries, the pages, and the port.

A range is ``[start, end)`` in UTC epoch nanoseconds (inclusive start, exclusive end; either side
may be open), the convention the orders and fills listings use too. It applies to a trade's time
(``ts_ns``) and to a bar's start. A page is in the listing's order (newest first unless asked
otherwise) and says where the next one continues, or None at the end of the range.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from exchange.domain.candles import CandleInterval
from exchange.domain.instruments import Instrument
from exchange.market.model import Candle, TradePrint
from exchange.market.ticker import TickerSource

if TYPE_CHECKING:
    from exchange.market.candles import Bar  # a type only: the journal loads at first use


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``[start_ns, end_ns)``; None is open on that side. Callers check that start < end."""

    start_ns: int | None = None
    end_ns: int | None = None

    def __contains__(self, ts_ns: object) -> bool:
        if not isinstance(ts_ns, int):
            return False
        return (self.start_ns is None or ts_ns >= self.start_ns) and (
            self.end_ns is None or ts_ns < self.end_ns
        )

    @property
    def is_open(self) -> bool:
        return self.start_ns is None and self.end_ns is None


@dataclass(frozen=True, slots=True)
class TradeCursor:
    """Where a trade listing continues: past ``after_seq`` in the listing's order, up to
    ``bound_seq`` (the seq bound of the range's far end, found once on the first page; None
    when that end is open)."""

    after_seq: int
    bound_seq: int | None = None


@dataclass(frozen=True, slots=True)
class TradeQuery:
    limit: int
    range: TimeRange = field(default_factory=TimeRange)
    newest_first: bool = True
    cursor: TradeCursor | None = None

    @property
    def is_latest(self) -> bool:
        """The listing of cc8b227: the newest trades, no range, no cursor."""
        return self.newest_first and self.range.is_open and self.cursor is None


@dataclass(frozen=True, slots=True)
class TradePage:
    trades: list[TradePrint]
    next: TradeCursor | None


@dataclass(frozen=True, slots=True)
class CandleQuery:
    """Bars whose start (epoch seconds, as nanoseconds) is in ``range``; ``after_start``: the
    cursor, the last bar start already returned."""

    interval: CandleInterval
    limit: int
    range: TimeRange = field(default_factory=TimeRange)
    newest_first: bool = True
    after_start: int | None = None

    @property
    def is_latest(self) -> bool:
        return self.newest_first and self.range.is_open and self.after_start is None


@dataclass(frozen=True, slots=True)
class CandlePage:
    candles: list[Candle]
    next_after_start: int | None


def start_bounds(query: CandleQuery) -> tuple[int | None, int | None]:
    """The inclusive bounds on a bar's start (epoch seconds) that ``query`` allows: the range
    and the cursor together. ``lo > hi`` means nothing is left."""
    nanos = 10**9
    lo = None if query.range.start_ns is None else -(-query.range.start_ns // nanos)
    hi = None if query.range.end_ns is None else -(-query.range.end_ns // nanos) - 1
    if query.after_start is not None:
        if query.newest_first:
            hi = query.after_start - 1 if hi is None else min(hi, query.after_start - 1)
        else:
            lo = query.after_start + 1 if lo is None else max(lo, query.after_start + 1)
    return lo, hi


class MarketHistory(TickerSource):
    """The reads of the trade tape and candles beyond the latest page, and a ticker's inputs."""

    @abstractmethod
    def trade_page(self, symbol: str, query: TradeQuery) -> TradePage: ...

    @abstractmethod
    def candle_page(self, symbol: str, query: CandleQuery) -> CandlePage: ...


class NoHistory(MarketHistory):
    """A history that holds nothing: every page is empty and a ticker has only its book. For a
    ``MarketService`` that serves only the latest trades and candles (unit tests of those)."""

    def trade_page(self, symbol: str, query: TradeQuery) -> TradePage:
        return TradePage([], None)

    def candle_page(self, symbol: str, query: CandleQuery) -> CandlePage:
        return CandlePage([], None)

    def minute_bars(self, instrument: Instrument, first_start: int, last_start: int) -> list[Bar]:
        return []

    def last_price(self, instrument: Instrument) -> int | None:
        return None
