"""Average cost and realized P&L, replayed from an account's trade transactions in the journal.

Each trade transaction nets, for the account, a change of base and of quote (fees included). A
buy adds its base at its cost (notional plus fee); a sell realizes ``proceeds - average cost x
quantity`` (proceeds net of fee). Average cost covers only quantity bought on the venue: base that
was deposited has no known cost, and the part of a sale beyond the costed quantity realizes
nothing. A self-trade moves no base; its fees are a realized loss.

The running state is exact (``Fraction``); reported values are rounded half-even to the quote
asset's scale.

>>> pnl = replay_pnl("BTC-USD", [(Decimal("2"), Decimal("-100")), (Decimal("-1"), Decimal("70"))],
...                  quote_scale=2)
>>> pnl.average_cost, pnl.realized_pnl
(Decimal('50.00'), Decimal('20.00'))
"""

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction

from exchange.ledger.model import SymbolPnl
from exchange.ledger.money import quantum

_DISPLAY = Context(prec=80)


def _decimal(value: Fraction, scale: int) -> Decimal:
    exact = _DISPLAY.divide(Decimal(value.numerator), Decimal(value.denominator))
    return exact.quantize(quantum(scale), rounding=ROUND_HALF_EVEN, context=_DISPLAY)


def replay_pnl(
    symbol: str, deltas: Iterable[tuple[Decimal, Decimal]], *, quote_scale: int
) -> SymbolPnl:
    """P&L of one symbol from the account's (base change, quote change) per trade, in order."""
    quantity = Fraction(0)
    cost = Fraction(0)
    realized = Fraction(0)
    for base_delta, quote_delta in deltas:
        base, quote = Fraction(base_delta), Fraction(quote_delta)
        if base > 0:
            quantity += base
            cost -= quote
        elif base < 0:
            sold = min(-base, quantity)
            basis = cost * sold / quantity if quantity else Fraction(0)
            realized += quote * sold / -base - basis
            quantity -= sold
            cost -= basis
        else:
            realized += quote
    return SymbolPnl(
        symbol=symbol,
        quantity=Decimal(quantity.numerator) / Decimal(quantity.denominator)
        if quantity
        else Decimal(0),
        average_cost=_decimal(cost / quantity, quote_scale) if quantity else None,
        realized_pnl=_decimal(realized, quote_scale),
    )
