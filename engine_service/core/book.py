"""Orders, price levels and book sides: the data structures under the matcher.

The layout holds no reference cycles (side → level → list → order; an order holds only scalars),
so the cyclic garbage collector never has to walk a big book to free it.

* ``Order``: one open order, resting on the book or held as an untriggered stop. Mutable.
* ``Level``: the FIFO queue at one price, a list plus a ``head`` index. Cancel is O(1): the order
  is marked dead in place (lazy deletion) and matching skips dead entries at the head. The list is
  compacted once dead entries outnumber live ones, so memory stays bounded under cancel churn.
* ``BookSide``: ``dict`` from key to ``Level`` plus the keys in a sorted list with the best at the
  end. The key is the price for bids and minus the price for asks, so on both sides ``keys[-1]`` is
  the best level (O(1)) and "level crosses a taker" is one comparison, ``key >= threshold``.
  Adding or removing a level is a bisect plus a memmove of the levels better than it: near the
  touch, where almost all activity is, that is a handful of pointers.

>>> side = BookSide(is_buy=True)
>>> level = side.add(Order("o-1", "a-1", True, OrderType.LIMIT, TimeInForce.GTC, 100, 0, 5, 0,
...                        StpMode.NONE, False, 1, 0))
>>> (side.best_price(), level.qty, level.count)
(100, 5, 1)
"""

from bisect import bisect_left, insort
from typing import Final

from exchange.domain import OrderType, StpMode, TimeInForce

# A level's list is compacted when it holds more dead entries than live ones and at least this
# many, so the cost of a compaction is always paid for by as many earlier cancels or fills.
COMPACT_MIN: Final = 16


class Order:
    """An open order. ``price`` is 0 for market-like orders and ``stop_price`` 0 for non-stops.

    ``protection`` is a market-like order's own worst price (``NewOrder.protection_price``), 0
    when it has none; the matcher tightens it by the band when it takes.

    ``qty`` is the total in force (after amends), ``filled`` what has traded, ``open_qty`` what
    still rests: ``qty == filled + open_qty`` while the order is open. ``arrival`` orders held
    stops that share a stop price. ``live`` turns False when the order leaves the book.
    """

    __slots__ = (
        "account_id",
        "arrival",
        "filled",
        "held",
        "is_buy",
        "live",
        "open_qty",
        "order_id",
        "order_type",
        "post_only",
        "price",
        "protection",
        "qty",
        "stop_price",
        "stp",
        "tif",
    )

    def __init__(  # noqa: PLR0917 - positional: built on the hot path
        self,
        order_id: str,
        account_id: str,
        is_buy: bool,
        order_type: OrderType,
        tif: TimeInForce,
        price: int,
        stop_price: int,
        qty: int,
        filled: int,
        stp: StpMode,
        post_only: bool,
        arrival: int,
        protection: int,
    ) -> None:
        self.order_id = order_id
        self.account_id = account_id
        self.is_buy = is_buy
        self.order_type = order_type
        self.tif = tif
        self.price = price
        self.stop_price = stop_price
        self.qty = qty
        self.filled = filled
        self.open_qty = qty - filled
        self.stp = stp
        self.post_only = post_only
        self.arrival = arrival
        self.protection = protection
        self.live = True
        self.held = False  # an untriggered stop, in the stop book rather than on a side


class Level:
    """Every resting order at one price, oldest first; ``qty`` and ``count`` cover live ones."""

    __slots__ = ("count", "head", "orders", "price", "qty")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: list[Order] = []
        self.head = 0
        self.qty = 0
        self.count = 0

    def append(self, order: Order) -> None:
        self.orders.append(order)
        self.qty += order.open_qty
        self.count += 1

    def first(self) -> Order:
        """The oldest live order. Only called while ``count > 0``."""
        orders = self.orders
        i = self.head
        while not orders[i].live:
            i += 1
        self.head = i
        return orders[i]

    def remove(self, order: Order) -> None:
        """Take a live order out: it is marked dead and skipped from now on."""
        order.live = False
        self.qty -= order.open_qty
        self.count -= 1
        dead = len(self.orders) - self.count
        if dead > self.count and dead >= COMPACT_MIN:
            self.orders = [o for o in self.orders[self.head :] if o.live]
            self.head = 0

    def live_orders(self) -> list[Order]:
        return [o for o in self.orders[self.head :] if o.live]


class BookSide:
    """One side of a book. See the module docstring for the key convention."""

    __slots__ = ("is_buy", "keys", "levels")

    def __init__(self, is_buy: bool) -> None:
        self.is_buy = is_buy
        self.levels: dict[int, Level] = {}
        self.keys: list[int] = []  # ascending; the best level's key is last

    def key(self, price: int) -> int:
        return price if self.is_buy else -price

    def level(self, key: int) -> Level | None:
        """The level at ``key``, or None."""
        return self.levels.get(key)

    def best(self) -> Level | None:
        keys = self.keys
        return self.levels[keys[-1]] if keys else None

    def best_price(self) -> int | None:
        level = self.best()
        return None if level is None else level.price

    def add(self, order: Order) -> Level:
        """Append a live order at the back of its price's queue; returns the level."""
        key = order.price if self.is_buy else -order.price
        level = self.levels.get(key)
        if level is None:
            level = Level(order.price)
            self.levels[key] = level
            keys = self.keys
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        level.append(order)
        return level

    def remove(self, order: Order) -> Level:
        """Take a live order off its level; returns the level (``count == 0`` if it emptied)."""
        key = order.price if self.is_buy else -order.price
        level = self.levels[key]
        level.remove(order)
        if level.count == 0:
            self.drop(key)
        return level

    def drop(self, key: int) -> None:
        """Forget an empty level."""
        del self.levels[key]
        keys = self.keys
        if keys[-1] == key:
            keys.pop()
        else:
            del keys[bisect_left(keys, key)]

    def top(self, depth: int) -> list[Level]:
        """The best ``depth`` levels, best first."""
        levels = self.levels
        keys = self.keys
        return [levels[keys[i]] for i in range(len(keys) - 1, max(len(keys) - depth, 0) - 1, -1)]
