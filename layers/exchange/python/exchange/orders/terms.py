"""An order's terms in ticks and lots, checked against its instrument before anything is written.

Besides tick, lot and the quantity range, every price is bounded: by the instrument's
``max_price`` and ``max_notional`` when it sets them, and always by what the wire and the ledger
can carry (a 64-bit tick count; a notional, fee included, below the ledger's ``MAX_AMOUNT``), so
a huge number is a 422, never an overflow after something was written.

Market and stop orders get a protection price: the worst price they may trade at, which the
engine enforces and the ledger holds a buy's funds at. It is the edge of the instrument's band
around a reference (``reference``): above it for a buy, below it for a sell. A stop is anchored
at its stop price when that is further out, as it trades around it once triggered.

>>> from exchange.domain.instruments import InstrumentCatalog
>>> btc = InstrumentCatalog.demo().get("BTC-USD")  # band 10%
>>> protection(btc, Side.BUY, reference=6_000_000, stop=None), protection(
...     btc, Side.SELL, reference=6_000_000, stop=None)
(6600000, 5400000)
>>> protection(btc, Side.BUY, reference=6_000_000, stop=7_000_000)
7700000
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from exchange.domain.enums import OrderType, Side, TimeInForce
from exchange.domain.instruments import Instrument
from exchange.domain.numbers import plain
from exchange.ledger.holds import max_fee_bps
from exchange.ledger.money import MAX_AMOUNT, add, fee_exact, notional
from exchange.orders.errors import (
    InvalidOrder,
    NoReferencePrice,
    NotionalAboveMax,
    PriceAboveMax,
    QuantityOutOfRange,
)
from exchange.orders.model import Order, OrderRequest

# A tick count travels as a signed 64-bit integer (msgpack) and is stored as a PostgreSQL bigint.
MAX_TICKS: Final = 2**63 - 1
PRICED: Final = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
STOPS: Final = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})
PROTECTED: Final = frozenset({OrderType.MARKET, OrderType.STOP})


@dataclass(frozen=True, slots=True)
class Terms:
    lots: int
    price_ticks: int | None
    stop_ticks: int | None
    protection_ticks: int | None = None


def new_order_terms(instrument: Instrument, request: OrderRequest, reference: int | None) -> Terms:
    """``reference``: the band's reference in ticks, needed by market and stop orders only."""
    _check_shape(request)
    lots = lots_of(instrument, request.qty)
    price = None if request.price is None else price_of(instrument, request.price, "price")
    stop = None if request.stop_price is None else price_of(instrument, request.stop_price, "stop")
    guard: int | None = None
    if request.order_type in PROTECTED:
        if reference is None:
            raise NoReferencePrice(
                f"{instrument.symbol} has no trade and no reference price yet; "
                f"{request.order_type} orders are not accepted, place a limit order"
            )
        guard = protection(instrument, request.side, reference=reference, stop=stop)
    worst = price if price is not None else guard
    if worst is not None:
        check_notional(instrument, worst, lots)
    return Terms(lots, price, stop, guard)


def protection(instrument: Instrument, side: Side, *, reference: int, stop: int | None) -> int:
    """The protection price, in ticks, of a market (``stop`` None) or stop order."""
    if side is Side.BUY:
        anchor = reference if stop is None else max(reference, stop)
        return min(instrument.band(anchor)[1], price_cap(instrument))
    anchor = reference if stop is None else min(reference, stop)
    return max(instrument.band(anchor)[0], 1)


def price_of(instrument: Instrument, text: str, what: str) -> int:
    """A price in ticks, within the instrument's and the types' bounds."""
    ticks = instrument.price_to_ticks(text)
    if ticks > price_cap(instrument):
        limit = "what the exchange can carry"
        if instrument.max_price is not None:
            limit = f"the maximum {plain(instrument.max_price)}"
        raise PriceAboveMax(f"{what} is above {limit}, was {plain(Decimal(text))}")
    return ticks


def price_cap(instrument: Instrument) -> int:
    cap = instrument.max_price_ticks
    return MAX_TICKS if cap is None else min(cap, MAX_TICKS)


def check_notional(instrument: Instrument, price_ticks: int, lots: int) -> None:
    value = notional(instrument, price_ticks=price_ticks, qty_lots=lots)
    if instrument.max_notional is not None and value > instrument.max_notional:
        raise NotionalAboveMax(
            f"price x quantity is above the maximum {plain(instrument.max_notional)} "
            f"{instrument.quote}, was {plain(value)}"
        )
    if add(value, fee_exact(value, max_fee_bps(instrument))) >= MAX_AMOUNT:
        raise NotionalAboveMax(f"price x quantity is above what the ledger can hold: {value:.3E}")


def lots_of(instrument: Instrument, qty: str) -> int:
    lots = instrument.qty_to_lots(qty)
    if not instrument.min_lots <= lots <= instrument.max_lots:
        raise QuantityOutOfRange(
            f"quantity must be between {instrument.min_qty} and {instrument.max_qty}, was {qty}"
        )
    return lots


def _check_shape(request: OrderRequest) -> None:
    kind = request.order_type
    if kind in PRICED and request.price is None:
        raise InvalidOrder(f"a {kind} order needs a price")
    if kind not in PRICED and request.price is not None:
        raise InvalidOrder(f"a {kind} order takes no price")
    if kind in STOPS and request.stop_price is None:
        raise InvalidOrder(f"a {kind} order needs a stop_price")
    if kind not in STOPS and request.stop_price is not None:
        raise InvalidOrder(f"a {kind} order takes no stop_price")
    if request.post_only and (kind is not OrderType.LIMIT or request.tif is not TimeInForce.GTC):
        raise InvalidOrder("post_only needs a LIMIT GTC order")


def amend_terms(
    instrument: Instrument, order: Order, *, price: str | None, qty: str | None
) -> tuple[int | None, int | None]:
    """An amend's new price and total quantity in ticks and lots (None: unchanged), bounded like
    a new order's: the notional at the terms the order will have."""
    if price is not None and order.order_type not in PRICED:
        raise InvalidOrder(f"a {order.order_type} order has no limit price to amend")
    ticks = None if price is None else price_of(instrument, price, "price")
    lots = None if qty is None else lots_of(instrument, qty)
    limit = ticks if ticks is not None else _ticks(instrument, order.price)
    if limit is not None:
        check_notional(
            instrument, limit, lots if lots is not None else lots_of(instrument, order.qty)
        )
    return ticks, lots


def _ticks(instrument: Instrument, price: str | None) -> int | None:
    return None if price is None else instrument.price_to_ticks(price)
