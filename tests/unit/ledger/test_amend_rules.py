"""The amend increase rule (``ledger.amends``), as a property: whatever the engine does before it
applies an amend (fills the ledger has not settled yet, an earlier amend applied or refused), the
order's hold plus the amend's reserved increase covers the new terms, so settlement never needs
to take funds from available."""

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.domain import Instrument, OrderType, Side
from exchange.ledger.amends import AmendHold, amend_increase
from exchange.ledger.holds import Hold, fill, new_hold, resize
from exchange.ledger.money import add
from tests.unit.ledger.helpers import BTC, SCALES, SOL

maybe_price = st.none() | st.integers(1, 30_000)
maybe_qty = st.none() | st.integers(1, 6_000)
fills = st.lists(st.tuples(st.integers(0, 100), st.integers(1, 3_000), st.booleans()), max_size=4)


def _fill_some(hold: Hold, instrument: Instrument, steps: list[tuple[int, int, bool]]) -> Hold:
    """Fills at or below the price held (never the last lot, so the order stays open)."""
    for discount_pct, wanted, as_taker in steps:
        lots = min(wanted, hold.open_lots - 1)
        if lots <= 0:
            break
        limit = hold.limit_ticks or 20_000
        price = max(1, limit - limit * discount_pct // 100)
        bps = instrument.taker_fee_bps if as_taker else instrument.maker_fee_bps
        hold = fill(
            hold,
            instrument,
            price_ticks=price,
            qty_lots=lots,
            fee_bps=bps,
            quote_scale=SCALES[instrument.quote],
            base_scale=SCALES[instrument.base],
        ).after
    return hold


def _apply_amend(
    hold: Hold, instrument: Instrument, increase: AmendHold, *, price: int | None
) -> Hold | None:
    """The engine's OrderAmended as settlement applies it; None when the amend cancels."""
    total = increase.qty_lots or hold.filled_lots + hold.open_lots
    if total <= hold.filled_lots:
        return None
    adopted = replace(hold, held=add(hold.held, increase.held))
    # Raises LedgerInconsistency if the increase fell short: the property under test.
    return resize(
        adopted,
        instrument,
        open_lots=total - hold.filled_lots,
        limit_ticks=price or hold.limit_ticks,
        quote_scale=SCALES[instrument.quote],
        base_scale=SCALES[instrument.base],
    )


@settings(max_examples=400, deadline=None)
@given(
    instrument=st.sampled_from([BTC, SOL]),
    side=st.sampled_from(Side),
    price=st.integers(1, 30_000),
    qty=st.integers(2, 6_000),
    first=st.tuples(maybe_price, maybe_qty),
    second=st.tuples(maybe_price, maybe_qty),
    first_applied=st.booleans(),
    before=fills,
    between=fills,
)
def test_hold_plus_reserved_increase_always_covers_the_amended_order(  # noqa: PLR0917 - drawn by hypothesis
    instrument: Instrument,
    side: Side,
    price: int,
    qty: int,
    first: tuple[int | None, int | None],
    second: tuple[int | None, int | None],
    first_applied: bool,
    before: list[tuple[int, int, bool]],
    between: list[tuple[int, int, bool]],
) -> None:
    # Given an order the ledger holds, and two amends reserved one after the other
    hold = new_hold(
        order_id="o",
        account_id="a",
        instrument=instrument,
        side=side,
        order_type=OrderType.LIMIT,
        qty_lots=qty,
        price_ticks=price,
        protection_ticks=None,
        quote_scale=SCALES[instrument.quote],
        base_scale=SCALES[instrument.base],
    )

    def reserved(
        command_id: str, terms: tuple[int | None, int | None], pending: list[AmendHold]
    ) -> AmendHold:
        held = amend_increase(
            hold,
            instrument,
            price=terms[0],
            qty=terms[1],
            pending=pending,
            quote_scale=SCALES[instrument.quote],
            base_scale=SCALES[instrument.base],
        )
        return AmendHold(command_id, "o", "a", hold.asset, terms[0], terms[1], held)

    one = reserved("1", first, [])
    two = reserved("2", second, [one])
    # When the engine fills some, applies (or refuses) the first, fills more, applies the second
    current: Hold | None = _fill_some(hold, instrument, before)
    if first_applied and current is not None:
        current = _apply_amend(current, instrument, one, price=first[0])
    if current is not None:
        current = _fill_some(current, instrument, between)
        # Then settling the second never needs more than is held (resize would raise)
        _apply_amend(current, instrument, two, price=second[0])
