"""Decimal <-> tick/lot conversion is exact both ways, and off-step values are refused."""

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from exchange.domain import (
    Instrument,
    InstrumentCatalog,
    InstrumentStatus,
    InvalidInstrument,
    InvalidNumber,
    InvalidPrice,
    InvalidQuantity,
    OffLot,
    OffTick,
    UnknownInstrument,
)
from exchange.domain.numbers import parse_decimal, steps_in
from tests.strategies import instruments

POSITIVE_COUNTS = st.integers(min_value=1, max_value=10**15)


def make(**overrides: object) -> Instrument:
    fields: dict[str, object] = {
        "symbol": "BTC-USD",
        "base": "BTC",
        "quote": "USD",
        "tick_size": "0.01",
        "lot_size": "0.0001",
        "min_qty": "0.0001",
        "max_qty": "100",
        "price_band_pct": "10",
    }
    fields.update(overrides)
    return Instrument.model_validate(fields)


@given(instruments(), POSITIVE_COUNTS)
def test_ticks_to_text_and_back_is_exact(instrument: Instrument, ticks: int) -> None:
    # Given an integer tick count, when written as text and read back, it is the same count
    text = instrument.format_price(ticks)
    assert instrument.price_to_ticks(text) == ticks
    assert Decimal(text) == instrument.tick_size * ticks


@given(instruments(), POSITIVE_COUNTS)
def test_lots_to_text_and_back_is_exact(instrument: Instrument, lots: int) -> None:
    text = instrument.format_qty(lots)
    assert instrument.qty_to_lots(text) == lots
    assert Decimal(text) == instrument.lot_size * lots


@given(instruments(), POSITIVE_COUNTS, st.integers(min_value=0, max_value=4))
def test_any_spelling_of_an_on_tick_price_reads_the_same(
    instrument: Instrument, ticks: int, trailing_zeros: int
) -> None:
    # "12.5", "12.50" and "1.25E+1" are the same price
    price = instrument.ticks_to_price(ticks)
    spellings = {
        str(price),
        format(price, "f") + ("0" * trailing_zeros if "." in format(price, "f") else ""),
        f"{price:E}",
    }
    assert {instrument.price_to_ticks(text) for text in spellings} == {ticks}


@given(instruments(), POSITIVE_COUNTS, st.integers(min_value=1, max_value=9))
def test_price_between_ticks_is_rejected_and_says_what_it_was(
    instrument: Instrument, ticks: int, tenth: int
) -> None:
    # Given a price a fraction of a tick above a valid one
    off = instrument.ticks_to_price(ticks) + instrument.tick_size * Decimal(tenth) / 10
    # When it is converted, then OffTick names the tick and the value
    with pytest.raises(OffTick) as raised:
        instrument.price_to_ticks(str(off))
    assert format(instrument.tick_size, "f") in str(raised.value)
    assert format(off, "f") in str(raised.value)


@given(instruments(), POSITIVE_COUNTS, st.integers(min_value=1, max_value=9))
def test_quantity_between_lots_is_rejected(instrument: Instrument, lots: int, tenth: int) -> None:
    off = instrument.lots_to_qty(lots) + instrument.lot_size * Decimal(tenth) / 10
    with pytest.raises(OffLot, match="not on lot"):
        instrument.qty_to_lots(off)


@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=6),
    st.sampled_from(["0.01", "0.005", "1", "0.25"]),
)
def test_steps_in_agrees_with_exact_division(value: Decimal, step_text: str) -> None:
    step = Decimal(step_text)
    assume(abs(value) < Decimal("1e20"))
    count = steps_in(value, step)
    if count is None:
        assert value % step != 0
    else:
        assert count * step == value


@pytest.mark.parametrize("value", [0.5, float("nan"), True, None, [1], b"1"])
def test_non_decimal_types_are_refused(value: object) -> None:
    with pytest.raises(InvalidNumber):
        make().price_to_ticks(value)


@pytest.mark.parametrize(
    "text",
    ["", " 1", "1 ", "1_000", "NaN", "inf", "-Infinity", "0x10", "1,5", "1e400", "1." + "1" * 45],
)
def test_malformed_or_out_of_range_strings_are_refused(text: str) -> None:
    with pytest.raises(InvalidNumber):
        parse_decimal(text, what="price")


@pytest.mark.parametrize("price", ["0", "-0.01", "0.00"])
def test_non_positive_price_is_refused(price: str) -> None:
    with pytest.raises(InvalidPrice, match="positive"):
        make().price_to_ticks(price)


def test_non_positive_quantity_is_refused() -> None:
    with pytest.raises(InvalidQuantity, match="positive"):
        make().qty_to_lots("0")


def test_int_and_decimal_inputs_are_accepted() -> None:
    btc = make()
    assert btc.price_to_ticks(65000) == 6_500_000
    assert btc.price_to_ticks(Decimal("65000.01")) == 6_500_001


