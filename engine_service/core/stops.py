"""Held stop orders, released in trigger order by the last trade price.

A buy stop triggers when the last trade is at or above its stop price, a sell stop when it is at
or below. Trigger order is deterministic: buy stops lowest stop price first, sell stops highest
first (the order a moving price reaches them), ties by arrival; buy stops are looked at before
sell stops. Both kinds can be due at once only on a symbol's first trade.

Two heaps with lazy deletion: cancel marks the order dead in O(1) and the heap is rebuilt once
dead entries outnumber live ones, so memory stays bounded under cancel churn.

>>> from exchange.domain import OrderType, StpMode, TimeInForce
>>> stops = StopBook()
>>> stops.add(Order("s-1", "a", True, OrderType.STOP, TimeInForce.IOC, 0, 105, 1, 0,
...                 StpMode.NONE, False, 1, 110))
>>> stops.pop_due(104) is None, stops.pop_due(105).order_id, stops.count
(True, 's-1', 0)
"""

from heapq import heapify, heappop, heappush

from engine_service.core.book import COMPACT_MIN, Order


class StopBook:
    """Untriggered stop orders of one symbol."""

    __slots__ = ("buys", "count", "dead", "sells")

    def __init__(self) -> None:
        # (stop price, arrival, order) for buys; (-stop price, arrival, order) for sells. The
        # arrival is unique, so the order itself is never compared.
        self.buys: list[tuple[int, int, Order]] = []
        self.sells: list[tuple[int, int, Order]] = []
        self.count = 0
        self.dead = 0

    def add(self, order: Order) -> None:
        order.held = True
        if order.is_buy:
            heappush(self.buys, (order.stop_price, order.arrival, order))
        else:
            heappush(self.sells, (-order.stop_price, order.arrival, order))
        self.count += 1

    def remove(self, order: Order) -> None:
        """Forget a held stop (cancelled or triggered)."""
        order.held = False
        order.live = False
        self.count -= 1
        self.dead += 1
        if self.dead > self.count and self.dead >= COMPACT_MIN:
            self.buys = [entry for entry in self.buys if entry[2].live]
            self.sells = [entry for entry in self.sells if entry[2].live]
            heapify(self.buys)
            heapify(self.sells)
            self.dead = 0

    def pop_due(self, last_price: int) -> Order | None:
        """Take out the next stop that ``last_price`` triggers, or return None."""
        if self.count == 0:
            return None
        heap = self.buys
        while heap and not heap[0][2].live:
            heappop(heap)
            self.dead -= 1
        if not (heap and heap[0][0] <= last_price):
            heap = self.sells
            while heap and not heap[0][2].live:
                heappop(heap)
                self.dead -= 1
            if not (heap and -heap[0][0] >= last_price):
                return None
        order = heappop(heap)[2]
        order.held = False
        self.count -= 1
        return order

    def held(self) -> list[Order]:
        """Live held stops in arrival order (for snapshots and views)."""
        live = [entry[2] for entry in self.buys + self.sells if entry[2].live]
        return sorted(live, key=_arrival)


def _arrival(order: Order) -> int:
    return order.arrival
