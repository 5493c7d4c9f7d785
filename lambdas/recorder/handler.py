"""Journal consumer: order state, fills, trades, the events table and the audit log."""

from exchange.composition import CompositionRoot
from exchange.journal.batch import kinesis_handler
from exchange.orders.recorder import Recorder
from exchange.orders.recorder_dynamo import DynamoRecorderStore
from exchange.settings import RecorderSettings
from exchange.tables import bind_tables


def compose(settings: RecorderSettings) -> Recorder:
    bind_tables(settings)
    catalog = settings.catalog()
    return Recorder(
        DynamoRecorderStore(catalog),
        catalog=catalog,
        asset_scales=settings.ledger_asset_scales,
        trades_ttl_days=settings.trades_ttl_days,
    )


ROOT = CompositionRoot(RecorderSettings, compose)
handler = kinesis_handler(ROOT)
