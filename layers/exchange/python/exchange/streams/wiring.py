"""Each journal consumer built from its settings at cold start (no AWS call happens here)."""

from functools import partial

from exchange.ledger.connection import pool_from_settings
from exchange.ledger.postgres import PostgresLedger
from exchange.realtime.connections import DynamoConnectionStore
from exchange.realtime.fanout import Broadcaster
from exchange.realtime.sender import ManagementApiSender
from exchange.realtime.wiring import management_client
from exchange.streams.candles import CandleAggregator, Publisher
from exchange.streams.dynamo import DynamoCandleStore, DynamoCursorStore, DynamoRecorderStore
from exchange.streams.recorder import Recorder
from exchange.streams.settings import CandlesSettings, RecorderSettings, SettlementSettings
from exchange.streams.settlement import Settlement
from exchange.tables import bind_tables


def build_recorder(settings: RecorderSettings) -> Recorder:
    bind_tables(settings)
    catalog = settings.catalog()
    return Recorder(
        DynamoRecorderStore(catalog),
        catalog=catalog,
        asset_scales=settings.ledger_asset_scales,
        trades_ttl_days=settings.trades_ttl_days,
    )


def build_settlement(settings: SettlementSettings) -> Settlement:
    bind_tables(settings)
    ledger = PostgresLedger.from_settings(
        pool_from_settings(settings), settings, settings.catalog()
    )
    return Settlement(ledger, DynamoCursorStore())


def build_candles(settings: CandlesSettings) -> CandleAggregator:
    bind_tables(settings)
    catalog = settings.catalog()
    publish: Publisher | None = None
    if settings.ws_management_endpoint:
        broadcaster = Broadcaster(
            DynamoConnectionStore(), ManagementApiSender(management_client(settings, settings))
        )
        publish = partial(broadcaster.publish_bars, catalog)

    return CandleAggregator(
        DynamoCandleStore(catalog), DynamoCursorStore(), catalog=catalog, publish=publish
    )
