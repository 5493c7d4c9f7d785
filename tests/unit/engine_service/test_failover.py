"""Failover on the engine's side: the DR region rebuilds from the newest replicated snapshot plus
the events table (the journal's replicated copy), continuing each symbol's seq with neither a gap
nor a reuse, and the fence keeps two regions from both journaling.

The scenarios run the real runtime on in-process adapters: the primary matches part of a stream
and dies; DR promotes and matches the rest; everything it journals must equal, byte for byte, an
uninterrupted run of the whole stream.
"""

import json
import urllib.error
import urllib.request
from collections.abc import Sequence

import pytest

from engine_service.adapters.memory import (
    InMemoryBroker,
    InMemoryJournal,
    InMemoryReplicatedEvents,
    InMemorySnapshotStore,
)
from engine_service.core import Engine
from engine_service.fence import Fenced, FencedJournal, FenceState, StaticFence, wait_until_active
from engine_service.health import HealthServer
from engine_service.ports import JournalUnavailable, SnapshotStoreUnavailable
from engine_service.recovery import Promotion, settled_tail
from engine_service.runtime import EngineRuntime, RuntimeConfig
from exchange import wire
from exchange.domain import Command
from exchange.snapshots import decode_snapshot
from tests.unit.engine_service.test_runtime import (
    CATALOG,
    SHARD,
    FakeClock,
    commands,
    journaled,
    publish,
    run_until_idle,
    uninterrupted,
)

PRIMARY, DR = "us-east-1", "us-west-2"


def runtime(
    broker: InMemoryBroker,
    journal: object,
    snapshots: object,
    *,
    epoch: int = 0,
    promotion: Promotion | None = None,
    snapshot_every_events: int = 700,
) -> EngineRuntime:
    built = EngineRuntime(
        config=RuntimeConfig(
            shard=SHARD,
            linger_s=0.0,
            idle_wait_s=0.001,
            poll_max=100,
            snapshot_every_events=snapshot_every_events,
            epoch=epoch,
        ),
        instruments=list(CATALOG),
        intake=broker.intake(SHARD),
        journal=journal,  # type: ignore[arg-type]
        snapshots=snapshots,  # type: ignore[arg-type]
        clock=FakeClock(),
        promotion=promotion,
    )
    built.recover()
    built.connect()
    return built


def encoded(events: Sequence[object]) -> list[bytes]:
    return [wire.encode_event(event) for event in events]  # type: ignore[arg-type]


def replicate(journal: InMemoryJournal, copy: InMemoryReplicatedEvents, *, upto: int) -> None:
    """The recorder's writes of the first ``upto`` journal records, replicated."""
    for record in journal.records()[:upto]:
        copy.put(record.events)


def primary_then_dr(
    cmds: Sequence[Command],
    split: int,
    *,
    replicated_records: int | None = None,
    snapshot_copied: bool = True,
) -> tuple[InMemoryJournal, InMemoryJournal, EngineRuntime, InMemoryReplicatedEvents]:
    """The primary matches ``cmds[:split]`` and dies; DR, given the copy and (maybe) the
    primary's snapshots, promotes at epoch 1 and matches the rest."""
    broker, journal, snapshots = InMemoryBroker(), InMemoryJournal(), InMemorySnapshotStore()
    publish(broker, cmds[:split])
    primary = runtime(broker, journal, snapshots)
    run_until_idle(primary, broker)
    primary.flush()
    primary.abandon()
    copy = InMemoryReplicatedEvents()
    replicate(journal, copy, upto=replicated_records or len(journal.payloads))
    dr_snapshots = InMemorySnapshotStore()
    if snapshot_copied:
        dr_snapshots.snapshots = {k: list(v) for k, v in snapshots.snapshots.items()}
    dr_broker, dr_journal = InMemoryBroker(), InMemoryJournal()
    publish(dr_broker, cmds[split:])
    dr = runtime(
        dr_broker, dr_journal, dr_snapshots, epoch=1, promotion=Promotion(copy, 1, quiet_s=0)
    )
    run_until_idle(dr, dr_broker)
    dr.flush()
    return journal, dr_journal, dr, copy


