"""Fan-out: journal events to the public WebSocket channels.

Per journal record: ``book.{symbol}`` gets the record's deltas with the seq range they cover
(sent even when empty, so the chain of ranges has no holes) and the checksum of the book after
each frame (``book_tracker``); ``trades.{symbol}`` gets its trades. Before posting, the record's
deltas advance the L2 book in Redis, which new subscribers receive as their snapshot (see
``market.books``). After the whole batch (``flush``), ``ticker.{symbol}`` gets the 24 h
statistics of the symbols whose trades or top of book moved (``tickers``). ``status`` gets each
change of a symbol's trading status (an operator's ``TradingStatusChanged``, and the first status
of a symbol listed at run time), written first to fan-out's copy that a new subscriber's
snapshot reads (``statuses``), as for books. Connections that answer Gone are removed.

The private ``orders`` channel is the recorder's (``orders_feed``): it holds each order's
client id and each fill's fee. ``balances`` is the ledger writers' (``balances``).

Idempotent on ``(symbol, seq)`` through its cursor: a replayed record is not posted again. A
crash between posting and advancing the cursor posts that record twice; clients drop frames at
or below the seq they hold.
"""

from collections.abc import Mapping, Sequence
from typing import Final

from pydantic import ValidationError

from exchange.domain.enums import InstrumentStatus
from exchange.domain.events import (
    AnyEvent,
    BookDelta,
    InstrumentListed,
    Trade,
    TradingStatusChanged,
)
from exchange.domain.instruments import Instrument, InstrumentCatalog
from exchange.journal.batch import count
from exchange.journal.cursors import CursoredSink, CursorStore
from exchange.l2 import L2Book
from exchange.market.books import BookStore, apply_deltas
from exchange.market.candles import Bar
from exchange.observability import logger
from exchange.realtime import frames
from exchange.realtime.book_tracker import BookTracker, TrackedBooks
from exchange.realtime.channels import (
    STATUS_CHANNEL,
    book_channel,
    candles_channel,
    trades_channel,
)
from exchange.realtime.connections import ConnectionStore
from exchange.realtime.sender import Message, Sender
from exchange.realtime.statuses import MarketStatus, StatusBoard
from exchange.realtime.tickers import TickerPusher, top_changed
from exchange.wire import JournalRecord

# API Gateway takes WebSocket messages up to 128 KB; a record can hold far more events than that.
MAX_ITEMS_PER_FRAME: Final = 500


def chunks[T](items: Sequence[T]) -> list[Sequence[T]]:
    """``items`` in runs of at most ``MAX_ITEMS_PER_FRAME``, one frame each."""
    return [items[i : i + MAX_ITEMS_PER_FRAME] for i in range(0, len(items), MAX_ITEMS_PER_FRAME)]


def book_frames(
    instrument: Instrument,
    base: L2Book | None,
    *,
    after: int,
    last_seq: int,
    deltas: Sequence[BookDelta],
) -> tuple[list[bytes], L2Book | None]:
    """The record's deltas as frames whose seq ranges chain from ``after`` to ``last_seq``, each
    with the checksum of ``base`` moved to the frame's end (null for a frame that ends before
    ``base``'s seq, or without a base); and the book at ``last_seq``, if known."""
    pieces = chunks(deltas) or [()]
    out, prev, book = [], after, base
    for index, chunk in enumerate(pieces):
        end = last_seq if index == len(pieces) - 1 else chunk[-1].seq
        checksum = None
        if book is not None and book.seq <= end:
            book = apply_deltas(book, chunk, end)
            checksum = frames.checksum(instrument, book)
        frame = frames.book_update(
            instrument, prev_seq=prev, seq=end, deltas=chunk, checksum=checksum
        )
        out.append(frames.encode(frame))
        prev = end
    return out, book if book is not None and book.seq == last_seq else None


