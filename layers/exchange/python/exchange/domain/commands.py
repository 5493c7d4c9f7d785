"""Commands: what the API asks of the matching engine.

Prices are integer ticks and quantities integer lots of the symbol's instrument; the API converts
decimals at the edge with ``Instrument.price_to_ticks`` and ``qty_to_lots``. The engine validates
everything else and answers a bad command with ``OrderRejected``.

>>> NewOrder(symbol="BTC-USD", ts=1, order_id="o-1", account_id="a-1", client_order_id="c-1",
...          side=Side.BUY, order_type=OrderType.LIMIT, tif=TimeInForce.GTC, qty=10, price=6500000)
... # doctest: +ELLIPSIS
NewOrder(symbol='BTC-USD', ts=1, order_id='o-1', ...)
"""

from exchange.domain.enums import InstrumentStatus, OrderType, Side, StpMode, TimeInForce
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


# -- operators' commands (the admin API; ``exchange.admin``) -------------------------------------
# Journaled like orders: each takes the symbol's next ``seq`` through the events it causes, so a
# replay and a snapshot restore reproduce it. ``command_id`` makes a redelivery a no-op (the
# book's command dedupe window); ``actor`` is the operator (Cognito username) and ``reason`` the
# operator's words, both carried into the events for the audit trail.


class SetTradingStatus(Message, tag="set_status", frozen=True, kw_only=True):
    """Set the symbol's status (see ``InstrumentStatus``). Always one ``TradingStatusChanged``,
    even when the status is unchanged, so every operator action is in the journal."""

    command_id: str
    status: InstrumentStatus
    actor: str
    reason: str = ""


class MassCancel(Message, tag="mass_cancel", frozen=True, kw_only=True):
    """Cancel every open order (resting or a held stop) of the symbol, or of one account in it:
    one ``OrderCancelled`` (reason OPERATOR) each, oldest first, each followed by its level's
    ``BookDelta`` as for a user's cancel. No open order: one ``OrderRejected`` (UNKNOWN_ORDER,
    ``order_id`` ""), so the command id is journaled and a redelivered copy after a restart cannot
    cancel orders placed since."""

    command_id: str
    account_id: str | None = None  # None: every account's
    actor: str
    reason: str = ""


class FreezeAccount(Message, tag="freeze", frozen=True, kw_only=True):
    """Freeze (or unfreeze) an account in this symbol: ``AccountFrozen``, then, when freezing,
    a cancel of each of its open orders as ``MassCancel``. A frozen account's new orders and
    amends are refused (ACCOUNT_FROZEN); its cancels go through."""

    command_id: str
    account_id: str
    frozen: bool
    actor: str
    reason: str = ""


class ListInstrument(Message, tag="list", frozen=True, kw_only=True):
    """List a new symbol (its first event, ``seq`` 1) or change a listed one: ``InstrumentListed``.

    ``instrument`` is the ``Instrument``'s JSON exactly as the instruments store holds it at
    ``version`` (so a replay needs nothing but the journal). A change may not alter the symbol,
    base, quote, tick size or lot size (INVALID_COMMAND); a ``version`` at or below the book's is
    ignored (no event: a redelivery or a stale copy). The JSON's ``status`` is the new listing's
    first status and is ignored on a change: ``SetTradingStatus`` alone changes a status.
    """

    command_id: str
    instrument: str
    version: int
    actor: str
    reason: str = ""


OperatorCommand = SetTradingStatus | MassCancel | FreezeAccount | ListInstrument
OPERATOR_COMMAND_TYPES: tuple[type[Message], ...] = (
    SetTradingStatus,
    MassCancel,
    FreezeAccount,
    ListInstrument,
)
Command = NewOrder | CancelOrder | AmendOrder  # a user's (through the orders API)
EngineCommand = Command | OperatorCommand  # what a shard's queue carries
COMMAND_TYPES: tuple[type[Message], ...] = (
    NewOrder,
    CancelOrder,
    AmendOrder,
    *OPERATOR_COMMAND_TYPES,
)
