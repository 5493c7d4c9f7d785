"""A strategy's position and P&L from its fills, exact in ``Decimal`` (no division anywhere):
open lots are closed first in, first out; what a fill closes is realized, what stays open is
marked to the last trade price. Fees are left out (the ledger charges them, not the engine), so
this is gross P&L.

>>> book = PnL()
>>> book.fill("buy", Decimal("100"), Decimal("2"))
>>> book.fill("sell", Decimal("103"), Decimal("1"))
>>> book.mark(Decimal("101"))
>>> book.realized, book.unrealized, book.total, book.position
(Decimal('3'), Decimal('1'), Decimal('4'), Decimal('1'))
"""

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)


@dataclass
class PnL:
    realized: Decimal = ZERO
    last_price: Decimal | None = None
    bought: Decimal = ZERO
    sold: Decimal = ZERO
    # Open lots, oldest first: (price, signed qty), all of one sign (long or short).
    lots: deque[tuple[Decimal, Decimal]] = field(default_factory=deque)

    @property
    def position(self) -> Decimal:
        return sum((qty for _price, qty in self.lots), ZERO)

    def fill(self, side: str, price: Decimal, qty: Decimal) -> None:
        """Apply one fill of the strategy (``side`` is its own)."""
        if side == "buy":
            self.bought += qty
        else:
            self.sold += qty
        signed = qty if side == "buy" else -qty
        while signed and self.lots and (self.lots[0][1] > 0) != (signed > 0):
            lot_price, lot_qty = self.lots[0]
            closed = min(abs(signed), abs(lot_qty)) * (1 if lot_qty > 0 else -1)
            self.realized += (price - lot_price) * closed
            signed += closed
            if closed == lot_qty:
                self.lots.popleft()
            else:
                self.lots[0] = (lot_price, lot_qty - closed)
        if signed:
            self.lots.append((price, signed))

    def mark(self, price: Decimal) -> None:
        self.last_price = price

    @property
    def unrealized(self) -> Decimal:
        if self.last_price is None:
            return ZERO
        return sum(((self.last_price - price) * qty for price, qty in self.lots), ZERO)

    @property
    def total(self) -> Decimal:
        return self.realized + self.unrealized

    def as_dict(self) -> dict[str, str | None]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else format(value, "f")

        return {
            "position": text(self.position),
            "bought": text(self.bought),
            "sold": text(self.sold),
            "last_price": text(self.last_price),
            "realized": text(self.realized),
            "unrealized": text(self.unrealized),
            "total": text(self.total),
        }