@pytest.mark.parametrize("snapshot_copied", [True, False], ids=["snapshot+table", "table-only"])
def test_promotion_continues_seqs_and_equals_an_uninterrupted_run(snapshot_copied: bool) -> None:
    # Given a stream the primary matches 2,300 commands of (snapshotting every 700 events)
    cmds = commands(4_000, seed=11)
    # When it dies with everything replicated, and DR promotes from the snapshot copy (or
    # none) plus the events table, then matches the rest
    journal, dr_journal, dr, _ = primary_then_dr(cmds, 2_300, snapshot_copied=snapshot_copied)
    # Then primary + DR journaled exactly the uninterrupted run's events, byte for byte
    expected = Engine(list(CATALOG))
    want = [event for command in cmds for event in expected.apply(command)]
    assert encoded(journaled(journal) + journaled(dr_journal)) == encoded(want)
    # And DR's book is the uninterrupted engine's, byte for byte
    assert dr.engine.snapshot() == expected.snapshot()
    # And DR's first record starts right after the primary's last seq (no gap, no reuse)
    assert dr_journal.records()[0].first_seq == journal.records()[-1].last_seq + 1


def test_promotion_snapshots_at_its_epoch_so_a_restart_reads_its_own_stream() -> None:
    # Given DR promoted and matched commands at epoch 1
    cmds = commands(3_000, seed=5)
    _journal, dr_journal, dr, copy = primary_then_dr(cmds, 1_500)
    dr_snapshots = dr._snapshots
    saved = decode_snapshot(dr_snapshots.load(SHARD))  # type: ignore[arg-type]
    # Then its snapshots carry the epoch and a position in its own stream
    assert saved.epoch == 1
    assert set(saved.position.sequence_numbers) <= {InMemoryJournal.STREAM}
    # And a DR restart (same promotion settings) rebuilds the same engine without re-promoting
    dr.abandon()
    again = runtime(
        InMemoryBroker(), dr_journal, dr_snapshots, epoch=1, promotion=Promotion(copy, 1, quiet_s=0)
    )
    assert again.engine.snapshot() == dr.engine.snapshot()


class FailingSaves(InMemorySnapshotStore):
    def save(self, shard: str, snapshot: bytes) -> None:
        raise SnapshotStoreUnavailable("bucket unreachable")


