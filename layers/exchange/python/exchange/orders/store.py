"""The order store port: orders and fills of one account, as the API reads and writes them.

``DynamoOrderStore`` (``exchange.orders.dynamo``) implements it on the tables of
``exchange.tables``; ``InMemoryOrderStore`` (``exchange.testing.fakes``) is the unit tests' and
the benchmark's fake. Both page the same way: newest first, and a page's ``next_key`` holds the
key attributes of its last item, which ``check_page_key`` validates when a client sends it back
(inside an opaque cursor) so a tampered cursor is a 400 and can never reach another account.

A listing with a time window (``TimeWindow``) reads a range of sort keys. Orders by symbol and
status stay on the ``by_symbol_status`` index (its keys end with the order id); by symbol alone
that index is grouped by status, not by time, so a windowed listing by symbol alone reads the
account's orders in the window and keeps the symbol's (``by_symbol_index``).
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from decimal import Decimal

from exchange.orders.errors import InvalidCursor
from exchange.orders.model import ALL_TIME, Fill, Order, OrderQuery, Page, PageKey, TimeWindow
from exchange.tables import symbol_status_key

_MAX_KEY_VALUE = 256


class OrderStore(ABC):
    @abstractmethod
    def add(self, order: Order) -> bool:
        """Record a new order (status PENDING_NEW) unless its id is recorded already (a resumed
        placement); returns whether it wrote. Raises StoreUnavailable if it cannot tell."""

    @abstractmethod
    def get(self, account_id: str, order_id: str) -> Order | None:
        """The account's order, or None: another account's order id finds nothing."""

    @abstractmethod
    def list(self, account_id: str, query: OrderQuery, after: PageKey | None) -> Page[Order]:
        """Newest first (by symbol alone: by status, then newest first), within
        ``query.window``; by symbol (and status) through the ``by_symbol_status`` index."""

    @abstractmethod
    def count_open(self, account_id: str, up_to: int) -> int:
        """How many orders the account has open, counting no further than ``up_to``."""

    @abstractmethod
    def last_trade_price(self, symbol: str, *, min_qty: Decimal | None = None) -> str | None:
        """The price of the symbol's last trade of at least ``min_qty`` among its recent ones
        (the public tape), or None."""

    @abstractmethod
    def fills(
        self,
        account_id: str,
        *,
        order_id: str | None,
        limit: int,
        after: PageKey | None,
        window: TimeWindow = ALL_TIME,
    ) -> Page[Fill]:
        """The account's fills within ``window``, newest first; of one order when ``order_id``
        is given."""


def page_of[T](items: list[T], limit: int, key_of: Callable[[T], PageKey]) -> Page[T]:
    """A page from ``limit + 1`` fetched items: the extra one only says a next page exists."""
    if len(items) <= limit:
        return Page(items=items)
    kept = items[:limit]
    return Page(items=kept, next_key=key_of(kept[-1]))


def by_symbol_index(query: OrderQuery) -> bool:
    """Whether the listing reads the ``by_symbol_status`` index (else the account's orders)."""
    return query.symbol is not None and (query.status is not None or not query.window.bounded)


def symbol_status_prefix(query: OrderQuery) -> str | None:
    """The ``begins_with`` of a listing on the ``by_symbol_status`` index, or None when the
    listing reads the account's orders."""
    if query.symbol is None or not by_symbol_index(query):
        return None
    if query.status is None:
        return f"{query.symbol}#"
    return symbol_status_key(query.symbol, query.status.value, "")


def order_key(order: Order, query: OrderQuery) -> PageKey:
    """The page key after ``order`` in a listing of ``query``'s shape."""
    key: PageKey = {"account_id": order.account_id, "order_id": order.order_id}
    if by_symbol_index(query):
        key["symbol_status"] = symbol_status_key(order.symbol, order.status.value, order.order_id)
    return key


def in_listing(order: Order, query: OrderQuery) -> bool:
    """Whether ``order`` belongs to the listing (what a store without indexes filters on)."""
    ids = query.window.order_ids()
    return (
        (query.symbol is None or order.symbol == query.symbol)
        and (query.status is None or order.status is query.status)
        and (not query.window.bounded or ids[0] <= order.order_id <= ids[1])
    )


def fill_key(account_id: str, fill: Fill, *, by_order: bool) -> PageKey:
    key: PageKey = {"account_id": account_id, "fill_id": fill.fill_id}
    if by_order:
        key["order_id"] = fill.order_id
    return key


def check_order_key(key: PageKey, account_id: str, query: OrderQuery) -> PageKey:
    prefix = symbol_status_prefix(query)
    names = {"account_id", "order_id"} | ({"symbol_status"} if prefix is not None else set())
    _check(key, names, {"account_id": account_id})
    if prefix is not None and not str(key["symbol_status"]).startswith(prefix):
        raise InvalidCursor("cursor does not belong to this listing")
    return key


def check_fill_key(key: PageKey, account_id: str, order_id: str | None) -> PageKey:
    expected: dict[str, str | int] = {"account_id": account_id}
    names = {"account_id", "fill_id"}
    if order_id is not None:
        names.add("order_id")
        expected["order_id"] = order_id
    return _check(key, names, expected)


def _check(key: PageKey, names: set[str], expected: Mapping[str, str | int]) -> PageKey:
    if set(key) != names:
        raise InvalidCursor("cursor does not belong to this listing")
    for value in key.values():
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidCursor("cursor is malformed")
        if isinstance(value, str) and not 0 < len(value) <= _MAX_KEY_VALUE:
            raise InvalidCursor("cursor is malformed")
    if any(key[name] != value for name, value in expected.items()):
        raise InvalidCursor("cursor does not belong to this listing")
    return key
