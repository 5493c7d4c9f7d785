"""OHLCV bars (1m, 5m, 1h, 1d) from trades, upserted idempotently.

A bar keeps the ``last_seq`` of the last trade it counts; a trade at or below it is already in
and changes nothing, so replaying a record leaves every bar as it was. Trades arrive in seq
order, so the bar's first trade sets ``open`` and each later one ``close``. A bar's start is the
trade's time (event ``ts``, nanoseconds) floored to the interval, in UTC epoch seconds.

After writing, the bars a record touched are pushed to ``candles.{symbol}.{interval}``
subscribers when a ``Publisher`` is given.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from exchange.domain.candles import CANDLE_INTERVALS, CandleInterval
from exchange.domain.events import AnyEvent, Trade
from exchange.domain.instruments import Instrument, InstrumentCatalog
from exchange.journal.batch import count
from exchange.journal.cursors import CursoredSink, CursorStore
from exchange.tables import CandleRecord, candle_series
from exchange.wire import JournalRecord

NANOS: Final = 10**9


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar in ticks and lots."""

    symbol: str
    interval: str
    start: int  # epoch seconds
    open: int
    high: int
    low: int
    close: int
    volume: int
    trades: int
    first_seq: int
    last_seq: int
    # Sum of price x qty of the bar's trades, in tick-lots (quote units: tick_size x lot_size).
    # None when the bar was counted before notional was kept (its first trades are unknown).
    notional: int | None = None

    @property
    def series(self) -> str:
        """The candles table's partition key, ``SYMBOL#INTERVAL``."""
        return candle_series(self.symbol, self.interval)


def bar_from_record(instrument: Instrument, row: CandleRecord) -> Bar:
    """A stored bar (decimal strings) back in ticks and lots."""
    return Bar(
        symbol=instrument.symbol,
        interval=row.series.rsplit("#", 1)[1],
        start=int(row.start),
        open=instrument.price_to_ticks(row.open),
        high=instrument.price_to_ticks(row.high),
        low=instrument.price_to_ticks(row.low),
        close=instrument.price_to_ticks(row.close),
        volume=instrument.qty_to_lots(row.volume),
        trades=int(row.trades),
        first_seq=int(row.first_seq),
        last_seq=int(row.last_seq),
        notional=None if row.notional is None else int(row.notional),
    )


def bar_start(ts_ns: int, interval: CandleInterval) -> int:
    seconds = CANDLE_INTERVALS[interval]
    return ts_ns // NANOS // seconds * seconds


def add_trade(bar: Bar | None, trade: Trade, interval: CandleInterval) -> Bar:
    """``bar`` with ``trade`` counted (a new bar when None); unchanged when already counted."""
    if bar is None:
        return Bar(
            symbol=trade.symbol,
            interval=interval,
            start=bar_start(trade.ts, interval),
            open=trade.price,
            high=trade.price,
            low=trade.price,
            close=trade.price,
            volume=trade.qty,
            trades=1,
            first_seq=trade.seq,
            last_seq=trade.seq,
            notional=trade.price * trade.qty,
        )
    if trade.seq <= bar.last_seq:
        return bar
    return replace(
        bar,
        high=max(bar.high, trade.price),
        low=min(bar.low, trade.price),
        close=trade.price,
        volume=bar.volume + trade.qty,
        trades=bar.trades + 1,
        last_seq=trade.seq,
        notional=None if bar.notional is None else bar.notional + trade.price * trade.qty,
    )


BarKey = tuple[str, int]  # (series, start)


class CandleStore(ABC):
    @abstractmethod
    def get(self, symbol: str, keys: Sequence[BarKey]) -> dict[BarKey, Bar]: ...

    @abstractmethod
    def save(self, bar: Bar, *, expected_last_seq: int | None) -> None:
        """Write if the stored bar's ``last_seq`` is still ``expected_last_seq`` (None: absent);
        otherwise raise (the record is retried)."""


class BarConflict(Exception):
    """A bar changed between read and write."""


Publisher = Callable[[Sequence[Bar]], object]


class CandleAggregator(CursoredSink):
    name = "candles"

    def __init__(
        self,
        store: CandleStore,
        cursors: CursorStore,
        *,
        catalog: InstrumentCatalog,
        publish: Publisher | None = None,
    ) -> None:
        super().__init__(cursors)
        self._store = store
        self._catalog = catalog
        self._publish = publish

    def handle(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        trades = [event for event in events if isinstance(event, Trade)]
        if not trades:
            return
        keys = list(
            dict.fromkeys(
                (candle_series(record.symbol, interval), bar_start(trade.ts, interval))
                for trade in trades
                for interval in CANDLE_INTERVALS
            )
        )
        stored = self._store.get(record.symbol, keys)
        bars: dict[BarKey, Bar] = dict(stored)
        for trade in trades:
            for interval in CANDLE_INTERVALS:
                key = (candle_series(record.symbol, interval), bar_start(trade.ts, interval))
                bars[key] = add_trade(bars.get(key), trade, interval)
        touched = [bars[key] for key in keys if bars[key] != stored.get(key)]
        for bar in touched:
            before = stored.get((bar.series, bar.start))
            self._store.save(bar, expected_last_seq=before.last_seq if before else None)
        count("CandleBarsWritten", len(touched))
        if self._publish is not None and touched:
            self._publish(touched)
