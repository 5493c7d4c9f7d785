"""Engine events: immutable facts, each with its symbol's gap-free ``seq``.

The recorder, ledger, fan-out and candle consumers are driven by these alone, so each event says
everything they need (accounts included) without a lookup.

Quantity accounting: for every order,
``filled (sum of Trade.qty) + open + cancelled_qty + expired_qty == original qty``.
"""

from exchange.domain.enums import (
    CancelReason,
    ExpireReason,
    InstrumentStatus,
    OrderType,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
)
from exchange.domain.messages import Message


class Event(Message, frozen=True, kw_only=True):
    seq: int


class OrderAccepted(Event, tag="accepted", frozen=True, kw_only=True):
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
    # Carried so that replaying the journal rebuilds an order exactly as the engine held it.
    stp: StpMode = StpMode.CANCEL_NEWEST
    protection_price: int | None = None


class OrderRejected(Event, tag="rejected", frozen=True, kw_only=True):
    """A command refused. ``command_id`` names a refused cancel or amend; ``detail`` is prose."""

    order_id: str
    account_id: str
    reason: RejectReason
    command_id: str | None = None
    detail: str = ""


class Trade(Event, tag="trade", frozen=True, kw_only=True):
    """A fill between a resting maker and an incoming taker, at the maker's price."""

    maker_order_id: str
    taker_order_id: str
    maker_account_id: str
    taker_account_id: str
    price: int
    qty: int
    aggressor_side: Side


class OrderCancelled(Event, tag="cancelled", frozen=True, kw_only=True):
    """The order's open remainder, ``cancelled_qty``, is gone."""

    order_id: str
    account_id: str
    cancelled_qty: int
    reason: CancelReason
    command_id: str | None = None


class OrderAmended(Event, tag="amended", frozen=True, kw_only=True):
    """Price and total quantity now in force; ``open_qty`` is what still rests."""

    order_id: str
    account_id: str
    command_id: str
    price: int
    qty: int
    open_qty: int


class OrderExpired(Event, tag="expired", frozen=True, kw_only=True):
    """An IOC, FOK or market remainder that could not rest."""

    order_id: str
    account_id: str
    expired_qty: int
    reason: ExpireReason


class OrderTriggered(Event, tag="triggered", frozen=True, kw_only=True):
    """A stop or stop-limit order released by the last trade price reaching ``stop_price``."""

    order_id: str
    account_id: str
    last_price: int


class BookDelta(Event, tag="delta", frozen=True, kw_only=True):
    """The new total at one L2 level: ``qty`` lots in ``orders`` orders; ``qty == 0`` removes it."""

    side: Side
    price: int
    qty: int
    orders: int


# -- operators' events (see the commands in ``exchange.domain.commands``) ------------------------


class TradingStatusChanged(Event, tag="status", frozen=True, kw_only=True):
    """The symbol's status is now ``status`` (it was ``previous``)."""

    command_id: str
    status: InstrumentStatus
    previous: InstrumentStatus
    actor: str
    reason: str = ""


class AccountFrozen(Event, tag="frozen", frozen=True, kw_only=True):
    """``account_id`` is now frozen (or, ``frozen`` false, no longer) in this symbol. When
    freezing, the account's cancels (reason OPERATOR) follow, with the same ``command_id``."""

    command_id: str
    account_id: str
    frozen: bool
    actor: str
    reason: str = ""


class InstrumentListed(Event, tag="listed", frozen=True, kw_only=True):
    """The symbol's instrument is now ``instrument`` (its JSON) at ``version``: a new listing
    (``seq`` 1) or a change. Consumers that convert ticks and lots or charge fees use the
    version in force at each event's ``seq``."""

    command_id: str
    instrument: str
    version: int
    actor: str
    reason: str = ""


AnyEvent = (
    OrderAccepted
    | OrderRejected
    | Trade
    | OrderCancelled
    | OrderAmended
    | OrderExpired
    | OrderTriggered
    | BookDelta
    | TradingStatusChanged
    | AccountFrozen
    | InstrumentListed
)
EVENT_TYPES: tuple[type[Event], ...] = (
    OrderAccepted,
    OrderRejected,
    Trade,
    OrderCancelled,
    OrderAmended,
    OrderExpired,
    OrderTriggered,
    BookDelta,
    TradingStatusChanged,
    AccountFrozen,
    InstrumentListed,
)
