"""An L2 book kept from the WebSocket API's snapshot and delta frames, with gap detection and
checksum verification.

Each ``book`` frame covers seqs ``prev_seq + 1 .. seq``. Frames that arrive before the snapshot
are held; after it, the ones it already covers are dropped, and each next frame must start where
the book stands (``prev_seq == book.seq``), or there is a gap and the book must be rebuilt.

Every snapshot and book frame carries ``checksum``: the CRC-32 of the book after the frame (see
``checksum``). A book that does not match it has gone wrong, and is rebuilt like after a gap.

>>> book = LocalBook("BTC-USD")
>>> book.apply_snapshot({"seq": 5, "bids": [["100.00", "1.0", 1]], "asks": [["101.00", "2.0", 1]],
...                      "checksum": 980344026})
>>> book.apply_frame({"prev_seq": 5, "seq": 6, "checksum": 3500598974,
...                   "deltas": [{"seq": 6, "side": "BUY", "price": "100.00", "qty": "0"}]})
True
>>> book.best_bid(), book.best_ask(), book.seq
(None, (Decimal('101.00'), Decimal('2.0')), 6)
"""

import zlib
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final

CHECKSUM_DEPTH: Final = 25


class SeqGap(Exception):
    """A book frame does not follow the book's seq: frames were lost; resubscribe."""

    def __init__(self, symbol: str, expected: int, got: int) -> None:
        super().__init__(f"{symbol}: expected a frame after seq {expected}, got one after {got}")
        self.symbol = symbol
        self.expected = expected
        self.got = got


class ChecksumMismatch(Exception):
    """The book kept does not match the frame's checksum: rebuild it (resubscribe)."""

    def __init__(self, symbol: str, seq: int, expected: int, got: int) -> None:
        super().__init__(f"{symbol}: at seq {seq} the book's checksum is {got}, not {expected}")
        self.symbol = symbol
        self.seq = seq
        self.expected = expected
        self.got = got


def checksum_text(
    bids: Iterable[tuple[str, str]], asks: Iterable[tuple[str, str]], depth: int = CHECKSUM_DEPTH
) -> str:
    """The text a checksum covers: the best ``depth`` bids (highest first), then the best
    ``depth`` asks (lowest first), each level ``price:qty`` in the frames' exact decimal text,
    levels joined by ``,`` and the two sides by ``|``.

    >>> checksum_text([("100.4", "1"), ("100.5", "2")], [("100.6", "3")])
    '100.5:2,100.4:1|100.6:3'
    """
    best_bids = sorted(bids, key=lambda level: Decimal(level[0]), reverse=True)[:depth]
    best_asks = sorted(asks, key=lambda level: Decimal(level[0]))[:depth]
    return "|".join(
        ",".join(f"{price}:{qty}" for price, qty in side) for side in (best_bids, best_asks)
    )


def checksum(
    bids: Iterable[tuple[str, str]], asks: Iterable[tuple[str, str]], depth: int = CHECKSUM_DEPTH
) -> int:
    """zlib's CRC-32 (unsigned) of ``checksum_text``'s UTF-8 bytes.

    >>> checksum([], [])
    2343686810
    """
    return zlib.crc32(checksum_text(bids, asks, depth).encode())


class LocalBook:
    def __init__(self, symbol: str, *, verify: bool = True) -> None:
        self.symbol = symbol
        self.seq: int | None = None  # None until the snapshot
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.verify = verify
        self.verified = 0  # frames whose checksum matched
        # Each level's exact text as the frames gave it: the checksum covers the text, and
        # Decimal would turn "0.00000001" into "1E-8".
        self._text: dict[str, dict[Decimal, tuple[str, str]]] = {"BUY": {}, "SELL": {}}
        self._held: list[dict[str, Any]] = []

    @property
    def ready(self) -> bool:
        return self.seq is not None

    def reset(self) -> None:
        self.seq = None
        self.bids.clear()
        self.asks.clear()
        for side in self._text.values():
            side.clear()
        self._held.clear()

    def apply_snapshot(self, frame: dict[str, Any]) -> None:
        """Start from a snapshot; ChecksumMismatch if it does not match its own checksum."""
        held, self._held = self._held, []
        self.reset()
        for side, levels in (("BUY", frame.get("bids", [])), ("SELL", frame.get("asks", []))):
            for price, qty, *_ in levels:
                self._set(side, str(price), str(qty))
        self.seq = int(frame["seq"])
        self._check(frame)
        for pending in held:
            self.apply_frame(pending)

    def apply_frame(self, frame: dict[str, Any]) -> bool:
        """Apply a delta frame; False when it changed nothing (held, or already covered).
        Raises SeqGap when frames are missing, ChecksumMismatch when the book is wrong."""
        if self.seq is None:
            self._held.append(frame)
            return False
        seq, prev_seq = int(frame["seq"]), int(frame["prev_seq"])
        if seq <= self.seq:
            return False  # the snapshot (or an earlier frame) already has it
        if prev_seq > self.seq:
            raise SeqGap(self.symbol, self.seq, prev_seq)
        for delta in frame.get("deltas", []):
            if int(delta["seq"]) <= self.seq:
                continue  # a frame straddling the snapshot: only the newer part applies
            self._set(str(delta["side"]).upper(), str(delta["price"]), str(delta["qty"]))
        self.seq = seq
        self._check(frame)
        return True

    def _set(self, side: str, price_text: str, qty_text: str) -> None:
        book = self.bids if side == "BUY" else self.asks
        texts = self._text["BUY" if side == "BUY" else "SELL"]
        price, qty = Decimal(price_text), Decimal(qty_text)
        if qty == 0:
            book.pop(price, None)
            texts.pop(price, None)
        else:
            book[price] = qty
            texts[price] = (price_text, qty_text)

    def checksum(self) -> int:
        """The checksum of the book as kept."""
        return checksum(self._text["BUY"].values(), self._text["SELL"].values())

    def _check(self, frame: dict[str, Any]) -> None:
        expected = frame.get("checksum")
        if not self.verify or expected is None:
            return
        got = self.checksum()
        if got != int(expected):
            assert self.seq is not None  # noqa: S101 - set before any check
            raise ChecksumMismatch(self.symbol, self.seq, int(expected), got)
        self.verified += 1

    def best_bid(self) -> tuple[Decimal, Decimal] | None:
        if not self.bids:
            return None
        price = max(self.bids)
        return price, self.bids[price]

    def best_ask(self) -> tuple[Decimal, Decimal] | None:
        if not self.asks:
            return None
        price = min(self.asks)
        return price, self.asks[price]

    def levels(
        self, depth: int = 10
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        bids = sorted(self.bids.items(), reverse=True)[:depth]
        asks = sorted(self.asks.items())[:depth]
        return bids, asks
