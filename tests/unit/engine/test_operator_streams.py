"""Random order streams with operators' commands mixed in: the reference model agrees, the
invariants hold, and a snapshot at any point, a replay of the rest, or a replay of the whole
journal from empty all end byte for byte where the uninterrupted run did.

Each stream runs on a symbol from the static instruments file, and on the same symbol listed at
run time (the stream's first command then lists it in an engine that starts with no symbol).
"""

from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_service.core import Engine
from exchange.domain import (
    AccountFrozen,
    EngineCommand,
    Event,
    Instrument,
    InstrumentStatus,
    MassCancel,
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
    listing,
    trading_streams,
    without_detail,
)
from tests.unit.engine.reference import ReferenceBook

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INSTRUMENTS = pytest.mark.parametrize("instrument", [INSTRUMENT, BANDED], ids=["plain", "banded"])
LISTED = pytest.mark.parametrize("at_run_time", [False, True], ids=["static", "listed"])
STREAMS = st.one_of(command_streams(operators=True), trading_streams(operators=True))


def start(instrument: Instrument, stream: list[EngineCommand], at_run_time: bool) -> tuple[
    list[Instrument], list[EngineCommand]
]:  # fmt: skip
    """The engine's static instruments, and the commands: the stream, after the symbol's
    listing when it is listed at run time."""
    if at_run_time:
        return [], [listing(instrument, 1), *stream]
    return [instrument], stream


def encoded(events: list[Event]) -> list[bytes]:
    return [encode_event(event) for event in events]


@INSTRUMENTS
@SETTINGS
@given(stream=STREAMS)
def test_engine_equals_the_reference_with_operators_commands(
    instrument: Instrument, stream: list[EngineCommand]
) -> None:
    engine = Engine([instrument])
    reference = ReferenceBook(instrument)
    for command in stream:
        assert without_detail(engine.apply(command)) == without_detail(reference.apply(command)), (
            command
        )


@INSTRUMENTS
@SETTINGS
@given(stream=STREAMS)
def test_invariants_hold_after_every_command(
    instrument: Instrument, stream: list[EngineCommand]
) -> None:
    # Given per-order totals and the frozen accounts, kept from the events alone
    engine = Engine([instrument])
    total: dict[str, int] = {}
    done: dict[str, int] = defaultdict(int)  # filled + cancelled + expired
    frozen: set[str] = set()
    seqs: list[int] = []
    for command in stream:
        events = engine.apply(command)
        seqs += [event.seq for event in events]
        for event in events:
            if isinstance(event, OrderAccepted | OrderAmended):
                total[event.order_id] = event.qty
            elif isinstance(event, Trade):
                done[event.maker_order_id] += event.qty
                done[event.taker_order_id] += event.qty
            elif isinstance(event, OrderCancelled):
                done[event.order_id] += event.cancelled_qty
            elif isinstance(event, OrderExpired):
                done[event.order_id] += event.expired_qty
            elif isinstance(event, AccountFrozen):
                (frozen.add if event.frozen else frozen.discard)(event.account_id)
        book = engine.books[SYMBOL]
        # Then the book is not crossed, and no order's quantity is lost or made up
        view = engine.l2(SYMBOL, depth=1)
        if view.bids and view.asks:
            assert view.bids[0].price < view.asks[0].price, command
        for order_id, qty in total.items():
            order = book.orders.get(order_id)
            assert done[order_id] + (order.open_qty if order else 0) == qty, (order_id, command)
        # And no frozen account has an open order; a mass cancel leaves its target none
        owners = {order.account_id for order in book.orders.values()}
        assert not owners & frozen, command
        if isinstance(command, MassCancel) and events:
            target = command.account_id
            assert not book.orders if target is None else target not in owners, command
        # And nothing trades but in TRADING (POST_ONLY lets no taker in)
        if book.status is not InstrumentStatus.TRADING:
            assert not any(isinstance(e, Trade | OrderTriggered) for e in events), command
    assert seqs == list(range(1, len(seqs) + 1))


@INSTRUMENTS
@LISTED
@SETTINGS
@given(stream=STREAMS, data=st.data())
def test_snapshot_at_any_point_then_continuing_equals_the_uninterrupted_run_byte_for_byte(
    instrument: Instrument, at_run_time: bool, stream: list[EngineCommand], data: st.DataObject
) -> None:
    # Given an uninterrupted run
    static, commands = start(instrument, stream, at_run_time)
    straight = Engine(static)
    expected = [encoded(straight.apply(command)) for command in commands]
    # When another run is snapshotted at a random command, restored and continued
    cut = data.draw(st.integers(min_value=0, max_value=len(commands)), label="cut")
    before = Engine(static)
    for command in commands[:cut]:
        before.apply(command)
    resumed = Engine.restore(before.snapshot(), static)
    actual = [encoded(resumed.apply(command)) for command in commands[cut:]]
    # Then it emits the same bytes and ends in the same state
    assert actual == expected[cut:]
    assert resumed.snapshot() == straight.snapshot()


@INSTRUMENTS
@LISTED
@SETTINGS
@given(stream=STREAMS, data=st.data())
def test_snapshot_plus_the_journal_after_it_rebuilds_the_uninterrupted_state(
    instrument: Instrument, at_run_time: bool, stream: list[EngineCommand], data: st.DataObject
) -> None:
    # Given an uninterrupted run and its journal, through the wire format
    static, commands = start(instrument, stream, at_run_time)
    straight = Engine(static)
    journal = [event for command in commands for event in straight.apply(command)]
    # When a snapshot taken at a random command is restored and the later events replayed
    cut = data.draw(st.integers(min_value=0, max_value=len(commands)), label="cut")
    before = Engine(static)
    for command in commands[:cut]:
        before.apply(command)
    rebuilt = Engine.restore(before.snapshot(), static)
    done = rebuilt.seq(SYMBOL) if SYMBOL in rebuilt.books else 0
    rebuilt.replay(event for event in journal if event.seq > done)
    # Then the rebuilt engine is in the very same state, and goes on the same way
    assert rebuilt.snapshot() == straight.snapshot()
    probe = stream[-5:]
    assert [encoded(rebuilt.apply(c)) for c in probe] == [encoded(straight.apply(c)) for c in probe]


@INSTRUMENTS
@LISTED
@SETTINGS
@given(stream=STREAMS)
def test_replaying_the_whole_journal_from_empty_equals_the_uninterrupted_run(
    instrument: Instrument, at_run_time: bool, stream: list[EngineCommand]
) -> None:
    static, commands = start(instrument, stream, at_run_time)
    straight = Engine(static)
    journal = [event for command in commands for event in straight.apply(command)]
    rebuilt = Engine(static)
    rebuilt.replay(journal)
    assert rebuilt.snapshot() == straight.snapshot()
