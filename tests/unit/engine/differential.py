"""Runs one command stream on two matching cores and checks they agree byte for byte.

``run_both`` applies each command to a pure-core engine and to one of the other core, comparing
the encoded events of every command and, at checkpoints, the snapshot bytes, the L2 and L3 views,
``seq``, ``last_price`` and ``band_reference`` of every symbol, and ``is_duplicate`` before every
command. The other checks start from its ``Straight`` record: ``apply_batch`` in slices,
``Engine.restore`` of a snapshot on either core and carrying on, and a restored engine replaying
the journal then carrying on. Each failure says which command diverged and shows both cores'
events decoded.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from engine_service.core import Engine, cores
from exchange.domain import EngineCommand, Event, Instrument
from exchange.wire import decode_event, encode_event

PURE = cores.PURE
CORES = (cores.PURE, cores.NATIVE)


def encoded(events: Iterable[Event]) -> list[bytes]:
    return [encode_event(event) for event in events]


def _shown(events: Iterable[Event]) -> str:
    return "\n".join(f"    {event!r}" for event in events) or "    (none)"


def _diverged(what: str, index: int, command: EngineCommand, pure: str, other: str) -> str:
    return (
        f"{what} diverge at command #{index}: {command!r}\n  pure core:\n{pure}\n"
        f"  other core:\n{other}"
    )


@dataclass
class Straight:
    """The pure core's uninterrupted run: per command its encoded events, and its journal."""

    outputs: list[list[bytes]] = field(default_factory=list)
    # The snapshot before command i, for each checkpoint i (len(commands): after the last one).
    snapshots: dict[int, bytes] = field(default_factory=dict)
    # The events of seq > 0 (what the runtime journals), through the wire format.
    journal: list[Event] = field(default_factory=list)
    # How many journal events the first i commands emitted, for each checkpoint i.
    journaled: dict[int, int] = field(default_factory=dict)

    @property
    def final(self) -> bytes:
        return self.snapshots[max(self.snapshots)]


def assert_same_state(pure: Engine, other: Engine, where: str) -> None:
    """Same snapshot bytes, symbols, views, seq, last price and band reference."""
    assert list(other.books) == list(pure.books), f"symbols differ {where}"
    for symbol in pure.books:
        facts = (pure.seq, pure.last_price, pure.band_reference)
        for pure_fact, other_fact in zip(
            facts, (other.seq, other.last_price, other.band_reference), strict=True
        ):
            assert other_fact(symbol) == pure_fact(symbol), f"{pure_fact.__name__} {where}"
        for depth in (1, 3, 10_000):
            assert other.l2(symbol, depth) == pure.l2(symbol, depth), f"l2({depth}) {where}"
            assert other.l3(symbol, depth) == pure.l3(symbol, depth), f"l3({depth}) {where}"
    assert other.snapshot() == pure.snapshot(), f"snapshots differ {where}"


class Divergence(AssertionError):
    """The cores disagree on a command (``index``) or on the state before it."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


def _apply(engine: Engine, command: EngineCommand) -> list[Event] | str:
    """The events of ``command``, or what ``apply`` raised (it must not, on either core)."""
    try:
        return engine.apply(command)
    except Exception as exc:  # noqa: BLE001 - a core that raises is a divergence to report
        return f"    raised {type(exc).__name__}: {exc}"


def run_both(
    static: Sequence[Instrument],
    commands: Sequence[EngineCommand],
    *,
    other: str,
    window: int,
    every: int = 1,
) -> Straight:
    """Apply ``commands`` on the pure core and on ``other``, checking they agree (state at every
    ``every``-th command and at the end); returns the pure run's record. Raises ``Divergence``."""
    pure = Engine(static, dedupe_window=window, core=PURE)
    second = Engine(static, dedupe_window=window, core=other)
    straight = Straight()
    last = len(commands)
    for index, command in enumerate(commands):
        if index % every == 0:
            _same_state(pure, second, index, f"before command #{index}: {command!r}")
            straight.snapshots[index] = pure.snapshot()
            straight.journaled[index] = len(straight.journal)
        if second.is_duplicate(command) != pure.is_duplicate(command):
            raise Divergence(f"is_duplicate diverges at command #{index}: {command!r}", index)
        expected, actual = _apply(pure, command), _apply(second, command)
        if isinstance(expected, str):
            raise AssertionError(
                f"the pure core raised on command #{index}: {command!r}\n{expected}"
            )
        expected_bytes = encoded(expected)
        if isinstance(actual, str) or encoded(actual) != expected_bytes:
            shown = actual if isinstance(actual, str) else _shown(actual)
            raise Divergence(_diverged("events", index, command, _shown(expected), shown), index)
        straight.outputs.append(expected_bytes)
        straight.journal += [
            decode_event(data) for data, e in zip(expected_bytes, expected, strict=True) if e.seq
        ]
    _same_state(pure, second, last, "after the last command")
    straight.snapshots[last] = pure.snapshot()
    straight.journaled[last] = len(straight.journal)
    return straight


def _same_state(pure: Engine, other: Engine, index: int, where: str) -> None:
    try:
        assert_same_state(pure, other, where)
    except AssertionError as exc:
        raise Divergence(str(exc), index) from exc


