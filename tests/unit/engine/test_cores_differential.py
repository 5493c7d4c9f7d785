"""Differential tests: the compiled core and the pure-Python core (the executable reference), fed
the same random streams, give byte-identical events and snapshots.

Each stream is applied to both cores command by command (events, ``is_duplicate``, views, seq,
last price, band reference and snapshot bytes compared after every command), then again through
``apply_batch`` in slices, from snapshots restored on either core, and through a replay of the
journal after a snapshot. These tests need the compiled core: off CI they skip without it, with
``CI=true`` they fail (see ``conftest``).
"""

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bench.engine_workload import INSTRUMENT as WORKLOAD_INSTRUMENT
from bench.engine_workload import generate, to_commands
from engine_service.core import Engine, cores
from engine_service.core.engine import DEFAULT_DEDUPE_WINDOW
from exchange.domain import EngineCommand, Instrument
from exchange.domain.instruments import MAX_LOTS
from tests.unit.engine.differential import (
    PURE,
    assert_agree_or_shortest,
    assert_batches_agree,
    assert_cores_agree,
    assert_replay_rebuilds,
    assert_restore_continues,
    encoded,
    run_both,
)
from tests.unit.engine.helpers import BANDED, INSTRUMENT, command_streams, new, trading_streams
from tests.unit.engine.mixed_streams import WIDE, extreme_streams, mixed_streams, seeded_stream

ENGINE_CORES = (cores.NATIVE,)  # conftest: the compiled core must load for these tests
OTHER = cores.NATIVE
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# A seed's stream shrinks by ``shortest_divergence``, not by hypothesis: no shrink phase.
SEEDED = settings(SETTINGS, max_examples=40, phases=[Phase.explicit, Phase.reuse, Phase.generate])
ENGINE_TESTS_STREAMS = st.one_of(
    command_streams(operators=True), trading_streams(operators=True), command_streams()
)


def _cuts(data: st.DataObject, size: int) -> list[int]:
    """Two or three snapshot points in ``0..size``, drawn."""
    points = st.lists(st.integers(min_value=0, max_value=size), min_size=2, max_size=3, unique=True)
    return sorted(data.draw(points, label="cuts"))


