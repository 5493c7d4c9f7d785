"""Journal consumer: OHLCV bars (1m, 5m, 1h, 1d) from trades, pushed to candle subscribers."""

from exchange.settings import load_settings
from exchange.streams.batch import kinesis_handler
from exchange.streams.settings import CandlesSettings
from exchange.streams.wiring import build_candles

handler = kinesis_handler(lambda: build_candles(load_settings(CandlesSettings)))