def shortest_divergence(
    commands: Sequence[EngineCommand], check: Callable[[list[EngineCommand]], object]
) -> list[EngineCommand]:
    """A short sub-sequence of ``commands`` on which ``check`` still fails (delta debugging: drop
    ever smaller runs of commands while it does). ``check`` must fail on ``commands``."""
    kept = list(commands)

    def fails(trial: list[EngineCommand]) -> bool:
        try:
            check(trial)
        except AssertionError:
            return True
        return False

    chunk = max(len(kept) // 2, 1)
    while True:
        start, dropped = 0, False
        while start < len(kept):
            trial = kept[:start] + kept[start + chunk :]
            if trial and fails(trial):
                kept, dropped = trial, True
            else:
                start += chunk
        if chunk == 1 and not dropped:
            return kept
        chunk = max(chunk // 2, 1) if not dropped else chunk


def assert_agree_or_shortest(
    commands: Sequence[EngineCommand], check: Callable[[list[EngineCommand]], object]
) -> None:
    """``check(commands)``; when it fails, the failure names the shortest stream found that
    still fails it, ready to paste into a test."""
    try:
        check(list(commands))
    except AssertionError as exc:
        end = exc.index + 1 if isinstance(exc, Divergence) else len(commands)
        short = shortest_divergence(commands[:end], check)
        lines = "\n".join(f"    {command!r}," for command in short)
        raise AssertionError(
            f"{exc}\n\nA shortest stream that fails ({len(short)}):\n{lines}"
        ) from exc


def _assert_outputs(
    actual: Sequence[list[bytes]],
    expected: Sequence[list[bytes]],
    commands: Sequence[EngineCommand],
    start: int,
    what: str,
) -> None:
    assert len(actual) == len(expected), f"{what}: {len(actual)} results for {len(expected)}"
    for offset, (got, want) in enumerate(zip(actual, expected, strict=True)):
        if got != want:
            decoded = [_shown(map(decode_event, side)) for side in (want, got)]
            raise AssertionError(
                _diverged(what, start + offset, commands[start + offset], *decoded)
            )


def assert_batches_agree(
    static: Sequence[Instrument],
    commands: Sequence[EngineCommand],
    straight: Straight,
    *,
    core: str,
    window: int,
    cuts: Iterable[int] = (),
) -> None:
    """``apply_batch`` on a fresh engine of ``core``, in slices split at ``cuts``, gives each
    command the events the uninterrupted run gave it, grouped the same way."""
    engine = Engine(static, dedupe_window=window, core=core)
    bounds = [0, *sorted(set(cuts)), len(commands)]
    for start, end in pairwise(bounds):
        batch = [encoded(events) for events in engine.apply_batch(commands[start:end])]
        _assert_outputs(batch, straight.outputs[start:end], commands, start, f"apply_batch[{core}]")
    assert engine.snapshot() == straight.final, f"apply_batch[{core}]: final snapshot"


def assert_restore_continues(
    static: Sequence[Instrument],
    commands: Sequence[EngineCommand],
    straight: Straight,
    *,
    core: str,
    window: int,
    cut: int,
) -> None:
    """The checkpoint snapshot before command ``cut``, restored on ``core``, emits what the
    uninterrupted run did from there on and ends in its state."""
    engine = Engine.restore(straight.snapshots[cut], static, dedupe_window=window, core=core)
    assert engine.core == core
    assert engine.snapshot() == straight.snapshots[cut], f"restore[{core}] at #{cut}: snapshot"
    rest = [encoded(engine.apply(command)) for command in commands[cut:]]
    _assert_outputs(rest, straight.outputs[cut:], commands, cut, f"restored[{core}] at #{cut}")
    assert engine.snapshot() == straight.final, f"restored[{core}] at #{cut}: final snapshot"


def assert_replay_rebuilds(
    static: Sequence[Instrument],
    commands: Sequence[EngineCommand],
    straight: Straight,
    *,
    core: str,
    window: int,
    cut: int,
    until: int,
) -> None:
    """The checkpoint snapshot before command ``cut``, restored on ``core`` and fed the journal
    of commands ``cut`` to ``until`` (checkpoints both), is where the uninterrupted run stood at
    ``until``, and goes on exactly as it did."""
    engine = Engine.restore(straight.snapshots[cut], static, dedupe_window=window, core=core)
    engine.replay(straight.journal[straight.journaled[cut] : straight.journaled[until]])
    what = f"replayed[{core}] #{cut}..#{until}"
    assert engine.snapshot() == straight.snapshots[until], f"{what}: snapshot"
    rest = [encoded(engine.apply(command)) for command in commands[until:]]
    _assert_outputs(rest, straight.outputs[until:], commands, until, what)
    assert engine.snapshot() == straight.final, f"{what}: final snapshot"


def assert_cores_agree(
    static: Sequence[Instrument],
    commands: Sequence[EngineCommand],
    *,
    other: str,
    window: int,
    cuts: Sequence[int],
) -> Straight:
    """Every check above: ``cuts`` (two or more indexes into ``commands``) are where snapshots
    are restored, replays start and end, and batches are split."""
    straight = run_both(static, commands, other=other, window=window)
    for core in (PURE, other):
        assert_batches_agree(static, commands, straight, core=core, window=window, cuts=cuts)
        for cut in cuts:
            assert_restore_continues(static, commands, straight, core=core, window=window, cut=cut)
        first, *later = sorted(cuts)
        for until in [*later, len(commands)]:
            assert_replay_rebuilds(
                static, commands, straight, core=core, window=window, cut=first, until=until
            )
    return straight
