"""Journal consumer: pushes book, trade and private order frames to WebSocket subscribers."""

from exchange.realtime.wiring import build_fanout
from exchange.settings import load_settings
from exchange.streams.batch import kinesis_handler
from exchange.streams.settings import FanoutSettings

handler = kinesis_handler(lambda: build_fanout(load_settings(FanoutSettings)))
