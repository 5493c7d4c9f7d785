"""Exact money: ``Decimal`` amounts, each asset with a fixed number of decimal places (its scale).

The database stores every amount as ``NUMERIC(38,18)``; an asset's scale (at most 18) says how
fine its amounts may be. Arithmetic runs in ``EXACT``, a context that raises on any rounding, so a
silently inexact amount is impossible; the one deliberate rounding is ``ceil_to`` (fees).

Rules an instrument must meet to be settled exactly (``check_instrument``): a lot is on the base
asset's scale, and ``tick_size * lot_size`` (the smallest notional) is on the quote asset's scale.

>>> btc = Instrument(symbol="BTC-USD", base="BTC", quote="USD", tick_size=Decimal("0.01"),
...                  lot_size=Decimal("0.0001"), min_qty=Decimal("0.0001"),
...                  max_qty=Decimal("100"), price_band_pct=Decimal("10"))
>>> notional(btc, price_ticks=6500025, qty_lots=3)  # 65000.25 x 0.0003
Decimal('19.500075')
>>> ceil_to(fee_exact(Decimal("19.500075"), 5), 2)  # 5 bps, rounded up to cents
Decimal('0.01')
"""

from collections.abc import Mapping
from decimal import (
    ROUND_CEILING,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from exchange.domain.instruments import Instrument
from exchange.domain.numbers import plain, steps_to_decimal
from exchange.ledger.errors import InvalidAmount, LedgerError, UnknownAsset

# NUMERIC(38,18) in the database: 20 integer digits, 18 fractional.
DB_SCALE = 18
MAX_AMOUNT = Decimal(10) ** 20
BPS_PER_UNIT = 10_000

# Inexact is trapped, not Rounded: dropping trailing zeros (10.50 -> 10.5) is not a rounding.
EXACT = Context(prec=80, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
_ROUNDING = Context(prec=80, traps=[InvalidOperation, DivisionByZero, Overflow])

ZERO = Decimal(0)

AssetScales = Mapping[str, int]


def scale_of(scales: AssetScales, asset: str) -> int:
    try:
        return scales[asset]
    except KeyError:
        raise UnknownAsset(f"asset {asset!r} has no configured scale") from None


def quantum(scale: int) -> Decimal:
    """The smallest amount of an asset with ``scale`` decimals, e.g. ``Decimal('0.01')``."""
    return Decimal(1).scaleb(-scale)


def exponent_of(value: Decimal) -> int:
    return int(value.normalize(EXACT).as_tuple().exponent)


def is_on_scale(amount: Decimal, scale: int) -> bool:
    return amount.is_finite() and (amount == 0 or exponent_of(amount) >= -scale)


def to_scale(amount: Decimal, scale: int) -> Decimal:
    """``amount`` written with exactly ``scale`` decimals; raises if that would round."""
    with localcontext(EXACT):
        return amount.quantize(quantum(scale))


def check_amount(amount: Decimal, scale: int, *, asset: str) -> Decimal:
    """A positive amount on the asset's scale, or InvalidAmount saying what was wrong."""
    if not amount.is_finite() or amount <= 0:
        raise InvalidAmount(f"{asset} amount must be positive, was {amount}")
    if not is_on_scale(amount, scale):
        raise InvalidAmount(f"{asset} amount finer than {plain(quantum(scale))}, was {amount}")
    if amount >= MAX_AMOUNT:
        raise InvalidAmount(f"{asset} amount out of range, was {plain(amount)}")
    return to_scale(amount, scale)


def notional(instrument: Instrument, *, price_ticks: int, qty_lots: int) -> Decimal:
    """``price_ticks * qty_lots * tick_size * lot_size``, exactly."""
    with localcontext(EXACT):
        step = instrument.tick_size * instrument.lot_size
    return steps_to_decimal(price_ticks * qty_lots, step)


def base_amount(instrument: Instrument, lots: int) -> Decimal:
    return instrument.lots_to_qty(lots)


def fee_exact(amount: Decimal, bps: int) -> Decimal:
    """``amount * bps / 10000`` exactly (unrounded; negative for a rebate)."""
    with localcontext(EXACT):
        return (amount * bps).scaleb(-4)


def ceil_to(value: Decimal, scale: int) -> Decimal:
    """Round up (towards +infinity) to ``scale`` decimals: a charge rounds up, a rebate down."""
    with localcontext(_ROUNDING):
        return value.quantize(quantum(scale), rounding=ROUND_CEILING)


def add(*values: Decimal) -> Decimal:
    with localcontext(EXACT):
        total = ZERO
        for value in values:
            total += value
        return total


def sub(left: Decimal, right: Decimal) -> Decimal:
    with localcontext(EXACT):
        return left - right


def check_instrument(instrument: Instrument, scales: AssetScales) -> None:
    """Refuse an instrument whose amounts the ledger could not hold exactly."""
    base_scale = scale_of(scales, instrument.base)
    quote_scale = scale_of(scales, instrument.quote)
    for asset, scale in ((instrument.base, base_scale), (instrument.quote, quote_scale)):
        if not 0 <= scale <= DB_SCALE:
            raise LedgerError(f"{asset} scale must be 0..{DB_SCALE}, was {scale}")
    if not is_on_scale(instrument.lot_size, base_scale):
        raise LedgerError(
            f"{instrument.symbol}: lot {plain(instrument.lot_size)} is finer than "
            f"{instrument.base} precision {plain(quantum(base_scale))}"
        )
    smallest = notional(instrument, price_ticks=1, qty_lots=1)
    if not is_on_scale(smallest, quote_scale):
        raise LedgerError(
            f"{instrument.symbol}: smallest notional {plain(smallest)} is finer than "
            f"{instrument.quote} precision {plain(quantum(quote_scale))}"
        )
    # Unrounded fees are stored exactly too: the notional's decimals plus four (bps).
    if not is_on_scale(smallest.scaleb(-4), DB_SCALE):
        raise LedgerError(f"{instrument.symbol}: unrounded fees need more than 18 decimals")


def amount_text(scales: AssetScales, asset: str, amount: Decimal) -> str:
    """An amount as the API and notices write it: at the asset's scale, never in exponent
    notation.

    >>> amount_text({"BTC": 8}, "BTC", Decimal("0.000000010000000000"))
    '0.00000001'
    """
    return plain(to_scale(amount, scale_of(scales, asset)))


def show(amount: Decimal) -> str:
    """An amount for a message: ``Decimal('100.000000000000000000')`` reads ``'100'``."""
    return plain(amount.normalize(EXACT)) if amount else "0"
