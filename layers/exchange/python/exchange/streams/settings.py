"""Typed settings of the journal consumers (read once with ``exchange.settings.load_settings``)."""

from typing import Annotated

from pydantic import Field

from exchange.ledger.settings import AssetScaleSettings, LedgerSettings
from exchange.settings import (
    InstrumentSettings,
    ObservabilitySettings,
    RedisSettings,
    WebSocketSettings,
)
from exchange.tables import TableSettings


class ConsumerSettings(ObservabilitySettings, TableSettings, InstrumentSettings):
    """What every journal consumer reads: table names (the cursors table among them)."""


class RecorderSettings(ConsumerSettings, AssetScaleSettings):
    trades_ttl_days: Annotated[int, Field(gt=0, le=3650)] = 30


class SettlementSettings(LedgerSettings, TableSettings, InstrumentSettings):
    """The ledger's database settings plus the cursors table."""


class FanoutSettings(ConsumerSettings, RedisSettings, WebSocketSettings):
    """Connections table, Redis (the L2 book kept current) and the Management API endpoint."""


class CandlesSettings(ConsumerSettings, WebSocketSettings):
    """Candles and connections tables; the Management API endpoint to publish bar updates
    (unset: bars are stored, not pushed)."""