def test_a_dr_restart_without_its_own_snapshot_promotes_again_and_skips_what_it_journaled() -> None:
    # Given DR promoted but could not save a snapshot, matched commands and died
    cmds = commands(3_000, seed=7)
    broker, journal, snapshots = InMemoryBroker(), InMemoryJournal(), InMemorySnapshotStore()
    publish(broker, cmds[:1_200])
    primary = runtime(broker, journal, snapshots)
    run_until_idle(primary, broker)
    primary.flush()
    primary.abandon()
    copy = InMemoryReplicatedEvents()
    replicate(journal, copy, upto=len(journal.payloads))
    dr_snapshots = FailingSaves()
    dr_snapshots.snapshots = {k: list(v) for k, v in snapshots.snapshots.items()}
    dr_broker, dr_journal = InMemoryBroker(), InMemoryJournal()
    publish(dr_broker, cmds[1_200:2_000])
    promotion = Promotion(copy, 1, quiet_s=0)
    dr = runtime(dr_broker, dr_journal, dr_snapshots, epoch=1, promotion=promotion)
    run_until_idle(dr, dr_broker)
    dr.flush()
    dr.abandon()
    # And DR's recorder copied only part of what DR journaled into the table
    replicate(dr_journal, copy, upto=len(dr_journal.payloads) // 2)
    # When it restarts (the primary's epoch-0 snapshot is still the newest) and goes on
    publish(dr_broker, cmds[2_000:])
    restarted = runtime(dr_broker, dr_journal, dr_snapshots, epoch=1, promotion=promotion)
    run_until_idle(restarted, dr_broker)
    restarted.flush()
    # Then table + its own stream rebuilt it exactly: still the uninterrupted run
    expected = Engine(list(CATALOG))
    want = [event for command in cmds for event in expected.apply(command)]
    assert encoded(journaled(journal) + journaled(dr_journal)) == encoded(want)
    assert restarted.engine.snapshot() == expected.snapshot()


def test_events_that_did_not_replicate_are_lost_and_dr_continues_from_the_copy() -> None:
    # Given the primary journaled its records but only the first half replicated before it died
    cmds = commands(2_000, seed=13)
    broker, journal, snapshots = InMemoryBroker(), InMemoryJournal(), InMemorySnapshotStore()
    publish(broker, cmds)
    primary = runtime(broker, journal, snapshots, snapshot_every_events=10**9)
    run_until_idle(primary, broker)
    primary.flush()
    primary.abandon()
    records = journal.records()
    assert len(records) >= 2
    half = len(records) // 2
    copy = InMemoryReplicatedEvents()
    replicate(journal, copy, upto=half)
    # When DR promotes with no snapshot
    dr = runtime(
        InMemoryBroker(),
        InMemoryJournal(),
        InMemorySnapshotStore(),
        epoch=1,
        promotion=Promotion(copy, 1, quiet_s=0),
    )
    # Then each symbol's seq is the copy's tail: what did not replicate is the RPO
    for symbol in {r.symbol for r in records}:
        copied = [r.last_seq for r in records[:half] if r.symbol == symbol]
        assert dr.engine.seq(symbol) == max(copied, default=0)
    assert dr.counters.replayed_events == sum(len(r.events) for r in records[:half])


def test_a_hole_in_the_copy_stops_the_rebuild_at_the_hole() -> None:
    # Given a copy holding seqs 1..n but one event in the middle missing (replication is per
    # item, in no promised order)
    cmds = commands(600, seed=17)
    broker, journal, snapshots = InMemoryBroker(), InMemoryJournal(), InMemorySnapshotStore()
    publish(broker, cmds)
    primary = runtime(broker, journal, snapshots, snapshot_every_events=10**9)
    run_until_idle(primary, broker)
    primary.flush()
    events = journaled(journal)
    symbol = events[0].symbol
    missing = len(events) // 2
    assert all(e.symbol == symbol for e in events)
    copy = InMemoryReplicatedEvents()
    copy.put(events[:missing] + events[missing + 1 :])  # type: ignore[arg-type]
    # When DR promotes
    dr = runtime(
        InMemoryBroker(), InMemoryJournal(), InMemorySnapshotStore(), epoch=1,
        promotion=Promotion(copy, 1, quiet_s=0),
    )  # fmt: skip
    # Then it stops before the hole rather than failing or skipping it
    assert dr.engine.seq(symbol) == events[missing - 1].seq


def test_settled_tail_waits_until_the_copy_stops_moving() -> None:
    # Given a copy whose tail grows for three polls, then stays
    tails = iter([5, 6, 8, 9, 9, 9, 9, 9, 9, 9])
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    # When promotion waits for one quiet second, polling every 0.25 s
    settled = settled_tail(
        lambda _symbol: next(tails), ["S"], quiet_s=1.0, timeout_s=30, clock=lambda: now[0],
        sleep=sleep,
    )  # fmt: skip
    # Then it returns the settled tail once it was still for a second
    assert settled == {"S": 9}
    assert now[0] == pytest.approx(0.75 + 1.0)


# --- the fence -----------------------------------------------------------------------------------


class MovableFence:
    def __init__(self, state: FenceState) -> None:
        self.state = state
        self.reads = 0
        self.fail = False

    def read(self) -> FenceState:
        self.reads += 1
        if self.fail:
            raise ConnectionError("dynamodb unreachable")
        return self.state


def test_fenced_journal_writes_only_while_its_region_holds_the_fence_at_its_epoch() -> None:
    now = [0.0]
    fence = MovableFence(FenceState(PRIMARY, 0))
    inner = InMemoryJournal()
    journal = FencedJournal(inner, fence, region=PRIMARY, epoch=0, ttl_s=1.0, clock=lambda: now[0])
    record = wire.JournalRecord.of(list(Engine(list(CATALOG)).apply(commands(1)[0])))
    journal.append([record])
    journal.append([record])
    assert fence.reads == 1  # a read is reused for ttl_s
    # When DR takes the fence
    fence.state = FenceState(DR, 1)
    now[0] = 1.5
    # Then the next write is refused, and nothing more reaches the journal
    with pytest.raises(Fenced):
        journal.append([record])
    assert len(inner.payloads) == 2
    # And a fence that cannot be read refuses the write too (it cannot tell)
    fence.state, fence.fail = FenceState(PRIMARY, 0), True
    now[0] = 3.0
    with pytest.raises(JournalUnavailable):
        journal.append([record])
    # And the same region at a newer epoch (a failback) also fences the old engine
    fence.fail, fence.state = False, FenceState(PRIMARY, 2)
    now[0] = 5.0
    with pytest.raises(Fenced):
        journal.append([record])


def test_a_fenced_runtime_acknowledges_nothing_after_the_fence_moves() -> None:
    # Given a primary runtime journaling through the fence
    fence = MovableFence(FenceState(PRIMARY, 0))
    broker, inner, snapshots = InMemoryBroker(), InMemoryJournal(), InMemorySnapshotStore()
    journal = FencedJournal(inner, fence, region=PRIMARY, epoch=0, ttl_s=0.0)
    cmds = commands(400, seed=2)
    publish(broker, cmds[:200])
    primary = runtime(broker, journal, snapshots)
    run_until_idle(primary, broker)
    written = len(inner.payloads)
    # When DR takes the fence and more commands arrive
    fence.state = FenceState(DR, 1)
    publish(broker, cmds[200:])
    # Then the runtime stops with Fenced, writes nothing more, and acks nothing more

    def run_on() -> None:
        for _ in range(1_000):
            primary.step()
        primary.flush()

    with pytest.raises(JournalUnavailable):
        run_on()
    assert len(inner.payloads) == written
    assert broker.depth(SHARD) + primary._intake.unacked == 200  # type: ignore[attr-defined]


def test_a_standby_waits_for_the_fence_then_takes_its_epoch() -> None:
    states = iter([FenceState(PRIMARY, 0), FenceState(PRIMARY, 0), FenceState(DR, 1)])
    sleeps: list[float] = []
    held = wait_until_active(StaticFenceSequence(states), DR, poll_s=0.5, sleep=sleeps.append)
    assert held == FenceState(DR, 1)
    assert sleeps == [0.5, 0.5]
    # And a stop request ends the wait with nothing held
    assert wait_until_active(StaticFence(PRIMARY), DR, stop=lambda: True) is None


class StaticFenceSequence:
    def __init__(self, states: object) -> None:
        self._states = states

    def read(self) -> FenceState:
        return next(self._states)  # type: ignore[call-overload, no-any-return]


def test_a_standby_answers_200_and_says_it_is_not_serving() -> None:
    standby = {"status": "standby", "serving": False, "standby": True}
    server = HealthServer(0, lambda: standby, host="127.0.0.1").start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/health") as response:
            assert response.status == 200
            assert json.load(response)["status"] == "standby"
        # And once the runtime answers, its status decides (503 while recovering)
        server.status = lambda: {"status": "recovering"}
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/health")
        assert raised.value.code == 503
        raised.value.close()
    finally:
        server.stop()


# --- the DynamoDB adapters, on moto -----------------------------------------------------------


def test_the_dynamodb_adapters_read_what_the_models_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapters use boto3 and name the attributes themselves: the events the recorder's
    model writes and the fence item the failover writes must read back through them."""
    import boto3  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    from engine_service.adapters.dynamo import DynamoFence, DynamoReplicatedEvents  # noqa: PLC0415
    from exchange.settings.base import AwsSettings, TableSettings  # noqa: PLC0415
    from exchange.tables import (  # noqa: PLC0415
        TABLE_SPECS,
        EventRecord,
        FailoverRecord,
        bind_tables,
    )

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name=DR)
        settings = type("Settings", (AwsSettings, TableSettings), {})(AWS_REGION=DR)
        for spec in TABLE_SPECS:
            if spec.logical_name in {"events", "failover"}:
                name = getattr(settings, spec.settings_field)
                client.create_table(**spec.create_table_kwargs(name))
        bind_tables(settings)
        engine = Engine(list(CATALOG))
        events = [e for c in commands(300, seed=4) for e in engine.apply(c)]
        with EventRecord.batch_write() as batch:
            for event in events:
                batch.save(
                    EventRecord(event.symbol, event.seq, kind="x",
                                payload=wire.encode_event(event), ts_ns=event.ts)
                )  # fmt: skip
        copy = DynamoReplicatedEvents(client, settings.events_table)
        symbol = events[0].symbol
        assert copy.tail(symbol) == events[-1].seq
        assert copy.tail("NOPE-USD") == 0
        after = events[-1].seq - 120
        read = list(copy.events_after(symbol, after))
        assert encoded(read) == encoded([e for e in events if e.seq > after])
        # And the fence: no item is the primary at epoch 0; the item is read as written
        fence = DynamoFence(client, settings.failover_table, primary_region=PRIMARY)
        assert fence.read() == FenceState(PRIMARY, 0)
        FailoverRecord("exchange", active_region=DR, epoch=1, updated_ns=1).save()
        assert fence.read() == FenceState(DR, 1)


def test_a_snapshot_that_replicated_ahead_of_the_events_copy_is_not_used() -> None:
    # Given a primary snapshot taken after events the copy does not hold yet (S3 and DynamoDB
    # replicate separately)
    cmds = commands(1_500, seed=19)
    broker, journal, snapshots = InMemoryBroker(), InMemoryJournal(), InMemorySnapshotStore()
    publish(broker, cmds)
    primary = runtime(broker, journal, snapshots, snapshot_every_events=10**9)
    run_until_idle(primary, broker)
    primary.snapshot()
    primary.abandon()
    events = journaled(journal)
    copy = InMemoryReplicatedEvents()
    copy.put(events[: len(events) // 2])  # type: ignore[arg-type]
    dr_snapshots = InMemorySnapshotStore()
    dr_snapshots.snapshots = {k: list(v) for k, v in snapshots.snapshots.items()}
    # When DR promotes
    dr = runtime(
        InMemoryBroker(), InMemoryJournal(), dr_snapshots, epoch=1,
        promotion=Promotion(copy, 1, quiet_s=0),
    )  # fmt: skip
    # Then it rebuilt from the copy alone: its books are exactly the copy's prefix, which DR's
    # consumers can catch up from, not the snapshot's state
    expected = Engine(list(CATALOG))
    expected.replay(events[: len(events) // 2])
    assert dr.engine.snapshot() == expected.snapshot()
    assert dr.engine.seq(events[0].symbol) == events[len(events) // 2 - 1].seq


def test_promotion_rewinds_cursors_past_the_rebuilt_seq(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cursors written by the consumers' own store (``DynamoCursorStore``, epochs and all) are
    moved back to the rebuilt seq, their epochs past it dropped; the others are left alone."""
    import boto3  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    from engine_service.adapters.dynamo import DynamoCursors  # noqa: PLC0415
    from exchange.journal.cursors import DynamoCursorStore  # noqa: PLC0415
    from exchange.settings.base import AwsSettings, TableSettings  # noqa: PLC0415
    from exchange.tables import TABLE_SPECS, bind_tables  # noqa: PLC0415

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name=DR)
        settings = type("Settings", (AwsSettings, TableSettings), {})(AWS_REGION=DR)
        spec = next(s for s in TABLE_SPECS if s.logical_name == "cursors")
        client.create_table(**spec.create_table_kwargs(settings.cursors_table))
        bind_tables(settings)
        store = DynamoCursorStore()
        # fanout applied through 90 (under epoch 2 from seq 60 on, say); candles only through 40
        store.advance("fanout", "BTC-USD", after=0, to=90, now_ns=1, epochs=((1, 0), (60, 2)))
        store.advance("candles", "BTC-USD", after=0, to=40, now_ns=1)
        store.advance("fanout", "ETH-USD", after=0, to=500, now_ns=1)
        rewound = DynamoCursors(client, settings.cursors_table).rewind({"BTC-USD": 50}, now_ns=2)
        assert rewound.done == [("fanout", "BTC-USD", 90, 50)]
        # And the consumer furthest behind is named, for promotion to journal again from there
        assert rewound.lowest == {"BTC-USD": 40}
        fanout = store.read("fanout", "BTC-USD")
        assert fanout.last_seq == 50
        assert fanout.epochs == ((1, 0),)
        assert store.get("candles", "BTC-USD") == 40
        assert store.get("fanout", "ETH-USD") == 500
        # A consumer named as one promotion waits for, with no cursor here (its first write had
        # not replicated when the primary died), stands at 0: the copy begins at seq 1
        named = DynamoCursors(client, settings.cursors_table).rewind(
            {"BTC-USD": 50}, now_ns=3, consumers=("settlement", "fanout", "candles")
        )
        assert named.done == []
        assert named.lowest == {"BTC-USD": 0}
        assert named.missing == [("settlement", "BTC-USD")]
        # ... and one that has a cursor for every symbol asked changes nothing
        present = DynamoCursors(client, settings.cursors_table).rewind(
            {"BTC-USD": 50, "ETH-USD": 500}, now_ns=4, consumers=("fanout",)
        )
        assert present.lowest == {"BTC-USD": 40, "ETH-USD": 500}


