"""Journal consumer: order state, fills, trades, the events table and the audit log, the
operators' status and listing events into the instruments store, and the business metrics; then
each record's private ``orders`` frames (with client order ids and fill fees) to their owners."""

from exchange.composition import CompositionRoot
from exchange.instruments.composition import instrument_store, live_catalog
from exchange.journal.batch import kinesis_handler
from exchange.orders.recorder import Recorder, RecorderStore
from exchange.orders.recorder_dynamo import DynamoRecorderStore
from exchange.realtime.connections import DynamoConnectionStore
from exchange.realtime.fanout import Broadcaster
from exchange.realtime.orders_feed import OrdersFeed, PublishingRecorderStore
from exchange.realtime.sender import ManagementApiSender
from exchange.settings import RecorderSettings
from exchange.tables import bind_tables


def compose(settings: RecorderSettings) -> Recorder:
    bind_tables(settings)
    catalog = live_catalog(settings)
    store: RecorderStore = DynamoRecorderStore(catalog)
    if settings.ws_management_endpoint:  # unset: orders are recorded, not pushed
        sender = ManagementApiSender.from_settings(settings)
        feed = OrdersFeed(Broadcaster(DynamoConnectionStore(), sender), catalog=catalog)
        store = PublishingRecorderStore(store, feed)
    return Recorder(
        store,
        catalog=catalog,
        asset_scales=settings.ledger_asset_scales,
        trades_ttl_days=settings.trades_ttl_days,
        instruments=instrument_store(settings),  # the status and listing events, materialized
    )


ROOT = CompositionRoot(RecorderSettings, compose)
handler = kinesis_handler(ROOT)
