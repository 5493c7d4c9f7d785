"""Invariants that must hold after every command of any random stream."""

from collections import defaultdict
from itertools import count

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_service.core import Engine
from engine_service.core.replay import ReplayError
from exchange.domain import (
    Command,
    Event,
    Instrument,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderTriggered,
    Trade,
)
from exchange.wire import encode_event
from tests.unit.engine.helpers import (
    BANDED,
    INSTRUMENT,
    SYMBOL,
    command_streams,
    new,
    trading_streams,
)

SETTINGS = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Every invariant on both instruments: the band following every trade with no opening reference,
# and the band with an opening reference that only trades of 4 lots or more move.
INSTRUMENTS = pytest.mark.parametrize("instrument", [INSTRUMENT, BANDED], ids=["plain", "banded"])


def _all_events(engine: Engine, stream: list[Command]) -> list[list[Event]]:
    return [engine.apply(command) for command in stream]


def _open_quantities(engine: Engine) -> dict[str, int]:
    """Open quantity of every resting order, read from a full-depth L3 view."""
    view = engine.l3(SYMBOL, depth=1_000)
    return {
        order.order_id: order.open_qty for level in view.bids + view.asks for order in level.orders
    }


@INSTRUMENTS
@SETTINGS
@given(stream=command_streams())
def test_book_is_never_crossed_after_a_command(
    instrument: Instrument, stream: list[Command]
) -> None:
    engine = Engine([instrument])
    for command in stream:
        engine.apply(command)
        view = engine.l2(SYMBOL, depth=1)
        if view.bids and view.asks:
            assert view.bids[0].price < view.asks[0].price, command


@INSTRUMENTS
@SETTINGS
@given(stream=command_streams())
def test_quantity_is_conserved_for_every_order(
    instrument: Instrument, stream: list[Command]
) -> None:
    # Given per-order totals kept from the events alone
    engine = Engine([instrument])
    total: dict[str, int] = {}
    done: dict[str, int] = defaultdict(int)  # filled + cancelled + expired
    held: set[str] = set()  # untriggered stops: open but not on the book
    for command in stream:
        for event in engine.apply(command):
            if isinstance(event, OrderAccepted):
                total[event.order_id] = event.qty
                if event.stop_price is not None:
                    held.add(event.order_id)
            elif isinstance(event, OrderAmended):
                total[event.order_id] = event.qty
                assert event.open_qty == event.qty - done[event.order_id]
            elif isinstance(event, Trade):
                done[event.maker_order_id] += event.qty
                done[event.taker_order_id] += event.qty
                held.discard(event.taker_order_id)
            elif isinstance(event, OrderCancelled):
                done[event.order_id] += event.cancelled_qty
                held.discard(event.order_id)
            elif isinstance(event, OrderExpired):
                done[event.order_id] += event.expired_qty
                held.discard(event.order_id)
        # Then filled + open + cancelled + expired == the quantity in force, for every order
        open_qty = _open_quantities(engine)
        for order_id, qty in total.items():
            if order_id in held:
                continue  # a held stop has filled nothing and is cancelled or triggered whole
            assert done[order_id] + open_qty.get(order_id, 0) == qty, (order_id, command)


@INSTRUMENTS
@SETTINGS
@given(stream=command_streams())
def test_each_level_is_first_in_first_out(instrument: Instrument, stream: list[Command]) -> None:
    # Given the moment each order (re)entered the queue: on acceptance (a stop: on its trigger),
    # or on an amend that raised its quantity or moved its price
    engine = Engine([instrument])
    clock = count()
    entered: dict[str, int] = {}
    last_terms: dict[str, tuple[int | None, int]] = {}
    for command in stream:
        for event in engine.apply(command):
            if isinstance(event, OrderAccepted | OrderTriggered):
                entered[event.order_id] = next(clock)
            if isinstance(event, OrderAccepted):
                last_terms[event.order_id] = (event.price, event.qty)
            elif isinstance(event, OrderAmended):
                price, qty = last_terms[event.order_id]
                if event.price != price or event.qty > qty:
                    entered[event.order_id] = next(clock)
                last_terms[event.order_id] = (event.price, event.qty)
        # Then within every level, orders queue in the order they entered
        view = engine.l3(SYMBOL, depth=1_000)
        for level in view.bids + view.asks:
            stamps = [entered[order.order_id] for order in level.orders]
            assert stamps == sorted(stamps), (level, command)


@INSTRUMENTS
@SETTINGS
@given(stream=command_streams())
def test_seq_is_gap_free_from_one(instrument: Instrument, stream: list[Command]) -> None:
    engine = Engine([instrument])
    seqs = [event.seq for events in _all_events(engine, stream) for event in events]
    assert seqs == list(range(1, len(seqs) + 1))
    assert engine.seq(SYMBOL) == len(seqs)


