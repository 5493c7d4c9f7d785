"""The bulk operations' reads beyond one order id: an account's open orders (cancel-all and the
dead man's switch) and its orders by client order id.

``DynamoOrderLookup`` (``exchange.orders.dynamo``) reads the orders table's indexes: the sparse
``open_orders`` (only open orders carry ``open_order_id``) and ``by_client_order_id`` (keys
only; each order is then read from the table). Reads of a global secondary index are eventually
consistent, and a strongly consistent one is refused ("DynamoDB read consistency", Amazon
DynamoDB Developer Guide,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html:
"All reads from GSIs and streams are eventually consistent"; ``ConsistentRead`` on a GSI is a
``ValidationException``, Query API reference): an order placed a moment ago may be missing from
an index, and one that finished a moment ago may still be listed (its cancel is then refused by
the engine, which changes nothing).

So every such read also reads the account's recent orders from the table itself (a Query on its
partition, ``order_id`` between two ULID bounds, strongly consistent): those placed within
``INDEX_LAG_ALLOWANCE_NS`` of the read's cut-off. The two are merged, each order once, the
table's copy winning. The allowance covers the index's propagation (usually well under a second)
plus the time between an order's id (the placing request's clock) and its row's write (the key
claim and the hold come first: milliseconds, at most the orders function's timeout, far below
it when anything is to be recorded at all).
"""

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Final

from exchange.orders.model import Order, Page, PageKey, TimeWindow

# How many of an account's orders with one client order id are considered: the newest this many
# (a client may reuse a client order id when it sends each order with its own Idempotency-Key).
MAX_SAME_CLIENT_ID: Final = 100
# How far before a read's cut-off the table itself is read (consistently) besides the index:
# an order placed earlier than this is taken to be in the index already.
INDEX_LAG_ALLOWANCE_NS: Final = 10_000_000_000
_MS: Final = 1_000_000


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
        """From the ``open_orders`` index (eventually consistent): the account's open orders
        placed before ``placed_before_ns`` (to the millisecond; of one symbol when given),
        oldest first; ``after`` is a page's ``next_key``."""

    @abstractmethod
    def recent_orders(
        self,
        account_id: str,
        window: TimeWindow,
        *,
        limit: int,
        open_only: bool = False,
        symbol: str | None = None,
        client_order_id: str | None = None,
        newest_first: bool = False,
    ) -> list[Order]:
        """From the table itself, strongly consistent: the account's orders placed in
        ``window`` (to the millisecond), open ones only if asked, of ``symbol`` and with
        ``client_order_id`` when given; oldest first unless ``newest_first``; at most
        ``limit``."""

    @abstractmethod
    def by_client_order_id(
        self, account_id: str, client_order_id: str, *, limit: int
    ) -> list[Order]:
        """From the ``by_client_order_id`` index (eventually consistent; each order then read
        consistently): the account's newest ``limit`` orders with this client order id, newest
        first, whatever order the index returns them in."""


def recent_window(cut_off_ns: int, *, open_ended: bool = False) -> TimeWindow:
    """The window the table is read in besides an index: from ``INDEX_LAG_ALLOWANCE_NS`` before
    the cut-off to it (``open_ended``: every order placed since, whatever the placing host's
    clock said).

    >>> recent_window(20_000_000_000_500)
    TimeWindow(start_ns=19990000000000, end_ns=20000000000500)
    >>> recent_window(20_000_000_000_500, open_ended=True).end_ns is None
    True
    """
    # Whole milliseconds (order ids hold milliseconds), so an index read up to the start of this
    # window and this window do not overlap.
    start = (cut_off_ns - INDEX_LAG_ALLOWANCE_NS) // _MS * _MS
    return TimeWindow(start_ns=start, end_ns=None if open_ended else cut_off_ns)


def merged(*sources: Iterable[Order]) -> list[Order]:
    """Each order once (by id), the later source's copy winning, newest first."""
    by_id: dict[str, Order] = {}
    for source in sources:
        by_id.update((order.order_id, order) for order in source)
    return sorted(by_id.values(), key=lambda order: order.order_id, reverse=True)


def find_by_client_order_id(
    lookup: OrderLookup,
    account_id: str,
    client_order_id: str,
    *,
    now_ns: int,
    limit: int = MAX_SAME_CLIENT_ID,
) -> Order | None:
    """The order a client order id names: the index's newest ``limit`` with it and the table's
    recent ones with it (so an order placed a moment ago is found), merged."""
    indexed = lookup.by_client_order_id(account_id, client_order_id, limit=limit)
    recent = lookup.recent_orders(
        account_id,
        recent_window(now_ns, open_ended=True),
        limit=limit,
        client_order_id=client_order_id,
        newest_first=True,
    )
    return pick_by_client_order_id(merged(indexed, recent)[:limit])


def pick_by_client_order_id(orders: list[Order]) -> Order | None:
    """The order a client order id names when a client reused it: the newest open one, else the
    newest one (None when there is none)."""
    newest_first = sorted(orders, key=lambda order: order.order_id, reverse=True)
    for order in newest_first:
        if order.status.is_open:
            return order
    return newest_first[0] if newest_first else None
