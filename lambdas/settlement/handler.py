"""Journal consumer: settles trades and resizes holds in the ledger (Aurora PostgreSQL)."""

from exchange.settings import load_settings
from exchange.streams.batch import kinesis_handler
from exchange.streams.settings import SettlementSettings
from exchange.streams.wiring import build_settlement

handler = kinesis_handler(lambda: build_settlement(load_settings(SettlementSettings)))
