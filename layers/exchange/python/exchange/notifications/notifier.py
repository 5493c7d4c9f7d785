"""The journal's fills to the notifications topic: a Kinesis consumer of the journal.

For each ``Trade`` of a record, one FILL notice per account involved, the buyer's and the
seller's, with id ``fill#<symbol>#<seq>#<account_id>``: the same trade always gives the same ids,
so a replayed record, a retried batch or a bisected one publishes notices the emailer has seen
and sends nothing more. That is why this consumer keeps no cursor: re-publishing is harmless, and
a fill is never skipped because a cursor moved ahead of a failed publish.

Each notice's ``data`` is what the email shows, as decimal strings in the instrument's tick and
lot: ``symbol``, ``side`` (the account's), ``role`` (maker or taker), ``price``, ``qty`` and
``order_id`` (the account's own order).

Records are decoded like every journal consumer's (``exchange.journal.batch.decode``: a poison
record is logged and counted) and failures reported with Powertools' partial batch response, so
Lambda retries from the first failed record (bisecting the batch when so configured).
"""

from collections.abc import Iterator, Mapping
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamRecord,
)

from exchange.domain.enums import Side
from exchange.domain.events import Trade
from exchange.domain.instruments import Instrument, InstrumentCatalog
from exchange.journal.batch import count, decode
from exchange.notices import Notice, NoticeKind
from exchange.notifications.publisher import NoticePublisher
from exchange.wire import JournalRecord

FILL_EVENT = "fill"


def fill_notice_id(symbol: str, seq: int, account_id: str) -> str:
    """>>> fill_notice_id("BTC-USD", 42, "a-1")
    'fill#BTC-USD#42#a-1'"""
    return f"fill#{symbol}#{seq}#{account_id}"


def fill_notices(trade: Trade, instrument: Instrument) -> list[Notice]:
    """The trade's notices: the taker's and the maker's (one, should both be the same account)."""
    taker_side = trade.aggressor_side
    parties = (
        (trade.taker_account_id, trade.taker_order_id, taker_side, "taker"),
        (trade.maker_account_id, trade.maker_order_id, _opposite(taker_side), "maker"),
    )
    notices: dict[str, Notice] = {}
    for account_id, order_id, side, role in parties:
        if account_id in notices:
            continue
        notices[account_id] = Notice(
            notice_id=fill_notice_id(trade.symbol, trade.seq, account_id),
            kind=NoticeKind.FILL,
            event=FILL_EVENT,
            account_id=account_id,
            at_ns=trade.ts,
            data={
                "symbol": trade.symbol,
                "side": side.value,
                "role": role,
                "price": instrument.format_price(trade.price),
                "qty": instrument.format_qty(trade.qty),
                "order_id": order_id,
                "seq": str(trade.seq),
            },
        )
    return list(notices.values())


def _opposite(side: Side) -> Side:
    return Side.SELL if side is Side.BUY else Side.BUY


class FillNotifier:
    """Publishes each record's fills; a publish failure fails the record (it is retried)."""

    def __init__(self, publisher: NoticePublisher, *, catalog: InstrumentCatalog) -> None:
        self._publisher = publisher
        self._catalog = catalog

    def notices(self, record: JournalRecord) -> Iterator[Notice]:
        trades = [event for event in record.events if isinstance(event, Trade)]
        if not trades:
            return
        instrument = self._catalog.get(record.symbol)
        for trade in trades:
            yield from fill_notices(trade, instrument)

    def publish(self, record: JournalRecord) -> int:
        """Publish the record's fill notices; returns how many. NoticeNotPublished propagates."""
        published = 0
        for notice in self.notices(record):
            self._publisher.publish(notice)
            published += 1
        if published:
            count("FillNoticesPublished", published)
        return published


def notify_batch(
    event: Mapping[str, Any],
    notifier: FillNotifier,
    *,
    context: Any = None,
    processor: BatchProcessor | None = None,
) -> PartialItemFailureResponse:
    """The body of the notifier's handler: ``{"batchItemFailures": [...]}``. As for every
    journal consumer, a batch whose every record failed raises (Lambda retries it, bisecting)."""

    def handle(record: KinesisStreamRecord) -> int:
        data = record.kinesis.data_as_bytes()
        journal = decode(data, sequence_number=record.kinesis.sequence_number)
        return notifier.publish(journal)

    response = process_partial_response(
        event=dict(event),
        record_handler=handle,
        processor=processor or BatchProcessor(event_type=EventType.KinesisDataStreams),
        context=context,
    )
    # Last, so every batch has a metric to publish (as the other journal consumers do).
    count("NotifierBatches")
    return response
