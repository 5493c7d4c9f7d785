"""Journal consumer: pushes book, trade and private order frames to WebSocket subscribers."""

from exchange.composition import CompositionRoot
from exchange.journal.batch import kinesis_handler
from exchange.journal.cursors import DynamoCursorStore
from exchange.market.books import RedisBookStore
from exchange.realtime.connections import DynamoConnectionStore
from exchange.realtime.fanout import Broadcaster, Fanout
from exchange.realtime.sender import ManagementApiSender
from exchange.settings import FanoutSettings
from exchange.tables import bind_tables


def compose(settings: FanoutSettings) -> Fanout:
    bind_tables(settings)
    broadcaster = Broadcaster(DynamoConnectionStore(), ManagementApiSender.from_settings(settings))
    return Fanout(
        broadcaster,
        RedisBookStore.from_settings(settings),
        DynamoCursorStore(),
        catalog=settings.catalog(),
    )


ROOT = CompositionRoot(FanoutSettings, compose)
handler = kinesis_handler(ROOT)
