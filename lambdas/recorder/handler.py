"""Journal consumer: order state, fills, trades, the events table and the audit log."""

from exchange.settings import load_settings
from exchange.streams.batch import kinesis_handler
from exchange.streams.settings import RecorderSettings
from exchange.streams.wiring import build_recorder

handler = kinesis_handler(lambda: build_recorder(load_settings(RecorderSettings)))
