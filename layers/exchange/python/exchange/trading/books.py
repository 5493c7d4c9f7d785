"""The book source on Redis: the engine writes each symbol's L2 view at ``book:<symbol>``."""

from collections.abc import Callable
from typing import TYPE_CHECKING

from exchange.marketdata import L2Book, book_key, decode_book
from exchange.trading.markets import BookSource

if TYPE_CHECKING:
    from redis import Redis


class RedisBookSource(BookSource):
    """One client per container, made on first use (never at import)."""

    def __init__(self, client_factory: Callable[[], "Redis"], *, key_prefix: str = "") -> None:
        self._factory = client_factory
        self._client: Redis | None = None
        self._prefix = key_prefix

    def get(self, symbol: str) -> L2Book | None:
        if self._client is None:
            self._client = self._factory()
        payload = self._client.get(f"{self._prefix}{book_key(symbol)}")
        if payload is None:
            return None
        assert isinstance(payload, bytes)  # noqa: S101 - the client is made without decoding
        return decode_book(payload)