@INSTRUMENTS
@SETTINGS
@given(stream=command_streams())
def test_same_input_gives_byte_identical_output(
    instrument: Instrument, stream: list[Command]
) -> None:
    first = [
        encode_event(e) for events in _all_events(Engine([instrument]), stream) for e in events
    ]
    again = [
        encode_event(e) for events in _all_events(Engine([instrument]), stream) for e in events
    ]
    assert first == again


@INSTRUMENTS
@SETTINGS
@given(stream=command_streams(), data=st.data())
def test_snapshot_restore_then_continue_equals_the_uninterrupted_run(
    instrument: Instrument, stream: list[Command], data: st.DataObject
) -> None:
    # Given an uninterrupted run
    straight = Engine([instrument])
    expected = [[encode_event(e) for e in straight.apply(command)] for command in stream]
    # When another run is snapshotted at a random point, restored and continued
    cut = data.draw(st.integers(min_value=0, max_value=len(stream)), label="cut")
    before = Engine([instrument])
    for command in stream[:cut]:
        before.apply(command)
    resumed = Engine.restore(before.snapshot(), [instrument])
    actual = [[encode_event(e) for e in resumed.apply(command)] for command in stream[cut:]]
    # Then it emits the same bytes and ends in the same state
    assert actual == expected[cut:]
    assert resumed.snapshot() == straight.snapshot()


@INSTRUMENTS
@SETTINGS
@given(stream=command_streams())
def test_no_command_raises_and_each_yields_events_unless_a_redelivery(
    instrument: Instrument, stream: list[Command]
) -> None:
    engine = Engine([instrument])
    for command in stream:
        events = engine.apply(command)
        assert events or not isinstance(command, NewOrder)


@INSTRUMENTS
@SETTINGS
@given(stream=command_streams(), data=st.data())
def test_snapshot_plus_journal_replay_rebuilds_the_uninterrupted_state(
    instrument: Instrument, stream: list[Command], data: st.DataObject
) -> None:
    # Given an uninterrupted run and its journal
    straight = Engine([instrument])
    journal = [event for events in _all_events(straight, stream) for event in events]
    # When a snapshot taken at a random command is restored and the later events replayed
    cut = data.draw(st.integers(min_value=0, max_value=len(stream)), label="cut")
    before = Engine([instrument])
    for command in stream[:cut]:
        before.apply(command)
    rebuilt = Engine.restore(before.snapshot(), [instrument])
    rebuilt.replay(event for event in journal if event.seq > rebuilt.seq(SYMBOL))
    # Then the rebuilt engine is in the very same state
    assert rebuilt.snapshot() == straight.snapshot()
    assert rebuilt.l3(SYMBOL, depth=1_000) == straight.l3(SYMBOL, depth=1_000)
    assert rebuilt.last_price(SYMBOL) == straight.last_price(SYMBOL)


@INSTRUMENTS
@SETTINGS
@given(stream=trading_streams(), data=st.data())
def test_snapshot_and_replay_rebuild_protected_stops_and_the_band_of_trading_streams(
    instrument: Instrument, stream: list[Command], data: st.DataObject
) -> None:
    # Given an uninterrupted run of a stream that trades, holds protected stops and moves the band
    straight = Engine([instrument])
    journal = [event for events in _all_events(straight, stream) for event in events]
    # When one copy is snapshotted at a random command, restored and continued, and another
    # restored from the same snapshot and fed the rest of the journal
    cut = data.draw(st.integers(min_value=0, max_value=len(stream)), label="cut")
    before = Engine([instrument])
    for command in stream[:cut]:
        before.apply(command)
    resumed = Engine.restore(before.snapshot(), [instrument])
    continued = [e for command in stream[cut:] for e in resumed.apply(command)]
    rebuilt = Engine.restore(before.snapshot(), [instrument])
    rebuilt.replay(event for event in journal if event.seq > rebuilt.seq(SYMBOL))
    # Then both end exactly where the uninterrupted run did
    assert continued == [event for event in journal if event.seq > before.seq(SYMBOL)]
    assert resumed.snapshot() == rebuilt.snapshot() == straight.snapshot()
    assert rebuilt.band_reference(SYMBOL) == straight.band_reference(SYMBOL)


def test_replay_refuses_an_event_out_of_seq() -> None:
    engine = Engine([INSTRUMENT])
    events = engine.apply(new("o1"))
    with pytest.raises(ReplayError, match="seq"):
        Engine([INSTRUMENT]).replay(events[1:])
