"""What a symbol's trading status lets the orders API send on: the early answer.

The engine holds each symbol's status and refuses what it does not allow (``InstrumentStatus``
has the table); the API reads the status from its live catalog, a few seconds behind at most,
and refuses the same commands before it holds funds or writes anything, with a problem that
names the status. A command that slips through (the status changed since the catalog's last
read) is the engine's to refuse: the order is then REJECTED with the engine's reason. What the
API cannot know, the engine decides alone: whether a limit order or an amend in POST_ONLY would
cross the book. Cancels are never refused.

>>> from exchange.domain import InstrumentCatalog
>>> halted = InstrumentCatalog.demo().get("BTC-USD").model_copy(update={"status": "HALTED"})
>>> check_new_order(halted, order_type=OrderType.LIMIT, tif=TimeInForce.GTC)  # doctest: +ELLIPSIS
Traceback (most recent call last):
exchange.orders.errors.SymbolHalted: BTC-USD is HALTED: no new orders or amends; ...
"""

from typing import Final

from exchange.domain.enums import InstrumentStatus, OrderType, TimeInForce
from exchange.domain.instruments import Instrument
from exchange.orders.errors import (
    InstrumentNotTrading,
    SymbolCancelOnly,
    SymbolHalted,
    SymbolPostOnly,
)
from exchange.orders.model import Order

# Orders that take liquidity, or may (a stop becomes a market order, or a limit that may cross,
# when it triggers), so POST_ONLY refuses them whatever their price.
_TAKERS: Final = frozenset({OrderType.MARKET, OrderType.STOP, OrderType.STOP_LIMIT})
_NOT_RESTING: Final = frozenset({TimeInForce.IOC, TimeInForce.FOK})


def check_new_order(instrument: Instrument, *, order_type: OrderType, tif: TimeInForce) -> None:
    """Raise the status's problem when it refuses a new order of this kind."""
    symbol, status = instrument.symbol, instrument.status
    match status:
        case InstrumentStatus.TRADING:
            return
        case InstrumentStatus.POST_ONLY:
            if order_type in _TAKERS or tif in _NOT_RESTING:
                raise SymbolPostOnly(
                    f"{symbol} is POST_ONLY: only orders that rest in the book are accepted "
                    f"(a limit GTC order that does not cross), not a {order_type} {tif} order"
                )
        case InstrumentStatus.CANCEL_ONLY:
            raise SymbolCancelOnly(
                f"{symbol} is CANCEL_ONLY: no new orders; cancels, and amends that reduce the "
                "quantity, are accepted"
            )
        case InstrumentStatus.HALTED:
            raise _halted(symbol)
        case InstrumentStatus.DELISTED:
            raise _delisted(symbol)


def check_amend(
    instrument: Instrument, order: Order, *, price_ticks: int | None, qty_lots: int | None
) -> None:
    """Raise the status's problem when it refuses this amend of ``order`` (its new price and
    total quantity in ticks and lots; None: unchanged)."""
    symbol, status = instrument.symbol, instrument.status
    match status:
        case InstrumentStatus.TRADING | InstrumentStatus.POST_ONLY:
            return  # whether a POST_ONLY amend would cross is the engine's to say
        case InstrumentStatus.CANCEL_ONLY:
            same_price = price_ticks is None or (
                order.price is not None and price_ticks == instrument.price_to_ticks(order.price)
            )
            smaller = qty_lots is not None and qty_lots < instrument.qty_to_lots(order.qty)
            if not (same_price and smaller):
                raise SymbolCancelOnly(
                    f"{symbol} is CANCEL_ONLY: an amend may only reduce the quantity, at the "
                    "same price"
                )
        case InstrumentStatus.HALTED:
            raise _halted(symbol)
        case InstrumentStatus.DELISTED:
            raise _delisted(symbol)


def _halted(symbol: str) -> SymbolHalted:
    return SymbolHalted(f"{symbol} is HALTED: no new orders or amends; cancels are accepted")


def _delisted(symbol: str) -> InstrumentNotTrading:
    return InstrumentNotTrading(f"{symbol} is DELISTED: orders are not accepted")