def test_promotion_waits_for_every_consumer_that_keeps_a_cursor() -> None:
    """The default ``promotion_consumers`` names every ``CursoredSink`` of the product (found in
    the layer's source): a consumer left out would, without a replicated cursor, meet a gap at
    DR's first record."""
    import ast  # noqa: PLC0415
    import importlib  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    import exchange  # noqa: PLC0415
    from exchange.settings.base import FailoverSettings  # noqa: PLC0415

    root = Path(exchange.__file__).parent
    names = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name) and base.id == "CursoredSink" for base in node.bases
            ):
                module = ".".join(("exchange", *path.relative_to(root).with_suffix("").parts))
                names.add(getattr(importlib.import_module(module), node.name).name)
    assert names == {"settlement", "fanout", "candles"}
    default = FailoverSettings.model_fields["promotion_consumers"].default
    assert set(default) == names


@pytest.mark.parametrize("value", ["[]", '["fanout", "candles"]', '["setlement"]', "settlement"])
def test_promotion_consumers_must_name_settlement_and_only_known_consumers(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    from pydantic import ValidationError  # noqa: PLC0415

    from exchange.settings.base import FailoverSettings  # noqa: PLC0415

    monkeypatch.setenv("EXCHANGE_PROMOTION_CONSUMERS", value)
    with pytest.raises((ValidationError, ValueError)):
        FailoverSettings()


def test_catch_up_is_read_and_written_in_bounded_chunks_of_small_records() -> None:
    """A symbol's whole history (a consumer without a cursor) is journaled again in chunks, each
    packed into records small enough for a quarantine item."""
    from engine_service.adapters.kinesis import pack  # noqa: PLC0415
    from engine_service.composition import (  # noqa: PLC0415
        CATCH_UP_CHUNK_EVENTS,
        CATCH_UP_RECORD_BYTES,
        catch_up,
    )
    from exchange.wire import encode_record  # noqa: PLC0415

    history = uninterrupted(commands(9_000))
    assert len(history) > 2 * CATCH_UP_CHUNK_EVENTS
    top = history[-1].seq
    chunks = list(catch_up(iter(history), after=0, through=top))
    assert [len(c) for c in chunks[:-1]] == [CATCH_UP_CHUNK_EVENTS] * (len(chunks) - 1)
    assert [e for c in chunks for e in c] == history  # all of it, in order, nothing twice
    for chunk in chunks:
        for record in pack(chunk, CATCH_UP_RECORD_BYTES, epoch=0):
            assert len(encode_record(record)) <= CATCH_UP_RECORD_BYTES
    # Through a seq short of the tail, and from a position inside the history
    partial = [e for c in catch_up(iter(history[99:]), after=99, through=150) for e in c]
    assert [e.seq for e in partial] == list(range(100, 151))


@pytest.mark.parametrize(
    ("present", "top", "window", "whole"),
    [
        (range(1, 51), 50, 100, 50),  # whole
        (range(1, 41), 50, 100, 40),  # the recorder behind the rebuilt seq: its head
        (range(1, 61), 50, 100, 50),  # entries past the rebuilt seq do not count
        ([*range(1, 45), *range(46, 51)], 50, 100, 44),  # seq 45 never replicated
        ([*range(1, 10), *range(12, 45), *range(46, 51)], 50, 100, 9),  # the lowest hole wins
        (range(2, 51), 50, 100, 0),  # a young symbol missing its first entry
        ([*range(1, 10), *range(12, 51)], 50, 20, 50),  # a hole older than the window is not seen
        ([], 50, 100, 0),
        ([*range(1, 50), *range(51, 61)], 50, 100, 49),  # top itself never replicated
        ([*range(1, 51), *range(52, 61)], 50, 100, 50),  # a hole past top is not looked at
        ([*range(1, 10), *range(11, 51)], 50, 40, 50),  # a hole just below the window's last
        ([*range(1, 10), *range(11, 51)], 50, 41, 9),  # ... and at it
    ],
)
def test_promotion_finds_holes_in_the_replicated_audit_log(
    monkeypatch: pytest.MonkeyPatch, present: Sequence[int], top: int, window: int, whole: int
) -> None:
    """Global tables replicate item by item in no promised order: DR may hold audit entry n + 1
    but never n. The recorder goes on from its newest entry, so promotion sets aside what is past
    the lowest hole (``whole_through``) and journals it again."""
    import boto3  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    from engine_service.adapters.dynamo import DynamoAuditHeads  # noqa: PLC0415
    from exchange.tables import TABLE_SPECS  # noqa: PLC0415

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name=DR)
        spec = next(s for s in TABLE_SPECS if s.logical_name == "audit")
        client.create_table(**spec.create_table_kwargs("audit"))
        for seq in present:
            client.put_item(
                TableName="audit", Item={"symbol": {"S": "BTC-USD"}, "seq": {"N": str(seq)}}
            )
        client.put_item(TableName="audit", Item={"symbol": {"S": "ETH-USD"}, "seq": {"N": "7"}})
        audit = DynamoAuditHeads(client, "audit")
        assert audit.whole_through("BTC-USD", top=top, window=window) == whole
        # And setting aside what is past it leaves the recorder's position there
        audit.supersede("BTC-USD", after=whole, epoch=1, now_ns=1)
        assert audit.head("BTC-USD") == min(whole, max(present, default=0))
        assert audit.whole_through("BTC-USD", top=top, window=window) == audit.head("BTC-USD")


