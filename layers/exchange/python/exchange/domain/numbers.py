"""Exact conversion between decimal values and integer counts of a step (ticks, lots).

Money and quantities never pass through float. At the edges a value arrives as a decimal string
(or a ``Decimal``); inside, it is an integer number of ticks or lots.
"""

import re
from decimal import Decimal
from fractions import Fraction

from exchange.domain.errors import InvalidNumber

# A plain decimal literal, with an optional exponent. Stricter than Decimal(): no NaN, no
# infinities, no underscores, no surrounding blanks.
_DECIMAL_LITERAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

# Bounds that keep the integer arithmetic small; no instrument comes near them.
MAX_SIGNIFICANT_DIGITS = 38
MAX_ABS_EXPONENT = 30


def parse_decimal(value: object, *, what: str = "value") -> Decimal:
    """Read an exact decimal from a string, ``Decimal`` or ``int``. Floats are refused.

    >>> parse_decimal("12.50", what="price")
    Decimal('12.50')
    """
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    elif isinstance(value, str):
        if not _DECIMAL_LITERAL.fullmatch(value):
            raise InvalidNumber(f"{what} must be a decimal string, was {value!r}")
        number = Decimal(value)
    else:
        raise InvalidNumber(
            f"{what} must be a decimal string, Decimal or int, was {type(value).__name__} {value!r}"
        )
    if not number.is_finite():
        raise InvalidNumber(f"{what} must be finite, was {value!r}")
    _sign, digits, exponent = number.as_tuple()
    if abs(int(exponent)) > MAX_ABS_EXPONENT or len(digits) > MAX_SIGNIFICANT_DIGITS:
        raise InvalidNumber(f"{what} is out of range, was {value!r}")
    return number


def steps_in(value: Decimal, step: Decimal) -> int | None:
    """The exact number of ``step`` in ``value``, or None when ``value`` is not a multiple."""
    ratio = Fraction(value) / Fraction(step)
    return ratio.numerator if ratio.denominator == 1 else None


def steps_to_decimal(count: int, step: Decimal) -> Decimal:
    """``count * step`` exactly, written with the step's number of decimal places."""
    _sign, digits, exponent = step.as_tuple()  # steps are positive and finite
    coefficient = int("".join(map(str, digits))) * count
    return Decimal((int(coefficient < 0), tuple(map(int, str(abs(coefficient)))), int(exponent)))


def plain(value: Decimal) -> str:
    """Fixed-point text of a decimal: ``Decimal('1E+1')`` reads ``'10'``, never ``'1E+1'``."""
    return format(value, "f")
