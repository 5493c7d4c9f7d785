"""The fees a trade pays: the rates in force at its seq, capped at what its order reserved for.

An operator changes a symbol's fees by listing a new version of its instrument; the engine
journals that as ``InstrumentListed`` at some seq S, and settlement records its rates at S
(``ledger.fee_schedule``). A trade at seq N pays the rates of the latest listing before it (the
greatest S < N), else the catalog's (a symbol never changed since it was first configured).

Each side's rate is then capped at its order's ``max_fee_bps``, the highest rate the order's hold
was reserved for (``holds.max_fee_bps`` of the catalog when it was placed): a buy's hold covers no
more, and an order placed before a fee rise pays at most the fee it was placed under. A maker
rebate (a negative rate) is never capped (it needs no hold: the fee account pays it); a rebate
turned into a fee is capped like any fee, so an order that was placed under a rebate and rests
through a change to a positive maker fee pays at most its reservation's ``max_fee_bps`` (the
taker rate of its day, or 0).

>>> charged_bps(7, max_fee_bps=5), charged_bps(3, max_fee_bps=5), charged_bps(-1, max_fee_bps=5)
(5, 3, -1)
"""

from dataclasses import dataclass

from exchange.domain.instruments import Instrument


@dataclass(frozen=True, slots=True)
class FeeRates:
    """A symbol's maker and taker rates, in basis points of notional (maker may be negative)."""

    maker_bps: int
    taker_bps: int

    @classmethod
    def of(cls, instrument: Instrument) -> "FeeRates":
        return cls(instrument.maker_fee_bps, instrument.taker_fee_bps)


def charged_bps(rate_bps: int, *, max_fee_bps: int) -> int:
    """The rate an order pays: ``rate_bps``, at most what its hold was reserved for."""
    return min(rate_bps, max_fee_bps)
