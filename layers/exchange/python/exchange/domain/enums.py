"""Enumerations shared by commands, events and the API.

They are string enums: the value is what goes on the wire and into logs, so a journal record reads
the same to a person as to the code.
"""

from enum import StrEnum
from typing import Final


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    STOP = "STOP"  # becomes a market order when the last trade reaches stop_price
    STOP_LIMIT = "STOP_LIMIT"  # becomes a limit order at price when triggered


class TimeInForce(StrEnum):
    GTC = "GTC"  # good till cancelled: the remainder rests
    IOC = "IOC"  # immediate or cancel: the remainder expires
    FOK = "FOK"  # fill or kill: fills completely at once or not at all


class StpMode(StrEnum):
    """Self-trade prevention, applied when taker and maker share an account."""

    NONE = "NONE"  # allow the self-trade
    CANCEL_NEWEST = "CANCEL_NEWEST"  # cancel the taker's remainder
    CANCEL_OLDEST = "CANCEL_OLDEST"  # cancel the resting maker, keep matching
    CANCEL_BOTH = "CANCEL_BOTH"


class OrderStatus(StrEnum):
    """An order's status as the account sees it. The API writes PENDING_NEW (and REJECTED when
    publishing fails); the journal consumer moves it on from the engine's events."""

    # This docstring is the OpenAPI schema's description (docs/openapi.json). FILLED, CANCELLED,
    # EXPIRED and REJECTED are final; the others are OPEN_STATUSES.

    PENDING_NEW = "PENDING_NEW"  # recorded by the API, not yet seen by the engine
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"

    @property
    def is_open(self) -> bool:
        """Not final: the order counts against the account's open-order limit and carries
        ``open_order_id`` in the orders table."""
        return self in OPEN_STATUSES


OPEN_STATUSES: Final = frozenset(
    {OrderStatus.PENDING_NEW, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED}
)


class InstrumentStatus(StrEnum):
    """A symbol's trading status. The engine holds it (``SetTradingStatus``, journaled as
    ``TradingStatusChanged``); the instrument file and the instruments store give only a new
    listing's first status.

    What each allows from users (operators' mass cancels and freezes always go through):

    ========== ========================= ======================== ===========
    status     new orders                amends                   cancels
    ========== ========================= ======================== ===========
    TRADING    yes                       yes                      yes
    POST_ONLY  only orders that rest     yes, unless it would     yes
               (a taker: SYMBOL_POST_    cross (SYMBOL_POST_ONLY)
               ONLY; market, stop, IOC
               and FOK always)
    CANCEL_ONLY no (SYMBOL_CANCEL_ONLY)  only a smaller quantity  yes
                                         (keeps priority)
    HALTED     no (SYMBOL_HALTED)        no (SYMBOL_HALTED)       yes
    DELISTED   no (INSTRUMENT_NOT_       no                       yes
               TRADING)
    ========== ========================= ======================== ===========

    Cancels stay open in every status: a user can always take risk off the book (and the dead
    man's switch relies on it). Nothing trades outside TRADING and POST_ONLY, so no stop triggers.
    """

    TRADING = "TRADING"
    POST_ONLY = "POST_ONLY"
    CANCEL_ONLY = "CANCEL_ONLY"
    HALTED = "HALTED"
    DELISTED = "DELISTED"


class AssetClass(StrEnum):
    """What an instrument's base asset is. Cash dividends (``exchange.ledger`` dividends) are
    declared on EQUITY instruments only."""

    CRYPTO = "CRYPTO"
    EQUITY = "EQUITY"


class RejectReason(StrEnum):
    """Why the engine refused a command. Machine-readable; the event's ``detail`` says more."""

    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    INSTRUMENT_NOT_TRADING = "INSTRUMENT_NOT_TRADING"
    INVALID_PRICE = "INVALID_PRICE"  # missing, non-positive, or present where it must not be
    INVALID_QUANTITY = "INVALID_QUANTITY"  # non-positive
    QUANTITY_BELOW_MIN = "QUANTITY_BELOW_MIN"
    QUANTITY_ABOVE_MAX = "QUANTITY_ABOVE_MAX"
    PRICE_OUT_OF_BAND = "PRICE_OUT_OF_BAND"
    INVALID_ORDER = "INVALID_ORDER"  # a combination that makes no sense, e.g. post-only IOC
    DUPLICATE_ORDER_ID = "DUPLICATE_ORDER_ID"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"  # cancel or amend of an order that is not open
    NOT_ORDER_OWNER = "NOT_ORDER_OWNER"
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"
    # The symbol's status (``InstrumentStatus``) refuses the command; INSTRUMENT_NOT_TRADING
    # stays the reason for a DELISTED symbol.
    SYMBOL_HALTED = "SYMBOL_HALTED"
    SYMBOL_CANCEL_ONLY = "SYMBOL_CANCEL_ONLY"
    SYMBOL_POST_ONLY = "SYMBOL_POST_ONLY"  # a taker (or would-be taker) while POST_ONLY
    ACCOUNT_FROZEN = "ACCOUNT_FROZEN"  # an operator froze the account (``FreezeAccount``)
    # An operator command the engine cannot apply (e.g. a listing that changes tick or lot size,
    # or an older version than the book holds); ``detail`` says why.
    INVALID_COMMAND = "INVALID_COMMAND"


class CancelReason(StrEnum):
    USER_REQUESTED = "USER_REQUESTED"
    SELF_TRADE_PREVENTION = "SELF_TRADE_PREVENTION"
    AMENDED_TO_FILLED = "AMENDED_TO_FILLED"  # amend to a quantity at or below what has filled
    # An operator's mass cancel, or an account freeze (``MassCancel``, ``FreezeAccount``): the
    # event's ``command_id`` is the operator command's.
    OPERATOR = "OPERATOR"


class ExpireReason(StrEnum):
    IOC_REMAINDER = "IOC_REMAINDER"
    FOK_NOT_FILLABLE = "FOK_NOT_FILLABLE"
    MARKET_NO_LIQUIDITY = "MARKET_NO_LIQUIDITY"
    # A market order's or triggered stop's remainder beyond its limit: its protection price
    # (``NewOrder.protection_price``), tightened to the price band around the band's reference
    PRICE_PROTECTION = "PRICE_PROTECTION"