@pytest.mark.parametrize(
    ("audit_seqs", "copy_seqs", "top", "after"),
    [
        (range(1, 41), range(1, 41), 40, 40),  # whole: only what is past the rebuilt seq moves
        (range(1, 31), range(1, 41), 40, 40),  # the recorder merely behind: nothing below moves
        ([*range(1, 25), *range(26, 41)], range(1, 41), 40, 24),  # a hole the copy fills
        ([*range(1, 25), *range(26, 41)], [*range(1, 25), *range(26, 41)], 40, 40),  # it cannot
        ([*range(1, 25), *range(26, 46)], range(1, 41), 40, 24),  # entries past top: still 24
        ([*range(1, 40), 41], range(1, 41), 40, 39),  # the hole is at top itself (41 is past it)
    ],
)
def test_promotion_sets_the_audit_log_back_to_a_hole_only_when_the_copy_can_fill_it(
    monkeypatch: pytest.MonkeyPatch,
    audit_seqs: Sequence[int],
    copy_seqs: Sequence[int],
    top: int,
    after: int,
) -> None:
    import boto3  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    from engine_service.adapters.dynamo import (  # noqa: PLC0415
        DynamoAuditHeads,
        DynamoReplicatedEvents,
    )
    from engine_service.composition import audit_position  # noqa: PLC0415
    from exchange.tables import TABLE_SPECS  # noqa: PLC0415

    history = {e.seq: e for e in uninterrupted(commands(40))}
    assert len(history) >= 45
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name=DR)
        for name, seqs in (("audit", audit_seqs), ("events", copy_seqs)):
            spec = next(s for s in TABLE_SPECS if s.logical_name == name)
            client.create_table(**spec.create_table_kwargs(name))
            for seq in seqs:
                item: dict[str, dict[str, object]] = {
                    "symbol": {"S": history[seq].symbol},
                    "seq": {"N": str(seq)},
                    "payload": {"B": wire.encode_event(history[seq])},
                }
                client.put_item(TableName=name, Item=item)
        symbol = history[1].symbol
        audit = DynamoAuditHeads(client, "audit")
        copy = DynamoReplicatedEvents(client, "events")
        assert audit_position(audit, copy, symbol, top) == after
