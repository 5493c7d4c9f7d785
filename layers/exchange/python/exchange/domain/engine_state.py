"""Plain, immutable shapes of the matching engine's state: snapshots and market-data views.

They live in the shared layer so that tools outside the engine (the reconciliation) read a
snapshot with the engine's own types; ``engine_service.core.state`` re-exports them.

These are msgspec Structs, so a snapshot is compact msgpack and a view encodes straight to JSON or
msgpack for Redis and WebSocket clients. Field order is part of the snapshot format: bump
``SNAPSHOT_VERSION`` when it changes, and add fields only at the end, with a default, so older
snapshots still decode (``READABLE_VERSIONS``; ``snapshot.restore_book`` fills in what they lack).

Version 2 added each order's ``protection`` and each book's ``band_price`` and
``cancelled_early`` (order ids cancelled before their order arrived, a subset of
``seen_orders``).

Version 3 added each book's operator state, journaled by operators' commands: its trading
``status`` (None in older snapshots: the instrument's status then), the accounts ``frozen`` in it
(sorted), and the ``instrument`` in force as its JSON at ``instrument_version`` (0: the static
instruments file's; "" in older snapshots).
"""

from typing import Final

from msgspec import Struct

from exchange.domain import InstrumentStatus, OrderType, StpMode, TimeInForce

SNAPSHOT_VERSION: Final = 3
READABLE_VERSIONS: Final = (1, 2, 3)


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
    protection: int = 0  # version 2


class BookState(Struct, frozen=True, array_like=True):
    """Everything one symbol's future events depend on.

    ``resting`` lists each side's levels best first, each level oldest first; ``stops`` lists the
    held stops by arrival; the dedupe windows are oldest first. ``band_price`` is the last trade
    that moved the band's reference (0: none yet; see ``symbol``).
    """

    symbol: str
    seq: int
    last_price: int
    arrival: int
    resting: list[OrderState]
    stops: list[OrderState]
    seen_orders: list[str]
    seen_commands: list[str]
    band_price: int = 0  # version 2
    cancelled_early: list[str] = []  # version 2
    status: InstrumentStatus | None = None  # version 3
    frozen: list[str] = []  # version 3
    instrument: str = ""  # version 3
    instrument_version: int = 0  # version 3


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