class Broadcaster:
    """Posts frames to every subscriber of channel keys and drops connections that are gone."""

    def __init__(self, connections: ConnectionStore, sender: Sender) -> None:
        self._connections = connections
        self._sender = sender

    @property
    def connections(self) -> ConnectionStore:
        return self._connections

    def publish(self, frames_by_key: Mapping[str, Sequence[bytes]]) -> int:
        """Post each key's frames, in order, to its subscribers; returns frames posted."""
        messages: list[Message] = []
        for key, payloads in frames_by_key.items():
            if not payloads:
                continue
            for connection_id in self._connections.subscribers(key):
                messages.extend((connection_id, payload) for payload in payloads)
        return self.post(messages)

    def post(self, messages: Sequence[Message]) -> int:
        """Post ``(connection_id, frame)`` messages; returns how many."""
        if not messages:
            return 0
        gone = self._sender.send_many(messages)
        for connection_id in gone:
            self._connections.remove(connection_id)
        if gone:
            count("WebSocketGoneConnections", len(gone))
            logger.info("removed gone WebSocket connections", extra={"count": len(gone)})
        count("WebSocketFramesSent", len(messages))
        return len(messages)

    def publish_bars(self, catalog: InstrumentCatalog, bars: Sequence[Bar]) -> int:
        """Candle updates to ``candles.{symbol}.{interval}``."""
        by_key: dict[str, list[bytes]] = {}
        for bar in bars:
            frame = frames.candle(catalog.get(bar.symbol), bar)
            by_key.setdefault(candles_channel(bar.symbol, bar.interval), []).append(
                frames.encode(frame)
            )
        return self.publish(by_key)


class Fanout(CursoredSink):
    name = "fanout"

    def __init__(
        self,
        broadcaster: Broadcaster,
        books: BookStore,
        cursors: CursorStore,
        *,
        catalog: InstrumentCatalog,
        tracked: TrackedBooks | None = None,
        tickers: TickerPusher | None = None,
        statuses: StatusBoard | None = None,
    ) -> None:
        """``statuses`` None: status changes are posted, not kept for new subscribers."""
        super().__init__(cursors)
        self._broadcaster = broadcaster
        self._books = books
        self._tracker = BookTracker(tracked, books)
        self._catalog = catalog
        self._tickers = tickers
        self._statuses = statuses

    def handle(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        symbol = record.symbol
        instrument = self._catalog.get(symbol)
        deltas = [event for event in events if isinstance(event, BookDelta)]
        tape = [event for event in events if isinstance(event, Trade)]
        base = self._tracker.base(symbol, after=after, last_seq=record.last_seq)
        if base is None:
            count("BookChecksumsUnavailable")
        book_payloads, book = book_frames(
            instrument, base, after=after, last_seq=record.last_seq, deltas=deltas
        )
        if book is not None:
            self._tracker.keep(book)
        self._books.advance(symbol, prev_seq=after, seq=record.last_seq, deltas=deltas)
        self._broadcaster.publish(
            {
                book_channel(symbol): book_payloads,
                trades_channel(symbol): [
                    frames.encode(frames.trades(instrument, chunk)) for chunk in chunks(tape)
                ],
                STATUS_CHANNEL: self._status_frames(events),
            }
        )
        moved = top_changed(base, book) if base is not None and book is not None else bool(deltas)
        if self._tickers is not None and (tape or moved):
            top = book if book is not None else self._books.get(symbol)
            self._tickers.note(symbol, seq=record.last_seq, book=top, trades=tape)

    def flush(self) -> int:
        """After a batch: push the tickers it made due."""
        return 0 if self._tickers is None else self._tickers.flush()

    def _status_frames(self, events: Sequence[AnyEvent]) -> list[bytes]:
        """A frame per status change, each kept on the board before it is posted."""
        payloads = []
        for event in events:
            status: InstrumentStatus | None
            previous: InstrumentStatus | None
            if isinstance(event, TradingStatusChanged):
                status, previous = event.status, event.previous
            elif isinstance(event, InstrumentListed) and event.seq == 1:
                # A new listing's first event: its status is the listed instrument's.
                status, previous = _first_status(event), None
            else:
                continue
            if status is None:
                continue
            now = MarketStatus(symbol=event.symbol, status=status, seq=event.seq)
            if self._statuses is not None:
                self._statuses.put(now)
            payloads.append(frames.encode(frames.status(now, previous=previous, ts=event.ts)))
        return payloads


def _first_status(event: InstrumentListed) -> InstrumentStatus | None:
    """The status a new listing starts with: its instrument's. The engine took the JSON, so it
    parses; one that does not is logged and counted, and no frame is posted for it (subscribers'
    snapshots read the listing's status from the catalog), rather than fail the record for
    good and hold every later frame of the symbol back."""
    try:
        return Instrument.model_validate_json(event.instrument).status
    except ValidationError as exc:
        count("StatusFramesUnreadable")
        logger.error(
            "listing whose instrument does not parse",
            extra={"symbol": event.symbol, "seq": event.seq, "error": str(exc)},
        )
        return None
