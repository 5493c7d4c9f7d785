"""Fan-out's own copy of each L2 book, exactly at the last seq it posted: what the ``book``
frames' checksums are computed from.

The public book (``market.books``: what a new subscriber's snapshot and REST read) may be ahead
of fan-out, since the engine overwrites it with each of its snapshots, taken at the engine's
seq while fan-out is still behind on the journal. A frame's checksum must be that of the book at
the frame's own seq, so fan-out keeps a copy of its own (every level the deltas built, under
``fanout:book:{symbol}`` in Redis, and in memory) and moves it record by record. The base for a
record covering ``after + 1 .. last_seq`` is

- the copy, when it is at ``after`` (always, in steady state; the memory spares the read);
- else the one of the copy and the public book whose seq lies in ``after .. last_seq`` (a lost
  copy restarts from the public book at fan-out's position, or from an engine snapshot taken
  inside the record: frames that end before that seq get no checksum);
- else, before the symbol's first event, the empty book;
- else none: the frames carry a null checksum until one of the above holds again.

A base taken from the public book has the engine's snapshot depth (``book_depth`` levels a
side); a sweep deeper than that can bring up a level neither it nor a client that started from
the same snapshot knows, which the checksum then reveals (the client subscribes again).
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Final

import redis

from exchange.l2 import L2Book, book_key, decode_book, encode_book
from exchange.market.books import BookStore

TRACKED_PREFIX: Final = "fanout:"


class TrackedBooks(ABC):
    """Where fan-out keeps its copies."""

    @abstractmethod
    def get(self, symbol: str) -> L2Book | None: ...

    @abstractmethod
    def put(self, book: L2Book) -> None: ...


class RedisTrackedBooks(TrackedBooks):
    """``fanout:book:{symbol}``, next to the public ``book:{symbol}``; plain GET and SET: only
    fan-out writes it, and a symbol's records (its partition key) reach fan-out in order, one
    batch at a time, even with a parallelization factor above 1
    (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html)."""

    def __init__(self, client: Callable[[], redis.Redis], *, prefix: str = TRACKED_PREFIX) -> None:
        self._client = client
        self._prefix = prefix

    def get(self, symbol: str) -> L2Book | None:
        raw = self._client().get(f"{self._prefix}{book_key(symbol)}")
        return None if raw is None else decode_book(raw)  # type: ignore[arg-type]

    def put(self, book: L2Book) -> None:
        self._client().set(f"{self._prefix}{book_key(book.symbol)}", encode_book(book))


class BookTracker:
    """Fan-out's books: the base of each record, and the book after it kept for the next."""

    def __init__(self, store: TrackedBooks | None, public: BookStore) -> None:
        """Without a ``store`` the copy lives in memory only (a new container starts again from
        the public book)."""
        self._store = store
        self._public = public
        self._memory: dict[str, L2Book] = {}

    def base(self, symbol: str, *, after: int, last_seq: int) -> L2Book | None:
        """The book at a seq in ``after .. last_seq`` to build the record's frames on (the
        lowest one found), or None when there is none."""
        kept = self._memory.get(symbol)
        if kept is not None and kept.seq == after:
            return kept
        stored = None if self._store is None else self._store.get(symbol)
        found = [
            book
            for book in (stored, self._public.get(symbol))
            if book is not None and after <= book.seq <= last_seq
        ]
        if found:
            return min(found, key=lambda book: book.seq)
        if after == 0:
            return L2Book(symbol=symbol, seq=0, bids=[], asks=[])
        return None

    def keep(self, book: L2Book) -> None:
        if self._store is not None:
            self._store.put(book)
        self._memory[book.symbol] = book
