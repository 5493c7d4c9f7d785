"""Typed domain errors.

Every error the shared code raises on bad input is one of these, so callers catch one family and
the API maps each to a problem+json response by its ``code``.
"""

from typing import ClassVar


class ExchangeError(Exception):
    """Base of every typed error raised by the exchange's own code."""

    code: ClassVar[str] = "exchange_error"


class InvalidNumber(ExchangeError):
    """A value that is not an exact decimal number: a float, NaN, garbage, or out of range."""

    code = "invalid_number"


class InvalidPrice(ExchangeError):
    code = "invalid_price"


class OffTick(InvalidPrice):
    """A price that is not a whole number of ticks."""

    code = "off_tick"


class InvalidQuantity(ExchangeError):
    code = "invalid_quantity"


class OffLot(InvalidQuantity):
    """A quantity that is not a whole number of lots."""

    code = "off_lot"


class InvalidInstrument(ExchangeError):
    """An instrument definition that breaks its own rules (e.g. min above max)."""

    code = "invalid_instrument"


class UnknownInstrument(ExchangeError):
    code = "unknown_instrument"


class WireFormatError(ExchangeError):
    """A payload that is not a valid message of the wire format: wrong version, truncated,
    wrongly typed or of an unknown kind."""

    code = "wire_format"


class ConfigurationError(ExchangeError):
    """The process environment does not make a valid settings model."""

    code = "configuration"
