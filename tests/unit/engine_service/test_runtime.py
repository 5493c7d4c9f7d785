"""The engine runtime on in-process adapters: exactly-once effect on at-least-once delivery."""

import dataclasses
import json
import urllib.error
import urllib.request
from collections.abc import Sequence

import msgspec
import pytest

from engine_service.adapters.memory import InMemoryBroker, InMemoryJournal, InMemorySnapshotStore
from engine_service.core import Engine
from engine_service.demo import demo_stream
from engine_service.health import HealthServer
from engine_service.ports import JournalPosition, JournalUnavailable
from engine_service.runtime import EngineRuntime, RuntimeConfig, Status
from exchange import wire
from exchange.domain import Command, Event, Instrument, InstrumentCatalog
from exchange.l2 import L2Book

SHARD = "s1"
CATALOG = InstrumentCatalog.demo()
BTC = CATALOG.get("BTC-USD")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


class Books:
    def __init__(self) -> None:
        self.published: list[list[L2Book]] = []

    def publish_books(self, books: Sequence[L2Book]) -> None:
        self.published.append(list(books))


def commands(count: int, seed: int = 3) -> list[Command]:
    return list(demo_stream(BTC, count=count, seed=seed))


def uninterrupted(cmds: Sequence[Command]) -> list[Event]:
    engine = Engine(list(CATALOG))
    return [event for command in cmds for event in engine.apply(command)]


def journaled(journal: InMemoryJournal) -> list[Event]:
    return [event for record in journal.records() for event in record.events]


def make_runtime(
    broker: InMemoryBroker,
    journal: InMemoryJournal,
    snapshots: InMemorySnapshotStore,
    clock: FakeClock | None = None,
    books: Books | None = None,
    **config: object,
) -> EngineRuntime:
    settings = {"shard": SHARD, "linger_s": 0.0, "idle_wait_s": 0.001, **config}
    runtime = EngineRuntime(
        config=RuntimeConfig(**settings),  # type: ignore[arg-type]
        instruments=list(CATALOG),
        intake=broker.intake(SHARD),
        journal=journal,
        snapshots=snapshots,
        clock=clock or FakeClock(),
        books=books,
    )
    runtime.recover()
    runtime.connect()
    return runtime


def publish(broker: InMemoryBroker, cmds: Sequence[Command]) -> None:
    for command in cmds:
        broker.publish(SHARD, wire.encode_command(command))


def run_until_idle(runtime: EngineRuntime, broker: InMemoryBroker) -> None:
    for _ in range(10_000):
        runtime.step()
        if broker.depth(SHARD) == 0 and runtime._intake.unacked == 0:  # type: ignore[attr-defined]
            return
    raise AssertionError("runtime did not go idle")


@pytest.fixture
def parts() -> tuple[InMemoryBroker, InMemoryJournal, InMemorySnapshotStore]:
    return InMemoryBroker(), InMemoryJournal(), InMemorySnapshotStore()


def test_commands_in_events_out_equal_the_pure_engine(parts) -> None:
    broker, journal, snapshots = parts
    cmds = commands(2_000)
    publish(broker, cmds)
    runtime = make_runtime(broker, journal, snapshots)
    run_until_idle(runtime, broker)
    assert journaled(journal) == uninterrupted(cmds)
    assert runtime.counters.commands == 2_000


def test_nothing_is_acknowledged_when_the_journal_write_fails(parts) -> None:
    # Given a journal that refuses every write
    broker, _journal, snapshots = parts

    class DownJournal(InMemoryJournal):
        def append(self, records: Sequence[wire.JournalRecord]) -> JournalPosition:
            raise JournalUnavailable("stream unavailable")

    publish(broker, commands(50))
    runtime = make_runtime(broker, DownJournal(), snapshots)
    # When a batch is processed, then the failure surfaces (once the write has ended) and every
    # delivery stays unacked
    with pytest.raises(JournalUnavailable):
        step_many(runtime, 100)
    assert runtime._intake.unacked == 50  # type: ignore[attr-defined]
    assert runtime.health()["status"] == "degraded"
    # And the runtime does not carry on as if nothing happened
    with pytest.raises(JournalUnavailable):
        runtime.step()


def test_acks_follow_the_journal_write(parts) -> None:
    # Given a journal that records how many deliveries were still unacked when it was written
    broker, _journal, snapshots = parts
    unacked_at_write: list[int] = []

    class Watching(InMemoryJournal):
        def append(self, records: Sequence[wire.JournalRecord]) -> JournalPosition:
            unacked_at_write.append(runtime._intake.unacked)  # type: ignore[attr-defined]
            return super().append(records)

    publish(broker, commands(30))
    runtime = make_runtime(broker, Watching(), snapshots, poll_max=10)
    runtime.step()
    runtime.flush()
    # Then the 10 commands of the batch were unacked while written, and acked after
    assert unacked_at_write == [10]
    assert runtime._intake.unacked == 0  # type: ignore[attr-defined]
    assert broker.depth(SHARD) == 20  # not yet polled


def test_poison_and_misrouted_messages_are_dead_lettered_and_the_shard_continues(parts) -> None:
    broker, journal, snapshots = parts
    cmds = commands(20)
    foreign = wire.encode_command(msgspec.structs.replace(cmds[0], symbol="DOGE-USD"))
    broker.publish(SHARD, b"\x01\x93garbage")
    publish(broker, cmds[:10])
    broker.publish(SHARD, foreign)
    publish(broker, cmds[10:])
    runtime = make_runtime(broker, journal, snapshots)
    run_until_idle(runtime, broker)
    assert broker.dead_letters[SHARD] == [b"\x01\x93garbage", foreign]
    assert runtime.counters.poison == 2
    assert journaled(journal) == uninterrupted(cmds)


