"""Candle (OHLCV bar) intervals: the ones the candles consumer keeps, one series each, and the
REST API and the WebSocket ``candles.{symbol}.{interval}`` channels serve.

``CandleInterval`` spells the names for the type checker and the OpenAPI enum, and
``CANDLE_INTERVALS`` gives each its length in seconds; tests/unit/streams/test_candles.py checks
that the two name the same intervals.
"""

from typing import Final, Literal

CandleInterval = Literal["1m", "5m", "1h", "1d"]
CANDLE_INTERVALS: Final[dict[CandleInterval, int]] = {
    "1m": 60,
    "5m": 300,
    "1h": 3_600,
    "1d": 86_400,
}