def _every_check(static: list[Instrument], window: int) -> Callable[[list[EngineCommand]], object]:
    """Every differential check of a stream, with snapshots at its thirds."""

    def check(commands: list[EngineCommand]) -> object:
        size = len(commands)
        cuts = [size // 3, 2 * size // 3 + 1] if size > 1 else [0, size]
        return assert_cores_agree(static, commands, other=OTHER, window=window, cuts=cuts)

    return check


@SETTINGS
@given(stream=mixed_streams(), data=st.data())
def test_cores_agree_on_streams_of_every_kind_of_command(
    stream: tuple[list[Instrument], list[EngineCommand], int], data: st.DataObject
) -> None:
    # Given a stream of orders, cancels, amends and operators' commands over three symbols
    static, commands, window = stream
    # When it runs on both cores, in batches, restored from snapshots and replayed
    # Then every event and every state is the same, byte for byte
    assert_cores_agree(
        static, commands, other=OTHER, window=window, cuts=_cuts(data, len(commands))
    )


@settings(SETTINGS, max_examples=60)
@given(
    instrument=st.sampled_from([INSTRUMENT, BANDED]),
    commands=ENGINE_TESTS_STREAMS,
    window=st.sampled_from([3, DEFAULT_DEDUPE_WINDOW]),
    data=st.data(),
)
def test_cores_agree_on_the_streams_the_engine_tests_use(
    instrument: Instrument, commands: list[EngineCommand], window: int, data: st.DataObject
) -> None:
    static = [instrument]
    cuts = _cuts(data, len(commands))
    assert_cores_agree(static, commands, other=OTHER, window=window, cuts=cuts)


@SEEDED
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_cores_agree_on_random_seeded_streams(seed: int) -> None:
    # Given a random stream that trades, amends live orders and lists symbols as a venue would
    static, commands, window = seeded_stream(seed, 300)
    # Then the cores agree on it, or the failure shows a shortest stream that diverges
    assert_agree_or_shortest(commands, _every_check(static, window))


@settings(SETTINGS, max_examples=100)
@given(commands=extreme_streams(), window=st.sampled_from([3, DEFAULT_DEDUPE_WINDOW]))
def test_cores_agree_at_the_int64_limits_and_on_odd_ids(
    commands: list[EngineCommand], window: int
) -> None:
    # Given prices, quantities and timestamps at the int64 and uint64 limits, and ids that are
    # empty, hold NUL characters, are long or not ASCII, on an instrument without a maximum price
    static = [WIDE]
    # When the cores run them, Then they agree (a core that refuses such a value must refuse it
    # as the reference does)
    straight = run_both(static, commands, other=OTHER, window=window)
    assert_restore_continues(static, commands, straight, core=OTHER, window=window, cut=0)


@pytest.mark.parametrize("seed", range(1, 9))
def test_cores_agree_on_long_seeded_streams(seed: int) -> None:
    # Given a long reproducible stream: deep books, full dedupe windows
    static, commands, window = seeded_stream(seed, 3_000)

    def check(commands: list[EngineCommand]) -> None:
        # When both cores run it, Then they agree at every command and every 100th state
        straight = run_both(static, commands, other=OTHER, window=window, every=100)
        cuts = [cut for cut in (1_000, 2_000) if cut in straight.snapshots]
        assert_batches_agree(static, commands, straight, core=OTHER, window=window, cuts=cuts)
        for core in (PURE, OTHER):
            for cut in cuts:
                assert_restore_continues(
                    static, commands, straight, core=core, window=window, cut=cut
                )
            if len(cuts) == 2:
                assert_replay_rebuilds(
                    static, commands, straight, core=core, window=window, cut=1_000, until=2_000
                )

    assert_agree_or_shortest(commands, check)


def test_cores_agree_on_50_000_commands_of_the_benchmark_workload() -> None:
    # Given the benchmark's order flow: passive orders near a drifting mid, takers and cancels
    commands = to_commands(generate(seed=21, count=50_000))
    static, window = [WORKLOAD_INSTRUMENT], 10_000
    # When both cores run it command by command, Then every event is byte-identical
    straight = run_both(static, commands, other=OTHER, window=window, every=5_000)
    # And the compiled core's batches (as the runtime sends them) give the same events
    cuts = range(1_000, 50_000, 1_000)
    assert_batches_agree(static, commands, straight, core=OTHER, window=window, cuts=cuts)
    # And a snapshot halfway, restored on the compiled core, carries on identically
    assert_restore_continues(static, commands, straight, core=OTHER, window=window, cut=25_000)
    assert_replay_rebuilds(
        static, commands, straight, core=OTHER, window=window, cut=25_000, until=45_000
    )


def test_an_engine_restored_on_the_other_core_keeps_its_history() -> None:
    # Given a compiled-core engine with resting orders, a held stop and used ids
    static, commands, window = seeded_stream(7, 400)
    native = Engine(static, dedupe_window=window, core=OTHER)
    outputs = [encoded(native.apply(command)) for command in commands[:300]]
    # When its snapshot is restored on the pure core, and the pure one's back on the compiled
    pure = Engine.restore(native.snapshot(), static, dedupe_window=window, core=PURE)
    back = Engine.restore(pure.snapshot(), static, dedupe_window=window, core=OTHER)
    # Then all three answer every later command alike, and redeliveries alike
    assert (native.core, pure.core, back.core) == (OTHER, PURE, OTHER)
    for command in commands[:300] + commands[300:]:
        duplicate = native.is_duplicate(command)
        assert pure.is_duplicate(command) == back.is_duplicate(command) == duplicate
        expected = encoded(native.apply(command))
        assert encoded(pure.apply(command)) == encoded(back.apply(command)) == expected
    assert pure.snapshot() == back.snapshot() == native.snapshot()
    assert outputs


def test_a_level_total_beyond_64_bits_raises_on_the_compiled_core_instead_of_wrapping() -> None:
    # Given an instrument at the largest order size an instrument may set (2**53 - 1 lots), and
    # 1,024 such orders resting at one price (a total of 2**63 - 1,024 lots: it still fits)
    engine = Engine([WIDE], core=OTHER)
    for i in range(1_024):
        (accepted, _delta) = engine.apply(new(f"o{i}", qty=MAX_LOTS, price=100))
        assert accepted.seq == 2 * i + 1
    # When one more would take the level past 2**63 - 1, Then the compiled core refuses to wrap
    with pytest.raises(OverflowError, match="would hold more than 9223372036854775807 lots"):
        engine.apply(new("o1024", qty=MAX_LOTS, price=100))
