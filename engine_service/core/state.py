"""Plain, immutable shapes of engine state: snapshots and market-data views.

These are msgspec Structs, so a snapshot is compact msgpack and a view encodes straight to JSON or
msgpack for Redis and WebSocket clients. Field order is part of the snapshot format: bump
``SNAPSHOT_VERSION`` when it changes.
"""

from typing import Final

from msgspec import Struct

from exchange.domain import OrderType, StpMode, TimeInForce

SNAPSHOT_VERSION: Final = 1


class OrderState(Struct, frozen=True, array_like=True, gc=False):
    """One open order: resting (in queue order) or a held stop."""

    order_id: str
    account_id: str
    is_buy: bool
    order_type: OrderType
    tif: TimeInForce
    price: int
    stop_price: int
    qty: int
    filled: int
    stp: StpMode
    post_only: bool
    arrival: int


class BookState(Struct, frozen=True, array_like=True):
    """Everything one symbol's future events depend on.

    ``resting`` lists each side's levels best first, each level oldest first; ``stops`` lists the
    held stops by arrival; the dedupe windows are oldest first.
    """

    symbol: str
    seq: int
    last_price: int
    arrival: int
    resting: list[OrderState]
    stops: list[OrderState]
    seen_orders: list[str]
    seen_commands: list[str]


class EngineState(Struct, frozen=True, array_like=True):
    version: int
    books: list[BookState]


class LevelView(Struct, frozen=True, array_like=True):
    """One L2 level: ``[price, qty, orders]``."""

    price: int
    qty: int
    orders: int


class L2View(Struct, frozen=True):
    """Top levels of a book, best first, as of event ``seq``."""

    symbol: str
    seq: int
    bids: list[LevelView]
    asks: list[LevelView]


class OrderView(Struct, frozen=True, array_like=True):
    """One resting order in an L3 view: ``[order_id, account_id, open_qty]``."""

    order_id: str
    account_id: str
    open_qty: int


class L3Level(Struct, frozen=True):
    price: int
    qty: int
    orders: list[OrderView]


class L3View(Struct, frozen=True):
    """Top levels of a book with every order in queue order, as of event ``seq``."""

    symbol: str
    seq: int
    bids: list[L3Level]
    asks: list[L3Level]
