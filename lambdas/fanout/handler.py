"""Journal consumer: pushes book (with checksums), trade, ticker and status frames to WebSocket
subscribers; the tickers once per batch (``Fanout.flush``)."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

from exchange.composition import CompositionRoot
from exchange.instruments.composition import live_catalog
from exchange.journal.batch import consume_batch, count
from exchange.journal.cursors import DynamoCursorStore
from exchange.market.books import RedisBookStore
from exchange.market.ticker import DynamoTickerSource
from exchange.observability import logger, metrics, tracer
from exchange.realtime.book_tracker import RedisTrackedBooks
from exchange.realtime.connections import DynamoConnectionStore
from exchange.realtime.fanout import Broadcaster, Fanout
from exchange.realtime.sender import ManagementApiSender
from exchange.realtime.statuses import RedisStatusBoard
from exchange.realtime.tickers import TickerPusher
from exchange.settings import FanoutSettings
from exchange.tables import bind_tables


def compose(settings: FanoutSettings) -> Fanout:
    bind_tables(settings)
    catalog = live_catalog(settings)
    connections = DynamoConnectionStore()
    broadcaster = Broadcaster(connections, ManagementApiSender.from_settings(settings))
    books = RedisBookStore.from_settings(settings)
    tickers = TickerPusher(DynamoTickerSource(), connections, broadcaster.publish, catalog=catalog)
    return Fanout(
        broadcaster,
        books,
        DynamoCursorStore(),
        catalog=catalog,
        tracked=RedisTrackedBooks(lambda: books.client),
        tickers=tickers,
        statuses=RedisStatusBoard(lambda: books.client),
    )


ROOT = CompositionRoot(FanoutSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: Any, sink: Fanout | None = None
) -> PartialItemFailureResponse:
    fanout = sink or ROOT()
    response = consume_batch(event, fanout, context=context)
    fanout.flush()
    count("JournalBatches")
    return response
