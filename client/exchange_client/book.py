"""An L2 book kept from the WebSocket API's snapshot and delta frames, with gap detection.

Each ``book`` frame covers seqs ``prev_seq + 1 .. seq``. Frames that arrive before the snapshot
are held; after it, the ones it already covers are dropped, and each next frame must start where
the book stands (``prev_seq == book.seq``), or there is a gap and the book must be rebuilt.

>>> book = LocalBook("BTC-USD")
>>> book.apply_snapshot({"seq": 5, "bids": [["100.00", "1.0", 1]], "asks": [["101.00", "2.0", 1]]})
>>> book.apply_frame({"prev_seq": 5, "seq": 6,
...                   "deltas": [{"seq": 6, "side": "BUY", "price": "100.00", "qty": "0"}]})
True
>>> book.best_bid(), book.best_ask(), book.seq
(None, (Decimal('101.00'), Decimal('2.0')), 6)
"""

from decimal import Decimal
from typing import Any


class SeqGap(Exception):
    """A book frame does not follow the book's seq: frames were lost; resubscribe."""

    def __init__(self, symbol: str, expected: int, got: int) -> None:
        super().__init__(f"{symbol}: expected a frame after seq {expected}, got one after {got}")
        self.symbol = symbol
        self.expected = expected
        self.got = got


class LocalBook:
    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.seq: int | None = None  # None until the snapshot
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self._held: list[dict[str, Any]] = []

    @property
    def ready(self) -> bool:
        return self.seq is not None

    def reset(self) -> None:
        self.seq = None
        self.bids.clear()
        self.asks.clear()
        self._held.clear()

    def apply_snapshot(self, frame: dict[str, Any]) -> None:
        self.bids = {Decimal(p): Decimal(q) for p, q, *_ in frame.get("bids", [])}
        self.asks = {Decimal(p): Decimal(q) for p, q, *_ in frame.get("asks", [])}
        self.seq = int(frame["seq"])
        held, self._held = self._held, []
        for pending in held:
            self.apply_frame(pending)

    def apply_frame(self, frame: dict[str, Any]) -> bool:
        """Apply a delta frame; False when it changed nothing (held, or already covered).
        Raises SeqGap when frames are missing."""
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
            side = self.bids if delta["side"].upper() == "BUY" else self.asks
            price, qty = Decimal(delta["price"]), Decimal(delta["qty"])
            if qty == 0:
                side.pop(price, None)
            else:
                side[price] = qty
        self.seq = seq
        return True

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