def test_broker_drop_mid_batch_loses_and_duplicates_nothing(parts) -> None:
    # Given a runtime that has applied commands whose events are not yet written
    broker, journal, snapshots = parts
    cmds = commands(3_000)
    publish(broker, cmds)
    runtime = make_runtime(
        broker, journal, snapshots, poll_max=200, max_batch_events=10_000, linger_s=60.0
    )
    for _ in range(3):
        runtime.step()
    assert runtime._pending_events  # applied but neither written nor acked
    # When the broker connection drops, and unacked commands come again
    runtime._intake.disconnect()  # type: ignore[attr-defined]
    runtime.config = dataclasses.replace(runtime.config, linger_s=0.0)
    run_until_idle(runtime, broker)
    runtime.flush()
    # Then the journal equals an uninterrupted run: no event lost, none twice
    assert journaled(journal) == uninterrupted(cmds)
    assert runtime.counters.duplicates >= 600
    assert runtime.counters.reconnects == 1


class Killed(Exception):
    """The process died: here, between the journal write and the broker ack."""


class KilledAfterWrite(InMemoryJournal):
    def __init__(self, kill_on_write: int) -> None:
        super().__init__()
        self.writes = 0
        self.kill_on_write = kill_on_write

    def append(self, records: Sequence[wire.JournalRecord]) -> JournalPosition:
        position = super().append(records)
        self.writes += 1
        if self.writes == self.kill_on_write:
            raise Killed
        return position


@pytest.mark.parametrize("kill_on_write", [1, 5, 12])
def test_kill_between_journal_and_ack_then_recovery_equals_an_uninterrupted_run(
    parts, kill_on_write: int
) -> None:
    # Given a runtime that snapshots every 500 events and dies right after a journal write
    broker, _journal, snapshots = parts
    journal = KilledAfterWrite(kill_on_write)
    cmds = commands(4_000)
    publish(broker, cmds)
    first = make_runtime(broker, journal, snapshots, poll_max=100, snapshot_every_events=500)

    def run_until_killed() -> None:
        for _ in range(1_000):
            first.step()
            if broker.depth(SHARD) == 0 and first._intake.unacked == 0:  # type: ignore[attr-defined]
                return

    with pytest.raises(Killed):
        run_until_killed()
    first._intake.disconnect()  # type: ignore[attr-defined]  # its unacked commands come again
    # When a new runtime recovers from the newest snapshot plus the journal, and carries on
    second = make_runtime(broker, journal, snapshots, poll_max=100, snapshot_every_events=500)
    run_until_idle(second, broker)
    second.flush()
    # Then events, seqs and the whole engine state equal those of an uninterrupted run
    expected = Engine(list(CATALOG))
    expected_events = [event for command in cmds for event in expected.apply(command)]
    assert journaled(journal) == expected_events
    assert second.engine.snapshot() == expected.snapshot()
    # And the commands of the killed write (whole polls of 100), redelivered, were recognised
    assert second.counters.duplicates >= 100
    assert second.counters.duplicates % 100 == 0


def test_shutdown_drains_flushes_acks_and_snapshots(parts) -> None:
    broker, journal, snapshots = parts
    books = Books()
    publish(broker, commands(500))
    runtime = make_runtime(broker, journal, snapshots, books=books, poll_max=100, linger_s=60.0)
    runtime.step()
    runtime.shutdown()
    assert runtime.status is Status.STOPPED
    assert runtime._pending_events == []
    assert snapshots.snapshots[SHARD]
    assert books.published[-1][0].seq == runtime.engine.seq("BTC-USD")


def test_snapshot_is_taken_every_n_events_or_t_seconds(parts) -> None:
    broker, journal, snapshots = parts
    clock = FakeClock()
    publish(broker, commands(10))
    runtime = make_runtime(
        broker, journal, snapshots, clock=clock, snapshot_every_events=10_000, snapshot_every_s=30.0
    )
    runtime.step()
    assert SHARD not in snapshots.snapshots  # few events, little time
    clock.now += 31
    publish(broker, commands(1, seed=9))
    runtime.step()
    assert len(snapshots.snapshots[SHARD]) == 1


def test_health_answers_ready_or_503_with_the_status() -> None:
    state = {"status": "recovering"}
    server = HealthServer(0, lambda: dict(state), host="127.0.0.1").start()
    url = f"http://127.0.0.1:{server.port}/health"
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=2)
        assert refused.value.code == 503
        refused.value.close()
        state["status"] = "ready"
        with urllib.request.urlopen(url, timeout=2) as response:
            assert response.status == 200
            assert json.loads(response.read())["status"] == "ready"
    finally:
        server.stop()


def test_instruments_of_other_shards_are_not_loaded() -> None:
    only_btc: list[Instrument] = [BTC]
    runtime = EngineRuntime(
        config=RuntimeConfig(shard=SHARD),
        instruments=only_btc,
        intake=InMemoryBroker().intake(SHARD),
        journal=InMemoryJournal(),
        snapshots=InMemorySnapshotStore(),
    )
    assert list(runtime.engine.books) == ["BTC-USD"]


def step_many(runtime: EngineRuntime, steps: int) -> None:
    for _ in range(steps):
        runtime.step()
