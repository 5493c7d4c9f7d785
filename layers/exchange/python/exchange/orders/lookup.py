"""The bulk operations' reads beyond one order id: an account's open orders (cancel-all and the
dead man's switch) and its orders by client order id.

``DynamoOrderLookup`` (``exchange.orders.dynamo``) reads the orders table's indexes: the sparse
``open_orders`` (only open orders carry ``open_order_id``) and ``by_client_order_id`` (keys
only; each order is then read from the table). Global secondary indexes are read eventually
consistently: an order placed a moment ago may be missing, and one that finished a moment ago may
still be listed (its cancel is then refused by the engine, which changes nothing).
"""

from abc import ABC, abstractmethod
from typing import Final

from exchange.orders.model import Order, Page, PageKey

# How many of an account's orders with one client order id are considered (a client may reuse a
# client order id when it sends each order with its own Idempotency-Key).
MAX_SAME_CLIENT_ID: Final = 100


class OrderLookup(ABC):
    @abstractmethod
    def open_orders(
        self,
        account_id: str,
        *,
        symbol: str | None,
        placed_before_ns: int,
        limit: int,
        after: PageKey | None,
    ) -> Page[Order]:
        """The account's open orders placed before ``placed_before_ns`` (to the millisecond;
        of one symbol when given), oldest first; ``after`` is a page's ``next_key``."""

    @abstractmethod
    def by_client_order_id(
        self, account_id: str, client_order_id: str, *, limit: int
    ) -> list[Order]:
        """The account's orders with this client order id, newest first, at most ``limit``."""


def pick_by_client_order_id(orders: list[Order]) -> Order | None:
    """The order a client order id names when a client reused it: the newest open one, else the
    newest one (None when there is none)."""
    newest_first = sorted(orders, key=lambda order: order.order_id, reverse=True)
    for order in newest_first:
        if order.status.is_open:
            return order
    return newest_first[0] if newest_first else None
