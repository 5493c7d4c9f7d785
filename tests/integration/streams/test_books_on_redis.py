"""The L2 book in Redis that fan-out keeps current and new subscribers receive first."""

import uuid
from collections.abc import Iterator

import pytest
import redis

from exchange.domain import BookDelta, Side
from exchange.l2 import BookLevel, L2Book, book_key, encode_book
from exchange.market.books import RedisBookStore


class Books:
    """A RedisBookStore on the test database, on symbols of its own, which it cleans up (other
    agents share this Redis)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.store = RedisBookStore(lambda: client)
        self.keys: list[str] = []

    def new_symbol(self) -> str:
        name = f"T{uuid.uuid4().hex[:8].upper()}-USD"
        self.keys.append(book_key(name))
        return name


@pytest.fixture
def books(redis_url: str) -> Iterator[Books]:
    client = redis.Redis.from_url(redis_url)
    books = Books(client)
    yield books
    if books.keys:
        client.delete(*books.keys)
    client.close()


def delta(name: str, seq: int, side: Side, price: int, qty: int) -> BookDelta:
    return BookDelta(symbol=name, ts=1, seq=seq, side=side, price=price, qty=qty, orders=1)


def test_deltas_advance_the_book_from_its_first_record(books: Books) -> None:
    store, name = books.store, books.new_symbol()
    store.advance(name, prev_seq=0, seq=3, deltas=[delta(name, 2, Side.BUY, 100, 5),
                                                   delta(name, 3, Side.SELL, 105, 2)])  # fmt: skip
    store.advance(name, prev_seq=3, seq=6, deltas=[delta(name, 4, Side.BUY, 101, 1),
                                                   delta(name, 6, Side.BUY, 100, 0)])  # fmt: skip
    assert store.get(name) == L2Book(
        symbol=name, seq=6, bids=[BookLevel(101, 1, 1)], asks=[BookLevel(105, 2, 1)]
    )


def test_a_newer_engine_snapshot_is_never_replaced_by_an_older_record(books: Books) -> None:
    # Given the engine wrote its view at seq 50
    store, name = books.store, books.new_symbol()
    newer = L2Book(symbol=name, seq=50, bids=[BookLevel(99, 7, 3)], asks=[])
    books.client.set(book_key(name), encode_book(newer))
    # When fan-out brings a record that ends before it, or one that starts after a hole
    store.advance(name, prev_seq=40, seq=45, deltas=[delta(name, 41, Side.BUY, 99, 1)])
    store.advance(name, prev_seq=60, seq=70, deltas=[delta(name, 61, Side.BUY, 99, 2)])
    # Then the engine's book stands
    assert store.get(name) == newer
    # And a record that overlaps it applies only what is newer
    overlap = [delta(name, 49, Side.BUY, 99, 1), delta(name, 52, Side.SELL, 120, 4)]
    store.advance(name, prev_seq=48, seq=52, deltas=overlap)
    assert store.get(name) == L2Book(
        symbol=name, seq=52, bids=[BookLevel(99, 7, 3)], asks=[BookLevel(120, 4, 1)]
    )
