"""The L2 book of each symbol: ``book:<symbol>`` in Redis, read by ``GET /v1/markets/{symbol}/book``
and sent first to a ``book.{symbol}`` subscriber.

The engine writes it only with each snapshot (every N events or T seconds), which would hand a
new subscriber a snapshot older than the live deltas. So fan-out keeps it current: before it
posts a record's deltas it applies them here (``advance``), and a subscriber, which registers
before it reads the snapshot, gets either a snapshot that already holds a record or that record's
frame, never neither. Updates only move the book forward: a book at or past the record stays,
and one behind the record's start (it missed deltas) waits for the engine's next snapshot.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import redis

from exchange.domain.enums import Side
from exchange.domain.errors import ConfigurationError
from exchange.domain.events import BookDelta
from exchange.l2 import BookLevel, L2Book, book_key, decode_book, encode_book
from exchange.observability import logger
from exchange.settings import RedisSettings


def apply_deltas(book: L2Book, deltas: Sequence[BookDelta], seq: int) -> L2Book:
    """``book`` with the deltas after its seq applied, now at ``seq``. Bids best (highest) first,
    asks best (lowest) first; a level whose qty is 0 is removed."""
    sides = {
        Side.BUY: {level.price: level for level in book.bids},
        Side.SELL: {level.price: level for level in book.asks},
    }
    for delta in deltas:
        if delta.seq <= book.seq:
            continue
        levels = sides[delta.side]
        if delta.qty == 0:
            levels.pop(delta.price, None)
        else:
            levels[delta.price] = BookLevel(delta.price, delta.qty, delta.orders)
    return L2Book(
        symbol=book.symbol,
        seq=seq,
        bids=sorted(sides[Side.BUY].values(), key=lambda level: -level.price),
        asks=sorted(sides[Side.SELL].values(), key=lambda level: level.price),
    )


def advanced(
    book: L2Book | None, symbol: str, *, prev_seq: int, seq: int, deltas: Sequence[BookDelta]
) -> L2Book | None:
    """The book after a record covering ``prev_seq + 1 .. seq``; None when it must not change."""
    if book is None:
        if prev_seq != 0:
            return None  # nothing to build on until the engine's first snapshot
        book = L2Book(symbol=symbol, seq=0, bids=[], asks=[])
    if book.seq >= seq:
        return None
    if book.seq < prev_seq:
        logger.warning(
            "L2 book behind the journal; waiting for the engine's snapshot",
            extra={"symbol": symbol, "book_seq": book.seq, "record_prev_seq": prev_seq},
        )
        return None
    return apply_deltas(book, deltas, seq)


class BookStore(ABC):
    @abstractmethod
    def get(self, symbol: str) -> L2Book | None:
        """The latest L2 snapshot of ``symbol``, or None when none was published."""

    @abstractmethod
    def advance(
        self, symbol: str, *, prev_seq: int, seq: int, deltas: Sequence[BookDelta]
    ) -> None: ...


class RedisBookStore(BookStore):
    """Optimistic: WATCH the key, compute, MULTI/EXEC; a concurrent write (the engine's snapshot)
    makes it start over from what is there now. One client per container, made on first use
    (never at import)."""

    def __init__(
        self,
        client_factory: Callable[[], redis.Redis],
        *,
        key_prefix: str = "",
        attempts: int = 5,
    ) -> None:
        self._factory = client_factory
        self._client: redis.Redis | None = None
        self._prefix = key_prefix
        self._attempts = attempts

    @classmethod
    def from_settings(cls, settings: RedisSettings) -> "RedisBookStore":
        url = settings.redis_url
        if not url:
            raise ConfigurationError("set EXCHANGE_REDIS_URL (the L2 books)")
        return cls(lambda: redis.Redis.from_url(url, socket_timeout=2.0))

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def _key(self, symbol: str) -> str:
        return f"{self._prefix}{book_key(symbol)}"

    def get(self, symbol: str) -> L2Book | None:
        raw = self.client.get(self._key(symbol))
        return None if raw is None else decode_book(raw)  # type: ignore[arg-type]

    def advance(self, symbol: str, *, prev_seq: int, seq: int, deltas: Sequence[BookDelta]) -> None:
        key = self._key(symbol)
        for _ in range(self._attempts):
            with self.client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    raw = pipe.get(key)
                    current = None if raw is None else decode_book(raw)  # type: ignore[arg-type]
                    book = advanced(current, symbol, prev_seq=prev_seq, seq=seq, deltas=deltas)
                    if book is None:
                        return
                    pipe.multi()
                    pipe.set(key, encode_book(book))
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue
        logger.warning("L2 book not advanced: kept changing", extra={"symbol": symbol})
