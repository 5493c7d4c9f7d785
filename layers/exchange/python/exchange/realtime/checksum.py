"""The checksum every ``snapshot`` and ``book`` frame carries, so a client can verify the book it
keeps from the frames (the client package holds a copy of this module: keep the two equal).

``checksum`` is ``zlib.crc32`` (unsigned) of the UTF-8 text made from the book *after* the frame:
the best 25 bids (highest first), then the best 25 asks (lowest first); each level is
``price:qty`` with the exact decimal strings the frames carry (e.g. ``"65000.00:0.5000"``, never
re-formatted); the levels of a side are joined by ``,``, the two sides by ``|``; an empty side
is the empty string. Standard library only.

>>> book_checksum([("100.5", "2"), ("100.4", "1")], [("100.6", "3")])
2145553536
>>> checksum_text([("100.5", "2"), ("100.4", "1")], [("100.6", "3")])
'100.5:2,100.4:1|100.6:3'
>>> book_checksum([], []) == zlib.crc32(b"|")
True

A client that keeps each side as ``{price string: qty string}`` sorts it best first:

>>> bids = {"100.4": "1", "100.5": "2"}
>>> book_checksum(best_first(bids, descending=True), best_first({"100.6": "3"}))
2145553536
"""

import zlib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from itertools import islice
from typing import Final

DEPTH: Final = 25

Level = tuple[str, str]  # (price, qty) as the frames' decimal strings


def checksum_text(bids: Iterable[Level], asks: Iterable[Level]) -> str:
    """The text that is checksummed; each side best first (only its first ``DEPTH`` count)."""
    return "|".join(
        ",".join(f"{price}:{qty}" for price, qty in islice(side, DEPTH)) for side in (bids, asks)
    )


def book_checksum(bids: Iterable[Level], asks: Iterable[Level]) -> int:
    """The frames' ``checksum`` of a book whose sides are given best first."""
    return zlib.crc32(checksum_text(bids, asks).encode())


def best_first(side: Mapping[str, str], *, descending: bool = False) -> list[Level]:
    """A side kept as ``{price: qty}`` as levels best first: bids ``descending``, asks not."""
    return sorted(side.items(), key=lambda level: Decimal(level[0]), reverse=descending)
