"""The market data stores on DynamoDB: the trade tape and candles (written by the journal
consumers, read by the markets function), and the candle consumer's bar store, whose conditional
writes on the ``last_seq`` that was read make it idempotent.

Pages: candles are keyed by their start (epoch seconds), so a time range is the Query's key
condition and a page reads only what it returns. The trade tape is keyed by seq alone; a range is
turned into seq bounds once, on its first page (``exchange.market.trade_range``: two one-item
Queries for the tape's ends, then at most ~log2(trades on the tape) one-item Queries per bounded
side), and the cursor carries the far bound, so later pages cost only their items. The page Query
filters on ``ts_ns`` too: a filter is applied after the read, so the items within ``GUARD_NS``
outside an edge are read (and paid for) but never returned.
"""

from collections.abc import Sequence

from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import PutError
from pynamodb.expressions.condition import Condition

from exchange.domain.candles import CandleInterval
from exchange.domain.instruments import InstrumentCatalog
from exchange.market.candles import Bar, BarConflict, BarKey, CandleStore, bar_from_record
from exchange.market.history import (
    CandlePage,
    CandleQuery,
    MarketHistory,
    TradeCursor,
    TradePage,
    TradeQuery,
    start_bounds,
)
from exchange.market.model import Candle, TradePrint
from exchange.market.service import MarketStore
from exchange.market.ticker import DynamoTickerSource
from exchange.market.trade_range import seq_bounds
from exchange.tables import CandleRecord, TradeRecord, candle_series, condition_failed


class DynamoMarketStore(MarketStore, DynamoTickerSource, MarketHistory):
    """Trades and candles, written by the journal consumers."""

    def trades(self, symbol: str, limit: int) -> list[TradePrint]:
        rows = TradeRecord.query(symbol, scan_index_forward=False, limit=limit)
        return [_trade(row) for row in rows]

    def candles(self, symbol: str, interval: CandleInterval, limit: int) -> list[Candle]:
        series = candle_series(symbol, interval)
        rows = CandleRecord.query(series, scan_index_forward=False, limit=limit)
        return [_candle(row) for row in rows]

    def trade_page(self, symbol: str, query: TradeQuery) -> TradePage:
        if query.cursor is not None:
            first, last = _after(query.cursor, query.newest_first)
        elif query.range.is_open:
            first, last = None, None
        else:
            ends = self._tape_ends(symbol)
            if ends is None:
                return TradePage([], None)
            first, last = seq_bounds(
                query.range.start_ns,
                query.range.end_ns,
                lambda seq: self._first_at_or_after(symbol, seq),
                oldest=ends[0],
                newest=ends[1],
            )
        if first is not None and last is not None and first > last:
            return TradePage([], None)
        start_ns, end_ns = query.range.start_ns, query.range.end_ns
        conditions = [
            *([] if start_ns is None else [TradeRecord.ts_ns >= start_ns]),
            *([] if end_ns is None else [TradeRecord.ts_ns < end_ns]),
        ]
        rows = TradeRecord.query(
            symbol,
            _between(TradeRecord.seq, first, last),
            _all(conditions),
            scan_index_forward=not query.newest_first,
            limit=query.limit,
        )
        trades = [_trade(row) for row in rows]
        bound = first if query.newest_first else last
        more = len(trades) == query.limit and trades
        return TradePage(trades, TradeCursor(trades[-1].seq, bound) if more else None)

    def candle_page(self, symbol: str, query: CandleQuery) -> CandlePage:
        lo, hi = start_bounds(query)
        if lo is not None and hi is not None and lo > hi:
            return CandlePage([], None)
        rows = CandleRecord.query(
            candle_series(symbol, query.interval),
            _between(CandleRecord.start, lo, hi),
            scan_index_forward=not query.newest_first,
            limit=query.limit,
        )
        candles = [_candle(row) for row in rows]
        more = len(candles) == query.limit and candles
        return CandlePage(candles, candles[-1].start if more else None)

    def _tape_ends(self, symbol: str) -> tuple[int, int] | None:
        """The oldest and newest trade's seq (TTL trims the oldest), None on an empty tape."""
        ends = [
            int(row.seq)
            for forward in (True, False)
            for row in TradeRecord.query(symbol, scan_index_forward=forward, limit=1)
        ]
        return (ends[0], ends[1]) if len(ends) == 2 else None

    def _first_at_or_after(self, symbol: str, seq: int) -> tuple[int, int] | None:
        for row in TradeRecord.query(symbol, TradeRecord.seq >= seq, limit=1):
            return int(row.seq), int(row.ts_ns)
        return None


def _after(cursor: TradeCursor, newest_first: bool) -> tuple[int | None, int | None]:
    if newest_first:
        return cursor.bound_seq, cursor.after_seq - 1
    return cursor.after_seq + 1, cursor.bound_seq


def _between(key: NumberAttribute, lo: int | None, hi: int | None) -> Condition | None:
    """A sort-key condition for ``lo <= key <= hi``; None where a side is open."""
    if lo is not None and hi is not None:
        return key.between(lo, hi)
    if lo is not None:
        return key >= lo
    if hi is not None:
        return key <= hi
    return None


def _all(conditions: Sequence[Condition]) -> Condition | None:
    combined: Condition | None = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


def _trade(row: TradeRecord) -> TradePrint:
    return TradePrint(
        seq=int(row.seq),
        price=row.price,
        qty=row.qty,
        aggressor_side=row.aggressor_side,
        ts_ns=int(row.ts_ns),
    )


def _candle(row: CandleRecord) -> Candle:
    return Candle(
        start=int(row.start),
        open=row.open,
        high=row.high,
        low=row.low,
        close=row.close,
        volume=row.volume,
        trades=int(row.trades),
    )


class DynamoCandleStore(CandleStore):
    def __init__(self, catalog: InstrumentCatalog) -> None:
        self._catalog = catalog

    def get(self, symbol: str, keys: Sequence[BarKey]) -> dict[BarKey, Bar]:
        if not keys:
            return {}
        instrument = self._catalog.get(symbol)
        bars = {}
        for row in CandleRecord.batch_get(list(keys), consistent_read=True):
            bar = bar_from_record(instrument, row)
            bars[(row.series, bar.start)] = bar
        return bars

    def save(self, bar: Bar, *, expected_last_seq: int | None) -> None:
        instrument = self._catalog.get(bar.symbol)
        condition = (
            CandleRecord.start.does_not_exist()
            if expected_last_seq is None
            else CandleRecord.last_seq == expected_last_seq
        )
        row = CandleRecord(
            bar.series,
            bar.start,
            open=instrument.format_price(bar.open),
            high=instrument.format_price(bar.high),
            low=instrument.format_price(bar.low),
            close=instrument.format_price(bar.close),
            volume=instrument.format_qty(bar.volume),
            trades=bar.trades,
            first_seq=bar.first_seq,
            last_seq=bar.last_seq,
            notional=bar.notional,
        )
        try:
            row.save(condition=condition)
        except PutError as exc:
            if condition_failed(exc):
                raise BarConflict(f"bar {bar.series}@{bar.start} moved") from exc
            raise
