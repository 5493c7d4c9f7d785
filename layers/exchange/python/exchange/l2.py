"""Market-data views the engine publishes and the API and WebSocket fan-out read.

The L2 book lives in Redis under ``book_key(symbol)`` as JSON, in integer ticks and lots, with the
``seq`` of the last event it reflects, so a reader can join it to the delta stream without a gap.
"""

from typing import Final

import msgspec


class BookLevel(msgspec.Struct, frozen=True, array_like=True):
    """``[price, qty, orders]`` of one L2 level, in ticks and lots."""

    price: int
    qty: int
    orders: int


class L2Book(msgspec.Struct, frozen=True):
    symbol: str
    seq: int
    bids: list[BookLevel]
    asks: list[BookLevel]


BOOK_KEY_PREFIX: Final = "book:"
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(L2Book)


def book_key(symbol: str) -> str:
    return f"{BOOK_KEY_PREFIX}{symbol}"


def encode_book(book: L2Book) -> bytes:
    return _encoder.encode(book)


def decode_book(payload: bytes) -> L2Book:
    return _decoder.decode(payload)
