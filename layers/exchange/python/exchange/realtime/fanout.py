"""Fan-out: journal events to WebSocket subscribers.

Per journal record, one frame per channel: ``book.{symbol}`` gets the record's deltas with the
seq range they cover (sent even when empty, so the chain of ranges has no holes), ``trades.
{symbol}`` its trades, and each account's private ``orders`` channel its own order events and
fills. Before posting, the record's deltas advance the L2 book in Redis, which new subscribers
receive as their snapshot (see ``books``). Connections that answer Gone are removed.

Idempotent on ``(symbol, seq)`` through its cursor: a replayed record is not posted again. A
crash between posting and advancing the cursor posts that record twice; clients drop frames at
or below the seq they hold.
"""

from collections.abc import Mapping, Sequence
from typing import Final

from exchange.domain.events import AnyEvent, BookDelta, Trade
from exchange.domain.instruments import Instrument, InstrumentCatalog
from exchange.journal.batch import count
from exchange.journal.cursors import CursoredSink, CursorStore
from exchange.market.books import BookStore
from exchange.market.candles import Bar
from exchange.observability import logger
from exchange.realtime import frames
from exchange.realtime.channels import book_channel, candles_channel, orders_key, trades_channel
from exchange.realtime.connections import ConnectionStore
from exchange.realtime.sender import Message, Sender
from exchange.wire import JournalRecord

# API Gateway takes WebSocket messages up to 128 KB; a record can hold far more events than that.
MAX_ITEMS_PER_FRAME: Final = 500


def _chunks[T](items: Sequence[T]) -> list[Sequence[T]]:
    return [items[i : i + MAX_ITEMS_PER_FRAME] for i in range(0, len(items), MAX_ITEMS_PER_FRAME)]


def _book_frames(
    instrument: Instrument, after: int, last_seq: int, deltas: Sequence[BookDelta]
) -> list[bytes]:
    """The record's deltas as frames whose seq ranges chain from ``after`` to ``last_seq``."""
    chunks = _chunks(deltas) or [()]
    out, prev = [], after
    for index, chunk in enumerate(chunks):
        end = last_seq if index == len(chunks) - 1 else chunk[-1].seq
        out.append(
            frames.encode(frames.book_update(instrument, prev_seq=prev, seq=end, deltas=chunk))
        )
        prev = end
    return out


class Broadcaster:
    """Posts frames to every subscriber of channel keys and drops connections that are gone."""

    def __init__(self, connections: ConnectionStore, sender: Sender) -> None:
        self._connections = connections
        self._sender = sender

    def publish(self, frames_by_key: Mapping[str, Sequence[bytes]]) -> int:
        """Post each key's frames, in order, to its subscribers; returns frames posted."""
        messages: list[Message] = []
        for key, payloads in frames_by_key.items():
            if not payloads:
                continue
            for connection_id in self._connections.subscribers(key):
                messages.extend((connection_id, payload) for payload in payloads)
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
    ) -> None:
        super().__init__(cursors)
        self._broadcaster = broadcaster
        self._books = books
        self._catalog = catalog

    def handle(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        symbol = record.symbol
        instrument = self._catalog.get(symbol)
        deltas = [event for event in events if isinstance(event, BookDelta)]
        tape = [event for event in events if isinstance(event, Trade)]
        self._books.advance(symbol, prev_seq=after, seq=record.last_seq, deltas=deltas)
        by_key: dict[str, list[bytes]] = {
            book_channel(symbol): _book_frames(instrument, after, record.last_seq, deltas),
            trades_channel(symbol): [
                frames.encode(frames.trades(instrument, chunk)) for chunk in _chunks(tape)
            ],
        }
        private: dict[str, list[frames.Frame]] = {}
        for event in events:
            for account_id, item in frames.private_events(instrument, event):
                private.setdefault(account_id, []).append(item)
        for account_id, items in private.items():
            by_key[orders_key(account_id)] = [
                frames.encode(frames.orders(chunk)) for chunk in _chunks(items)
            ]
        self._broadcaster.publish(by_key)
