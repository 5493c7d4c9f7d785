"""The fees a trade pays across a fee change (``ledger.fees``): the rates given for its seq,
each side capped at what its order was reserved for, a rebate never capped; and a symbol listed
after the ledger was built is checked at its first use (``ledger.catalog``)."""

from decimal import Decimal

import pytest

from exchange.domain import Instrument, InstrumentCatalog, Side
from exchange.domain.errors import UnknownInstrument
from exchange.ledger import UnknownAsset
from exchange.ledger.catalog import LedgerInstruments
from exchange.ledger.fees import FeeRates, charged_bps
from exchange.ledger.movements import balance_deltas
from exchange.ledger.settlement import settle_trade
from tests.unit.ledger.helpers import BTC, SCALES, SOL
from tests.unit.ledger.test_settlement_rules import a_trade, hold, per_asset

ZERO = Decimal(0)


@pytest.mark.parametrize(
    ("rate", "reserved", "charged"),
    [(5, 5, 5), (10, 5, 5), (3, 5, 3), (-1, 5, -1), (-3, 0, -3), (2, 0, 0)],
)
def test_a_rate_is_capped_at_the_reservation_and_a_rebate_never(
    rate: int, reserved: int, charged: int
) -> None:
    assert charged_bps(rate, max_fee_bps=reserved) == charged


def test_a_fee_rise_after_an_order_was_placed_charges_it_at_most_its_reserved_rate() -> None:
    # Given a 1 BTC buy placed under BTC's fees (maker 2, taker 5: held for 5 bps) resting, and a
    # taker sell placed under the same
    maker = hold("m", "maker", Side.BUY, 10_000, 10_000)
    taker = hold("t", "taker", Side.SELL, 10_000, 10_000)
    assert (maker.max_fee_bps, maker.held) == (5, Decimal("100.05"))
    # When they trade after a change to maker 8, taker 10
    result = settle_trade(
        a_trade(10_000, 10_000, Side.SELL),
        BTC,
        maker=maker,
        taker=taker,
        scales=SCALES,
        fee_account_id="fees",
        fees=FeeRates(maker_bps=8, taker_bps=10),
    )
    # Then each pays 5 bps (0.05 on 100.00), the buyer's hold covers it, and assets conserve
    assert (result.maker.fee, result.taker.fee) == (Decimal("0.05"), Decimal("0.05"))
    assert result.maker.after.held == 0
    assert per_asset(balance_deltas(result.movements)) == {"BTC": 0, "USD": 0}


def test_a_fee_cut_charges_the_new_rate_and_gives_the_rest_of_the_hold_back() -> None:
    maker = hold("m", "maker", Side.BUY, 10_000, 10_000)
    taker = hold("t", "taker", Side.SELL, 10_000, 10_000)
    result = settle_trade(
        a_trade(10_000, 10_000, Side.SELL),
        BTC,
        maker=maker,
        taker=taker,
        scales=SCALES,
        fee_account_id="fees",
        fees=FeeRates(maker_bps=1, taker_bps=3),
    )
    assert (result.maker.fee, result.taker.fee) == (Decimal("0.01"), Decimal("0.03"))
    assert balance_deltas(result.movements)[("maker", "USD")] == (
        Decimal("0.04"),
        Decimal("-100.05"),
    )


def test_a_bigger_rebate_after_the_change_is_paid_in_full() -> None:
    maker = hold("m", "maker", Side.BUY, 100, 100_000, instrument=SOL)  # rebate 1 bp then
    taker = hold("t", "taker", Side.SELL, 100, 100_000, instrument=SOL)
    result = settle_trade(
        a_trade(100_000, 100, Side.SELL, "SOL-USD"),
        SOL,
        maker=maker,
        taker=taker,
        scales=SCALES,
        fee_account_id="fees",
        fees=FeeRates(maker_bps=-3, taker_bps=7),
    )
    assert (result.maker.fee, result.taker.fee) == (Decimal("-0.03"), Decimal("0.07"))


class GrowingCatalog(InstrumentCatalog):
    """A catalog that learns symbols after it was built, as the live catalog does."""

    def learn(self, instrument: Instrument) -> None:
        self._by_symbol[instrument.symbol] = instrument


def test_a_symbol_listed_later_is_checked_at_its_first_use() -> None:
    catalog = GrowingCatalog([BTC])
    instruments = LedgerInstruments(catalog, SCALES)
    with pytest.raises(UnknownInstrument):
        instruments.get("SOL-USD")
    catalog.learn(SOL)
    assert instruments.get("SOL-USD") is SOL
    doge = BTC.model_copy(update={"symbol": "DOGE-USD", "base": "DOGE"})
    catalog.learn(doge)
    with pytest.raises(UnknownAsset, match="DOGE"):
        instruments.get("DOGE-USD")  # the ledger keeps no scale for DOGE: refused, every time
    with pytest.raises(UnknownAsset):
        instruments.get("DOGE-USD")


def test_an_instrument_the_ledger_cannot_hold_is_refused_when_built() -> None:
    with pytest.raises(UnknownAsset):
        LedgerInstruments(InstrumentCatalog([BTC]), {"USD": 2})
