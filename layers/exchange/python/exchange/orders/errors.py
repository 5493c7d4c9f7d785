"""Typed errors of the order logic. Each has a ``code``; ``exchange.http.problems`` maps codes
to HTTP statuses in one table."""

from exchange.domain.errors import ExchangeError, InvalidQuantity


class TradingError(ExchangeError):
    code = "trading_error"


class InvalidOrder(TradingError):
    """A combination of fields that makes no sense, e.g. a limit order without a price."""

    code = "invalid_order"


class QuantityOutOfRange(InvalidQuantity):
    """A quantity below the instrument's minimum or above its maximum."""

    code = "quantity_out_of_range"


class InstrumentNotTrading(TradingError):
    """The symbol is DELISTED (``InstrumentStatus``): it takes no orders or amends again."""

    code = "instrument_not_trading"


class SymbolHalted(TradingError):
    """An operator halted the symbol: no new orders or amends until it resumes; cancels go on."""

    code = "symbol_halted"


class SymbolCancelOnly(TradingError):
    """The symbol is CANCEL_ONLY: no new orders, and only amends that reduce the quantity."""

    code = "symbol_cancel_only"


class SymbolPostOnly(TradingError):
    """The symbol is POST_ONLY: an order that would take liquidity (market, stop, IOC, FOK) is
    refused; the engine refuses a limit order that would cross."""

    code = "symbol_post_only"


class TooManyOpenOrders(TradingError):
    code = "too_many_open_orders"


class SelfTradeNotAllowed(TradingError):
    """``stp: NONE`` from an account that is not a market maker: self-trades would let one
    account print trades at the prices it likes, and so walk the band's reference."""

    code = "stp_not_allowed"


class PriceAboveMax(TradingError):
    """A price or stop price above the instrument's ``max_price`` (or above what a 64-bit tick
    count can carry, when the instrument sets none)."""

    code = "price_above_max"


class NotionalAboveMax(TradingError):
    """Price (or protection price) times quantity above the instrument's ``max_notional`` (or
    above what the ledger can hold, when the instrument sets none)."""

    code = "notional_above_max"


class NoReferencePrice(TradingError):
    """A market or stop order on a symbol with no trade and no configured reference price: there
    is nothing to protect it, or hold its funds, against."""

    code = "no_reference_price"


class OrderNotFound(TradingError):
    """No such order for this account: another account's order reads the same as a missing one."""

    code = "order_not_found"


class OrderNotOpen(TradingError):
    """Amend or cancel of an order that has reached a final status."""

    code = "order_not_open"


class BrokerUnavailable(TradingError):
    """The command could not be published with a confirm; the caller may retry."""

    code = "broker_unavailable"


class PublishUnconfirmed(BrokerUnavailable):
    """The command may have reached the broker, but no confirm came (lost, connection dropped
    after the publish frame, deadline passed): the engine may or may not get it."""


class StoreUnavailable(TradingError):
    """The order store refused or failed a write or read."""

    code = "store_unavailable"


class InvalidCursor(TradingError):
    code = "invalid_cursor"


class IdempotencyConflict(TradingError):
    """The idempotency key was used before with a different request body."""

    code = "idempotency_conflict"


class RequestInProgress(TradingError):
    """The first request with this idempotency key is still running."""

    code = "request_in_progress"


class InvalidCancelAfter(InvalidOrder):
    """A dead man's switch timeout outside what the deployment allows (0 disarms)."""

    code = "invalid_cancel_after"


class TimerUnavailable(BrokerUnavailable):
    """The dead man's switch's timer could not be queued: nothing was armed; the caller may
    retry."""

    code = "timer_unavailable"
