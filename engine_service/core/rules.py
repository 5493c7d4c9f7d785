"""Static checks of a command's fields, before the book is looked at.

Commands carry integer ticks and lots, so a price off the tick or a quantity off the lot cannot be
expressed here: the API converts decimals at the edge with ``Instrument.price_to_ticks`` and
``Instrument.qty_to_lots``, which raise ``OffTick`` / ``OffLot``. Everything else that can be wrong
with a command becomes a ``(RejectReason, detail)`` pair, never an exception.

>>> order = NewOrder(symbol="BTC-USD", ts=1, order_id="o", account_id="a", client_order_id="c",
...                  side=Side.BUY, order_type=OrderType.MARKET, tif=TimeInForce.IOC, qty=5,
...                  price=100)
>>> check_new_order(order.qty, order.order_type, order.tif, order.price, order.stop_price,
...                 protection=order.protection_price, post_only=order.post_only, min_lots=1,
...                 max_lots=1000, max_price=NO_MAX_PRICE)
(<RejectReason.INVALID_PRICE: 'INVALID_PRICE'>, 'MARKET order must not have a price, was 100')
"""

from typing import Final

from msgspec.structs import astuple

from exchange.domain import (
    CancelOrder,
    NewOrder,
    OrderType,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
)

Rejection = tuple[RejectReason, str]

_LIMIT: Final = OrderType.LIMIT
_MARKET: Final = OrderType.MARKET
_STOP: Final = OrderType.STOP
_STOP_LIMIT: Final = OrderType.STOP_LIMIT
_GTC: Final = TimeInForce.GTC
# The maximum price of an instrument that sets none: far above any real price, and the largest
# int mypyc keeps unboxed, so comparing a price with it stays one machine instruction.
NO_MAX_PRICE: Final = (1 << 62) - 1


def check_quantity(qty: int, min_lots: int, max_lots: int) -> Rejection | None:
    if qty <= 0:
        return RejectReason.INVALID_QUANTITY, f"quantity must be positive, was {qty}"
    if qty < min_lots:
        return RejectReason.QUANTITY_BELOW_MIN, f"quantity {qty} is below the minimum {min_lots}"
    if qty > max_lots:
        return RejectReason.QUANTITY_ABOVE_MAX, f"quantity {qty} is above the maximum {max_lots}"
    return None


def check_price(name: str, price: int, max_price: int) -> Rejection | None:
    """A price, stop price or protection price: positive and at most the instrument's maximum."""
    if price <= 0:
        return RejectReason.INVALID_PRICE, f"{name} must be positive, was {price}"
    if price > max_price:
        return RejectReason.INVALID_PRICE, f"{name} {price} is above the maximum {max_price}"
    return None


def check_new_order(  # noqa: PLR0911, PLR0912 - one guard clause per reason
    qty: int,
    kind: OrderType,
    tif: TimeInForce,
    price: int | None,
    stop_price: int | None,
    *,
    protection: int | None,
    post_only: bool,
    min_lots: int,
    max_lots: int,
    max_price: int,
) -> Rejection | None:
    """Quantity, prices and the combination of type, time in force and flags.

    Checked in this order: quantity; price (required for LIMIT and STOP_LIMIT, refused
    otherwise); stop_price (required for STOP and STOP_LIMIT, refused otherwise); protection
    price (refused on LIMIT and STOP_LIMIT, optional on MARKET and STOP, so journals from before
    it still apply); post-only. Each price must be positive and at most ``max_price``.
    """
    rejection = check_quantity(qty, min_lots, max_lots)
    if rejection is not None:
        return rejection
    if kind is _LIMIT or kind is _STOP_LIMIT:
        if price is None:
            return RejectReason.INVALID_PRICE, f"{kind} order needs a price"
        if price <= 0 or price > max_price:  # inline: every limit order passes here
            return check_price("price", price, max_price)
    elif price is not None:
        return RejectReason.INVALID_PRICE, f"{kind} order must not have a price, was {price}"
    if kind is _STOP or kind is _STOP_LIMIT:
        if stop_price is None:
            return RejectReason.INVALID_ORDER, f"{kind} order needs a stop_price"
        rejection = check_price("stop_price", stop_price, max_price)
        if rejection is not None:
            return rejection
    elif stop_price is not None:
        return RejectReason.INVALID_ORDER, f"{kind} order must not have a stop_price"
    if protection is not None:
        if kind is _LIMIT or kind is _STOP_LIMIT:
            return (
                RejectReason.INVALID_PRICE,
                f"{kind} order must not have a protection_price: its price is its limit",
            )
        rejection = check_price("protection_price", protection, max_price)
        if rejection is not None:
            return rejection
    if post_only and (kind is not _LIMIT or tif is not _GTC):
        return RejectReason.INVALID_ORDER, f"post-only needs GTC LIMIT, was {kind} {tif}"
    return None


# The fields of a NewOrder in declaration order, which is part of the wire contract (messages
# are msgpack arrays in field order), so the positions below are stable.
NewOrderFields = tuple[
    str, int, str, str, str, Side, OrderType, TimeInForce, int, int | None, int | None, bool,
    StpMode, int | None,
]  # fmt: skip
_NEW_ORDER_FIELDS: Final = (
    "symbol", "ts", "order_id", "account_id", "client_order_id", "side", "order_type", "tif",
    "qty", "price", "stop_price", "post_only", "stp", "protection_price",
)  # fmt: skip
_CANCEL_FIELDS: Final = ("symbol", "ts", "command_id", "order_id", "account_id")
if (NewOrder.__struct_fields__, CancelOrder.__struct_fields__) != (
    _NEW_ORDER_FIELDS,
    _CANCEL_FIELDS,
):
    raise ImportError("NewOrder or CancelOrder fields changed; update engine_service.core.rules")


def new_order_fields(order: NewOrder) -> NewOrderFields:
    """Every field of ``order`` at once: one C call instead of a dozen attribute lookups."""
    return astuple(order)


def cancel_fields(cancel: CancelOrder) -> tuple[str, int, str, str, str]:
    """``(symbol, ts, command_id, order_id, account_id)`` in one call."""
    return astuple(cancel)
