"""The pipelined journal: the loop goes on matching while a write is in flight, acknowledges
only what is durable and in delivery order, batches by load, holds back when the journal is slow,
stops at a failed write, and a kill while writes are in flight loses and duplicates nothing."""

import threading
import time
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

import pytest

from engine_service.adapters.kinesis import pack
from engine_service.adapters.memory import InMemoryBroker, InMemoryIntake, InMemoryJournal
from engine_service.adapters.memory import InMemorySnapshotStore as Snapshots
from engine_service.core import Engine
from engine_service.demo import demo_stream
from engine_service.ports import JournalPosition, JournalUnavailable
from engine_service.runtime import EngineRuntime, RuntimeConfig
from exchange import wire
from exchange.domain import Command, Event
from tests.unit.engine_service.test_runtime import (
    CATALOG,
    SHARD,
    FakeClock,
    commands,
    journaled,
    publish,
    run_until_idle,
    step_many,
    uninterrupted,
)


class GatedJournal(InMemoryJournal):
    """An in-memory journal whose writes wait while ``gate`` is closed (``entered`` is set when
    one waits), and which keeps each write's events."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.writes: list[list[Event]] = []

    def append(self, records: Sequence[wire.JournalRecord]) -> JournalPosition:
        self.entered.set()
        assert self.gate.wait(10), "the test never opened the gate"
        self.writes.append([event for record in records for event in record.events])
        return super().append(records)

    def close_gate(self) -> None:
        self.entered.clear()
        self.gate.clear()


class CheckingIntake(InMemoryIntake):
    """Checks every acknowledgement: tags only grow, and every command it covers has its events
    in the journal (tag n is the n-th command published, on a fresh broker)."""

    def __init__(self, broker: InMemoryBroker, journal: InMemoryJournal, cmds: list[Command]):
        super().__init__(broker, SHARD)
        self._journal = journal
        engine = Engine(list(CATALOG))
        self._durable_needed = [0]  # events the first n commands cause
        for command in cmds:
            self._durable_needed.append(self._durable_needed[-1] + len(engine.apply(command)))
        self.acked: list[int] = []
        self.violations: list[str] = []

    def ack_through(self, tag: int) -> None:
        durable = len(journaled(self._journal))
        if self.acked and tag <= self.acked[-1]:
            self.violations.append(f"ack {tag} after {self.acked[-1]}")
        if durable < self._durable_needed[tag]:
            self.violations.append(f"ack {tag} with {durable} events durable")
        self.acked.append(tag)
        super().ack_through(tag)


def runtime_on(
    broker: InMemoryBroker,
    journal: InMemoryJournal,
    *,
    intake: InMemoryIntake | None = None,
    snapshots: Snapshots | None = None,
    clock: FakeClock | None = None,
    **config: object,
) -> EngineRuntime:
    settings = {"shard": SHARD, "linger_s": 0.0, "idle_wait_s": 0.001, **config}
    runtime = EngineRuntime(
        config=RuntimeConfig(**settings),  # type: ignore[arg-type]
        instruments=list(CATALOG),
        intake=intake or broker.intake(SHARD),
        journal=journal,
        snapshots=snapshots or Snapshots(),
        clock=clock or FakeClock(),
    )
    runtime.recover()
    runtime.connect()
    return runtime


def events_of(cmds: Iterable[Command]) -> list[list[Event]]:
    engine = Engine(list(CATALOG))
    return [engine.apply(command) for command in cmds]


def by_symbol(events: Iterable[Event]) -> dict[str, list[Event]]:
    grouped: dict[str, list[Event]] = {}
    for event in events:
        grouped.setdefault(event.symbol, []).append(event)
    return grouped


def unacked(runtime: EngineRuntime) -> int:
    return runtime._intake.unacked  # type: ignore[attr-defined, no-any-return]


def test_every_ack_covers_only_durable_commands_and_acks_go_out_in_order() -> None:
    # Given a slow journal and an intake that checks each acknowledgement against it
    class SlowJournal(InMemoryJournal):
        def append(self, records: Sequence[wire.JournalRecord]) -> JournalPosition:
            time.sleep(0.003)
            return super().append(records)

    broker, journal, cmds = InMemoryBroker(), SlowJournal(), commands(700)
    intake = CheckingIntake(broker, journal, cmds)
    publish(broker, cmds)
    runtime = runtime_on(broker, journal, intake=intake, poll_max=7)
    # When the loop runs the stream through
    run_until_idle(runtime, broker)
    # Then no ack came before its events were durable, the acks grew, and the last covers all
    assert intake.violations == []
    assert intake.acked[-1] == 700
    assert journaled(journal) == uninterrupted(cmds)
    # And the loop did not wait for each write: writes took several polls at once
    assert runtime.counters.flushes < 700 / 7 / 2


def test_a_write_in_flight_holds_back_acks_and_the_next_write_takes_everything_that_came() -> None:
    # Given a write in flight that does not end (its first 10 commands). The next write must not
    # start before it ends: Kinesis orders a shard's records only by arrival (Kinesis API Reference,
    # PutRecord, SequenceNumberForOrdering), and consumers refuse a seq gap.
    broker, journal = InMemoryBroker(), GatedJournal()
    cmds = commands(51)
    caused = events_of(cmds)
    runtime = runtime_on(broker, journal, poll_max=10)
    journal.close_gate()
    publish(broker, cmds[:10])
    runtime.step()
    assert journal.entered.wait(5)
    # When 40 more commands come meanwhile
    publish(broker, cmds[10:50])
    for _ in range(4):
        assert runtime.step() == 10
    # Then they are matched, nothing is durable or acknowledged yet, and health says so
    assert runtime.counters.commands == 50
    assert (journal.payloads, unacked(runtime)) == ([], 50)
    lag = runtime.health()["journal"]
    assert lag == {
        "held_events": 0,
        "queued_events": sum(map(len, caused[10:50])),
        "writing_events": sum(map(len, caused[:10])),
        "last_write_ms": 0.0,
    }
    # When the write ends, then the next write takes all 40 at once, and all are acknowledged
    journal.gate.set()
    run_until_idle(runtime, broker)
    assert journal.writes == [list(chain(*caused[:10])), list(chain(*caused[10:50]))]
    # And when quiet, one command is written alone, at once
    publish(broker, cmds[50:])
    run_until_idle(runtime, broker)
    assert journal.writes[-1] == caused[50]
    assert runtime.counters.flushes == 3


def test_while_a_write_is_in_flight_the_loop_waits_for_deliveries_not_for_the_write() -> None:
    # Given a write in flight that does not end, and a loop that waits up to 5 s when idle
    broker, journal = InMemoryBroker(), GatedJournal()
    cmds = commands(2)
    runtime = runtime_on(broker, journal, idle_wait_s=5.0)
    journal.close_gate()
    publish(broker, cmds[:1])
    runtime.step()
    assert journal.entered.wait(5)
    # When a command comes 50 ms into the next step's wait
    threading.Timer(0.05, publish, (broker, cmds[1:])).start()
    started = time.monotonic()
    taken = runtime.step()
    # Then the step takes and matches it at once, while the write is still in flight
    assert taken == 1
    assert time.monotonic() - started < 2.0
    assert runtime.counters.commands == 2
    assert journal.writes == []
    journal.gate.set()
    run_until_idle(runtime, broker)
    assert journal.writes == events_of(cmds)


def test_the_end_of_a_write_wakes_a_waiting_step_which_acknowledges_at_once() -> None:
    # Given a write in flight, and a step waiting (up to 5 s) for deliveries that do not come
    broker, journal = InMemoryBroker(), GatedJournal()
    runtime = runtime_on(broker, journal, idle_wait_s=5.0)
    journal.close_gate()
    publish(broker, commands(1))
    runtime.step()
    assert journal.entered.wait(5)
    # When the write ends 50 ms into that wait
    threading.Timer(0.05, journal.gate.set).start()
    started = time.monotonic()
    runtime.step()
    # Then the writer woke the step, which acknowledged the command well before its 5 s
    assert time.monotonic() - started < 2.0
    assert unacked(runtime) == 0


def test_a_start_with_nothing_held_waits_for_deliveries_instead_of_polling_in_a_spin() -> None:
    # Given a runtime that recovered with no listing to adopt (so nothing held)
    broker, journal = InMemoryBroker(), InMemoryJournal()
    runtime = runtime_on(broker, journal, linger_s=0.002, idle_wait_s=0.3)
    # Then its first poll waits the idle wait (a linger clock started by nothing made it 0)
    assert runtime._held.since is None
    assert runtime._held.poll_timeout(0.0, runtime.config) == 0.3


def test_a_write_takes_at_most_max_batch_events() -> None:
    broker, journal = InMemoryBroker(), GatedJournal()
    cmds = commands(200)
    runtime = runtime_on(broker, journal, poll_max=5, max_batch_events=40)
    journal.close_gate()
    publish(broker, cmds)
    for _ in range(40):
        runtime.step()
    journal.gate.set()
    run_until_idle(runtime, broker)
    # Then each write held whole polls, at most 40 events (a poll of 5 makes fewer than 40)
    assert max(len(events) for events in journal.writes[1:]) <= 40
    assert journaled(journal) == uninterrupted(cmds)


def test_a_slow_journal_stops_intake_at_max_waiting_events() -> None:
    # Given a journal that does not answer, and room for 60 events waiting for it
    broker, journal = InMemoryBroker(), GatedJournal()
    cmds = commands(500)
    runtime = runtime_on(broker, journal, poll_max=10, max_waiting_events=60)
    journal.close_gate()
    publish(broker, cmds)
    # When the loop goes on stepping
    for _ in range(50):
        runtime.step()
    # Then it took commands only until 60 events waited (each command causes at least one)
    assert runtime.counters.commands <= 60 + 10
    assert broker.depth(SHARD) >= 500 - 70
    # And once the journal answers, it takes the rest
    journal.gate.set()
    run_until_idle(runtime, broker)
    assert journaled(journal) == uninterrupted(cmds)


def test_a_failed_write_stops_the_writer_and_nothing_after_it_is_acknowledged() -> None:
    # Given a journal whose second write fails (after the adapter's retries) while more wait
    class FailsSecond(GatedJournal):
        attempts = 0

        def append(self, records: Sequence[wire.JournalRecord]) -> JournalPosition:
            self.attempts += 1
            if self.attempts == 2:
                self.entered.set()
                self.gate.wait(10)
                raise JournalUnavailable("10 records not written to events after 10 attempts")
            return super().append(records)

    broker, journal = InMemoryBroker(), FailsSecond()
    cmds = commands(100)
    publish(broker, cmds)
    runtime = runtime_on(broker, journal, poll_max=10)
    runtime.step()
    runtime.flush()  # the first write: durable and acknowledged
    journal.close_gate()
    for _ in range(4):
        runtime.step()  # the second write in flight, three polls waiting behind it
    assert journal.entered.wait(5)
    # When the second write fails
    journal.gate.set()
    with pytest.raises(JournalUnavailable):
        step_many(runtime, 100)
    # Then the journal holds the first write only, nothing after it was tried or acknowledged
    assert journaled(journal) == uninterrupted(cmds[:10])
    assert journal.attempts == 2
    assert unacked(runtime) == runtime.counters.commands - 10
    assert runtime.health()["status"] == "degraded"
    # And the runtime refuses to go on: every step and flush raises again
    with pytest.raises(JournalUnavailable):
        runtime.step()
    with pytest.raises(JournalUnavailable):
        runtime.flush()
    assert journal.attempts == 2


class KillableJournal(InMemoryJournal):
    """Blocks the write numbered ``block_at`` until ``gate`` opens (``entered`` says it waits),
    then lands ``landing`` of it: all of it, none, or only its first symbol's records (a
    ``PutRecords`` that fails part of a request); ``dead`` refuses any later write."""

    def __init__(self) -> None:
        super().__init__()
        self.gate, self.entered = threading.Event(), threading.Event()
        self.block_at: int | None = None
        self.landing = "all"
        self.attempts = 0
        self.dead = False
        self.blocked: list[wire.JournalRecord] = []

    def append(self, records: Sequence[wire.JournalRecord]) -> JournalPosition:
        assert not self.dead, "a killed runtime wrote to the journal"
        self.attempts += 1
        if self.attempts != self.block_at:
            return super().append(records)
        self.blocked = list(records)
        self.entered.set()
        assert self.gate.wait(10)
        if self.landing == "none":
            return JournalPosition()
        if self.landing == "first symbol":
            return super().append([r for r in records if r.symbol == records[0].symbol])
        return super().append(records)


@pytest.mark.parametrize("landing", ["none", "all", "first symbol"])
def test_a_kill_while_writes_are_in_flight_recovers_to_the_uninterrupted_run(landing: str) -> None:
    # Given two symbols' commands interleaved, and a runtime that snapshots every 30 s
    btc, eth = (demo_stream(CATALOG.get(s), count=800, seed=5) for s in ("BTC-USD", "ETH-USD"))
    cmds: list[Command] = list(chain.from_iterable(zip(btc, eth, strict=True)))
    broker, journal, snapshots, clock = (
        InMemoryBroker(),
        KillableJournal(),
        Snapshots(),
        FakeClock(),
    )
    publish(broker, cmds)
    config: dict[str, Any] = {"poll_max": 40, "snapshot_every_events": 10**9}
    first = runtime_on(broker, journal, snapshots=snapshots, clock=clock, **config)
    for _ in range(12):
        first.step()
        clock.now += 10
    first.snapshot()
    for _ in range(3):
        first.step()
    first.flush()  # durable writes after the snapshot: recovery replays them
    durable = len(journaled(journal))
    # When a write is in flight and more polls wait behind it
    journal.block_at, journal.landing = journal.attempts + 1, landing
    first.step()
    assert journal.entered.wait(5)
    for _ in range(3):
        first.step()
    lag = first.health()["journal"]
    assert isinstance(lag, dict)
    assert lag["writing_events"] > 0
    assert lag["queued_events"] > 0
    # And the engine is killed then: the write in flight lands (or not), nothing after it does
    threading.Timer(0.05, journal.gate.set).start()
    first.abandon()
    journal.dead = True
    in_flight = [e for r in journal.blocked for e in r.events]
    landed = {"none": 0, "all": len(in_flight)}.get(
        landing, sum(len(r.events) for r in journal.blocked if r.symbol == in_flight[0].symbol)
    )
    assert len(journaled(journal)) == durable + landed
    # Then a new runtime recovers from the snapshot and the journal, and carries on
    journal.dead, journal.block_at = False, None
    second = runtime_on(broker, journal, snapshots=snapshots, **config)
    assert second.counters.replayed_events > 0
    run_until_idle(second, broker)
    second.flush()
    # And each symbol's journal, and the whole state, equal those of an uninterrupted run
    expected = Engine(list(CATALOG))
    expected_events = [event for command in cmds for event in expected.apply(command)]
    assert by_symbol(journaled(journal)) == by_symbol(expected_events)
    assert second.engine.snapshot() == expected.snapshot()
    # And what landed unacknowledged came again and was recognised
    assert (second.counters.duplicates > 0) == (landed > 0)


def test_shutdown_waits_for_every_write_and_acknowledges_it() -> None:
    class SlowJournal(InMemoryJournal):
        def append(self, records: Sequence[wire.JournalRecord]) -> JournalPosition:
            time.sleep(0.01)
            return super().append(records)

    broker, journal, snapshots = InMemoryBroker(), SlowJournal(), Snapshots()
    cmds = commands(300)
    publish(broker, cmds)
    runtime = runtime_on(broker, journal, snapshots=snapshots, poll_max=10)
    for _ in range(10):
        runtime.step()
    # When it stops with writes in flight and queued
    runtime.shutdown()
    # Then every command it took is durable and acknowledged (none comes back), and the
    # snapshot is at the journal's end
    taken = runtime.counters.commands
    assert journaled(journal) == uninterrupted(cmds[:taken])
    assert broker.depth(SHARD) == 300 - taken
    recovered = runtime_on(broker, journal, snapshots=snapshots)
    assert recovered.counters.replayed_events == 0
    assert recovered.engine.snapshot() == runtime.engine.snapshot()


def test_a_broker_drop_while_a_write_is_in_flight_loses_and_duplicates_nothing() -> None:
    broker, journal = InMemoryBroker(), GatedJournal()
    cmds = commands(400)
    publish(broker, cmds)
    runtime = runtime_on(broker, journal, poll_max=10)
    journal.close_gate()
    for _ in range(3):
        runtime.step()  # one write in flight, two polls behind it
    assert journal.entered.wait(5)
    # When the broker connection drops, and the write ends a little later
    runtime._intake.disconnect()  # type: ignore[attr-defined]
    threading.Timer(0.05, journal.gate.set).start()
    run_until_idle(runtime, broker)
    # Then the 30 commands applied before the drop were journaled once and came again as
    # duplicates; the journal equals an uninterrupted run
    assert journaled(journal) == uninterrupted(cmds)
    assert runtime.counters.duplicates == 30
    assert runtime.counters.reconnects == 1


def test_pack_stamps_every_record_with_the_epoch_it_is_given() -> None:
    events = uninterrupted(commands(40))
    assert {record.epoch for record in pack(events, max_bytes=300)} == {0}
    stamped = pack(events, max_bytes=300, epoch=4)
    assert len(stamped) > len(by_symbol(events))  # split, and each part stamped
    assert {record.epoch for record in stamped} == {4}


def test_the_runtime_journals_at_its_configured_epoch() -> None:
    # Given an engine promoted to epoch 2
    broker, journal = InMemoryBroker(), InMemoryJournal()
    runtime = runtime_on(broker, journal, epoch=2)
    cmds = commands(30)
    # When it matches and journals
    publish(broker, cmds)
    run_until_idle(runtime, broker)
    # Then every record it wrote carries epoch 2, and the events are the uninterrupted run's
    assert journal.records()
    assert {record.epoch for record in journal.records()} == {2}
    assert journaled(journal) == uninterrupted(cmds)
