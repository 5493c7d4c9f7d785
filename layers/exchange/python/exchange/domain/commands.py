"""Commands: what the API asks of the matching engine.

Prices are integer ticks and quantities integer lots of the symbol's instrument; the API converts
decimals at the edge with ``Instrument.price_to_ticks`` and ``qty_to_lots``. The engine validates
everything else and answers a bad command with ``OrderRejected``.

>>> NewOrder(symbol="BTC-USD", ts=1, order_id="o-1", account_id="a-1", client_order_id="c-1",
...          side=Side.BUY, order_type=OrderType.LIMIT, tif=TimeInForce.GTC, qty=10, price=6500000)
... # doctest: +ELLIPSIS
NewOrder(symbol='BTC-USD', ts=1, order_id='o-1', ...)
"""

from exchange.domain.enums import OrderType, Side, StpMode, TimeInForce
from exchange.domain.messages import Message


class NewOrder(Message, tag="new", frozen=True, kw_only=True):
    """Place an order. ``order_id`` is assigned by the API and unique per symbol.

    ``price`` is required for LIMIT and STOP_LIMIT and must be absent for MARKET and STOP.
    ``stop_price`` is required for STOP and STOP_LIMIT only. ``protection_price`` is required
    for MARKET and STOP (and absent otherwise): the worst price the order may trade at, set by the
    API from the reference price and the band; the funds are held at it, and the engine expires
    what cannot fill within it (``ExpireReason.PRICE_PROTECTION``).
    """

    order_id: str
    account_id: str
    client_order_id: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    qty: int
    price: int | None = None
    stop_price: int | None = None
    post_only: bool = False
    stp: StpMode = StpMode.CANCEL_NEWEST
    protection_price: int | None = None


class CancelOrder(Message, tag="cancel", frozen=True, kw_only=True):
    """Cancel the open remainder of an order. ``command_id`` makes a retry a no-op."""

    command_id: str
    order_id: str
    account_id: str


class AmendOrder(Message, tag="amend", frozen=True, kw_only=True):
    """Change an order's price and/or total quantity (``qty`` counts what has filled already).

    A smaller ``qty`` at the same price keeps queue priority; a larger ``qty`` or a new ``price``
    loses it. A ``qty`` at or below the filled quantity cancels the order.
    """

    command_id: str
    order_id: str
    account_id: str
    price: int | None = None
    qty: int | None = None


Command = NewOrder | CancelOrder | AmendOrder
COMMAND_TYPES: tuple[type[Message], ...] = (NewOrder, CancelOrder, AmendOrder)
