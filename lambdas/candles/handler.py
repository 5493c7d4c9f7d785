"""Journal consumer: OHLCV bars (1m, 5m, 1h, 1d) from trades, pushed to candle subscribers."""

from functools import partial

from exchange.composition import CompositionRoot
from exchange.instruments.composition import live_catalog
from exchange.journal.batch import kinesis_handler
from exchange.journal.cursors import DynamoCursorStore
from exchange.market.candles import CandleAggregator, Publisher
from exchange.market.dynamo import DynamoCandleStore
from exchange.realtime.connections import DynamoConnectionStore
from exchange.realtime.fanout import Broadcaster
from exchange.realtime.sender import ManagementApiSender
from exchange.settings import CandlesSettings
from exchange.tables import bind_tables


def compose(settings: CandlesSettings) -> CandleAggregator:
    bind_tables(settings)
    catalog = live_catalog(settings)
    publish: Publisher | None = None
    if settings.ws_management_endpoint:  # unset: bars are stored, not pushed
        sender = ManagementApiSender.from_settings(settings)
        publish = partial(Broadcaster(DynamoConnectionStore(), sender).publish_bars, catalog)
    return CandleAggregator(
        DynamoCandleStore(catalog), DynamoCursorStore(), catalog=catalog, publish=publish
    )


ROOT = CompositionRoot(CandlesSettings, compose)
handler = kinesis_handler(ROOT)