def test_price_keeps_the_tick_precision_in_text() -> None:
    assert make().format_price(6_500_010) == "65000.10"
    assert make(tick_size="5").format_price(3) == "15"


def test_band_rounds_inwards_so_the_edge_is_allowed() -> None:
    # Given a 10% band around 1,000 ticks, then 900..1,100 are allowed
    assert make().band(1_000) == (900, 1_100)
    # And a 10% band around 1,005 ticks allows 904.5 -> 905 .. 1,105.5 -> 1,105
    assert make().band(1_005) == (905, 1_105)


def test_min_and_max_are_exposed_in_lots() -> None:
    btc = make(min_qty="0.001", max_qty="2.5")
    assert (btc.min_lots, btc.max_lots) == (10, 25_000)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"symbol": "ETH-USD"}, "BASE-QUOTE"),
        ({"min_qty": "0.00015"}, "multiple of lot size"),
        ({"min_qty": "2", "max_qty": "1"}, "above max_qty"),
        ({"tick_size": "0"}, "greater than 0"),
        ({"tick_size": 0.01}, "decimal string"),
        ({"price_band_pct": "101"}, "less than or equal to 100"),
        ({"unexpected": 1}, "Extra inputs"),
        ({"reference_price": "65000.005"}, "reference_price must be a multiple of tick size"),
        ({"max_price": "0.001"}, "max_price must be a multiple of tick size"),
        ({"band_min_qty": "0.00015"}, "band_min_qty must be a multiple of lot size"),
        ({"reference_price": "700", "max_price": "600"}, "above max_price"),
        ({"reference_price": "0"}, "greater than 0"),
        # The engine's 64-bit limits: 2**53 lots, 2**62 ticks (lot 0.0001, tick 0.01)
        ({"max_qty": "900719925474.0992"}, "max_qty is 9007199254740992 lots, above the engine's"),
        ({"max_price": "46116860184273879.04"}, "max_price is 4611686018427387904 ticks, above"),
        ({"reference_price": "46116860184273879.04"}, "reference_price is 461168601842738790"),
    ],
)
def test_inconsistent_instrument_is_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**overrides)


def test_the_largest_limits_the_engine_holds_are_accepted() -> None:
    instrument = make(max_qty="900719925474.0991", max_price="46116860184273879.03")
    assert (instrument.max_lots, instrument.max_price_ticks) == (2**53 - 1, 2**62 - 1)


def test_engine_limits_are_exposed_in_ticks_and_lots() -> None:
    btc = make(reference_price="65000", band_min_qty="0.01", max_price="650000.50")
    assert (btc.reference_ticks, btc.band_min_lots, btc.max_price_ticks) == (
        6_500_000,
        100,
        65_000_050,
    )
    assert (make().reference_ticks, make().band_min_lots, make().max_price_ticks) == (
        None,
        None,
        None,
    )


def test_demo_instruments_open_at_the_demo_prices_within_their_limits() -> None:
    # The local market maker and the walkthrough quote BTC around 65,000, the e2e tests trade
    # ETH around 2,000 and SOL around 150: each must fall inside its band from the first order.
    catalog = InstrumentCatalog.demo()
    for symbol, demo_price in (("BTC-USD", "65000"), ("ETH-USD", "2000"), ("SOL-USD", "150")):
        instrument = catalog.get(symbol)
        assert instrument.reference_ticks is not None
        low, high = instrument.band(instrument.reference_ticks)
        assert low <= instrument.price_to_ticks(demo_price) <= high
        assert instrument.max_price is not None
        assert instrument.reference_price is not None
        assert instrument.max_price >= 10 * instrument.reference_price
        assert instrument.band_min_qty is not None
        assert instrument.band_min_qty >= instrument.min_qty
        assert instrument.max_notional == Decimal(10_000_000)


def test_instrument_is_immutable() -> None:
    btc = make()
    with pytest.raises(ValueError, match="frozen"):
        btc.tick_size = Decimal("1")  # type: ignore[misc]


def test_demo_catalog_lists_tradeable_instruments() -> None:
    catalog = InstrumentCatalog.demo()
    assert set(catalog.symbols) >= {"BTC-USD", "ETH-USD"}
    assert all(instrument.status is InstrumentStatus.TRADING for instrument in catalog)
    assert "BTC-USD" in catalog
    assert len(catalog) == len(catalog.symbols)


def test_unknown_symbol_is_a_typed_error() -> None:
    with pytest.raises(UnknownInstrument, match="DOGE-USD"):
        InstrumentCatalog.demo().get("DOGE-USD")


@pytest.mark.parametrize(
    "payload",
    ['{"symbol": "BTC-USD"}', "not json", '[{"symbol": "BTC-USD"}]'],
)
def test_bad_catalog_is_one_typed_error(payload: str) -> None:
    with pytest.raises(InvalidInstrument):
        InstrumentCatalog.from_json(payload)


def test_duplicate_symbol_in_catalog_is_refused() -> None:
    with pytest.raises(InvalidInstrument, match="duplicate"):
        InstrumentCatalog([make(), make()])
