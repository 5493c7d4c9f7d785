"""The market data stores on DynamoDB: the trade tape and candles (written by the journal
consumers, read newest first by the markets function), and the candle consumer's bar store, whose
conditional writes on the ``last_seq`` that was read make it idempotent."""

from collections.abc import Sequence

from pynamodb.exceptions import PutError

from exchange.domain.candles import CandleInterval
from exchange.domain.instruments import InstrumentCatalog
from exchange.market.candles import Bar, BarConflict, BarKey, CandleStore
from exchange.market.service import Candle, MarketStore, TradePrint
from exchange.tables import CandleRecord, TradeRecord, candle_series, condition_failed


class DynamoMarketStore(MarketStore):
    """Trades and candles, written by the journal consumers; read newest first."""

    def trades(self, symbol: str, limit: int) -> list[TradePrint]:
        return [
            TradePrint(
                seq=int(record.seq),
                price=record.price,
                qty=record.qty,
                aggressor_side=record.aggressor_side,
                ts_ns=int(record.ts_ns),
            )
            for record in TradeRecord.query(symbol, scan_index_forward=False, limit=limit)
        ]

    def candles(self, symbol: str, interval: CandleInterval, limit: int) -> list[Candle]:
        series = candle_series(symbol, interval)
        return [
            Candle(
                start=int(record.start),
                open=record.open,
                high=record.high,
                low=record.low,
                close=record.close,
                volume=record.volume,
                trades=int(record.trades),
            )
            for record in CandleRecord.query(series, scan_index_forward=False, limit=limit)
        ]


class DynamoCandleStore(CandleStore):
    def __init__(self, catalog: InstrumentCatalog) -> None:
        self._catalog = catalog

    def get(self, symbol: str, keys: Sequence[BarKey]) -> dict[BarKey, Bar]:
        if not keys:
            return {}
        instrument = self._catalog.get(symbol)
        bars = {}
        for row in CandleRecord.batch_get(list(keys), consistent_read=True):
            interval = row.series.rsplit("#", 1)[1]
            bar = Bar(
                symbol=symbol,
                interval=interval,
                start=int(row.start),
                open=instrument.price_to_ticks(row.open),
                high=instrument.price_to_ticks(row.high),
                low=instrument.price_to_ticks(row.low),
                close=instrument.price_to_ticks(row.close),
                volume=instrument.qty_to_lots(row.volume),
                trades=int(row.trades),
                first_seq=int(row.first_seq),
                last_seq=int(row.last_seq),
            )
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
        )
        try:
            row.save(condition=condition)
        except PutError as exc:
            if condition_failed(exc):
                raise BarConflict(f"bar {bar.series}@{bar.start} moved") from exc
            raise
