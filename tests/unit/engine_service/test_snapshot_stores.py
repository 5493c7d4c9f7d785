"""Snapshot stores are best-effort and trusted only when verified: a failing store degrades the
engine's health but never stops it, and a snapshot that is forged, garbled or another shard's is
never loaded. Real Redis and S3: tests/integration/engine_service/test_snapshot_safety.py."""

import json
import urllib.error
import urllib.request
from collections.abc import Sequence

import pytest

from engine_service.adapters.memory import InMemoryBroker, InMemoryJournal, InMemorySnapshotStore
from engine_service.adapters.snapshots import CompositeSnapshotStore, sign, verify
from engine_service.health import HealthServer
from engine_service.ports import (
    JournalPosition,
    SnapshotRefused,
    SnapshotStoreUnavailable,
    StoreHealth,
)
from engine_service.runtime import EngineRuntime, RuntimeConfig, Status
from engine_service.snapshot import SNAPSHOT_FORMAT, ShardSnapshot, decode_snapshot, encode_snapshot
from engine_service.telemetry import MetricsReporter
from exchange.l2 import L2Book
from tests.unit.engine_service.test_runtime import (
    CATALOG,
    SHARD,
    commands,
    journaled,
    publish,
    run_until_idle,
    uninterrupted,
)


class DownStore(InMemorySnapshotStore):
    """A store whose service is unreachable (Redis down)."""

    def save(self, shard: str, snapshot: bytes) -> None:
        raise SnapshotStoreUnavailable("redis unavailable: ConnectionError('refused')")

    def load(self, shard: str) -> bytes | None:
        raise SnapshotStoreUnavailable("redis unavailable: ConnectionError('refused')")


class DownBooks:
    def publish_books(self, books: Sequence[L2Book]) -> None:
        raise SnapshotStoreUnavailable("books unavailable: ConnectionError('refused')")


class Plain(InMemorySnapshotStore):
    """Holds whatever it is given, as a compromised cache would."""


def snapshot(seq: int, shard: str = SHARD, epoch: int = 0) -> bytes:
    return encode_snapshot(
        ShardSnapshot(
            format=SNAPSHOT_FORMAT,
            shard=shard,
            seqs={"BTC-USD": seq},
            position=JournalPosition(),
            engine_state=b"state-%d" % seq,
            epoch=epoch,
        )
    )


def test_a_newer_epoch_wins_over_more_progress() -> None:
    """After a failover, a snapshot the old region took late (more progress on its lost tail)
    and S3 replicated over this region's must not win over this region's own, newer epoch."""
    old_region, this_region = InMemorySnapshotStore(), InMemorySnapshotStore()
    old_region.save(SHARD, snapshot(900, epoch=0))
    this_region.save(SHARD, snapshot(850, epoch=1))
    both = CompositeSnapshotStore({"s3": old_region, "redis": this_region})
    loaded = both.load(SHARD)
    assert loaded is not None
    assert decode_snapshot(loaded).epoch == 1


def runtime_with(
    broker: InMemoryBroker, stores: dict[str, InMemorySnapshotStore], books: object = None
) -> tuple[EngineRuntime, InMemoryJournal]:
    health = StoreHealth()
    journal = InMemoryJournal()
    runtime = EngineRuntime(
        config=RuntimeConfig(shard=SHARD, linger_s=0.0, snapshot_every_events=100),
        instruments=list(CATALOG),
        intake=broker.intake(SHARD),
        journal=journal,
        snapshots=CompositeSnapshotStore(stores, health=health),
        books=books,  # type: ignore[arg-type]
        store_health=health,
    )
    return runtime, journal


def test_a_failing_snapshot_store_degrades_health_but_the_engine_keeps_consuming() -> None:
    # Given Redis down from the start (the snapshot and the L2 views), and S3 up
    broker, durable = InMemoryBroker(), InMemorySnapshotStore()
    runtime, journal = runtime_with(
        broker, {"s3": durable, "redis": DownStore()}, books=DownBooks()
    )
    cmds = commands(1_000)
    publish(broker, cmds)
    # When the engine recovers, consumes and snapshots every 100 events
    runtime.recover()
    runtime.connect()
    run_until_idle(runtime, broker)
    runtime.snapshot()
    # Then every command was matched and journaled, and S3 took the snapshots
    assert journaled(journal) == uninterrupted(cmds)
    saved = decode_snapshot(durable.snapshots[SHARD][-1])
    assert saved.seqs["BTC-USD"] == runtime.engine.seq("BTC-USD") > 0
    # And health says degraded with each reason, while serving
    health = runtime.health()
    assert runtime.status is Status.READY
    assert health["status"] == "degraded"
    assert health["serving"] is True
    assert set(health["problems"]) == {"redis", "books"}  # type: ignore[call-overload]
    assert "ConnectionError" in health["problems"]["redis"]  # type: ignore[index]
    assert runtime.store_health.failures > 2


def test_health_is_ready_again_once_the_store_works() -> None:
    class Flaky(InMemorySnapshotStore):
        down = True

        def save(self, shard: str, snapshot: bytes) -> None:
            if self.down:
                raise SnapshotStoreUnavailable("redis unavailable: TimeoutError()")
            super().save(shard, snapshot)

    broker, flaky = InMemoryBroker(), Flaky()
    runtime, _ = runtime_with(broker, {"s3": InMemorySnapshotStore(), "redis": flaky})
    runtime.recover()
    runtime.connect()
    runtime.snapshot()
    assert runtime.health()["status"] == "degraded"
    flaky.down = False
    runtime.snapshot()
    assert runtime.health()["status"] == "ready"
    assert runtime.health()["problems"] == {}


def test_no_store_at_all_still_never_stops_the_engine() -> None:
    broker = InMemoryBroker()
    runtime, journal = runtime_with(broker, {"redis": DownStore()}, books=DownBooks())
    publish(broker, commands(300))
    runtime.recover()  # the store cannot be read: the journal alone rebuilds the state
    runtime.connect()
    run_until_idle(runtime, broker)
    assert len(journaled(journal)) == len(uninterrupted(commands(300)))
    assert "snapshots" in runtime.health()["problems"]  # type: ignore[operator]


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(snapshot(10**6), id="unsigned"),
        pytest.param(sign(b"not-the-key", SHARD, snapshot(10**6)), id="wrong-key"),
        pytest.param(sign(b"key", "s2", snapshot(10**6, shard="s2")), id="another-shard"),
        pytest.param(b"\x00" * 40, id="garbage"),
    ],
)
def test_a_snapshot_that_does_not_verify_is_refused_and_the_durable_one_loads(
    stored: bytes,
) -> None:
    # Given S3 with a genuine snapshot, and Redis (verified with b"key") holding a "newer" one
    class Signed(Plain):
        def load(self, shard: str) -> bytes | None:
            payload = super().load(shard)
            return None if payload is None else verify(b"key", shard, payload)

    durable, fast = InMemorySnapshotStore(), Signed()
    durable.save(SHARD, snapshot(7))
    fast.snapshots[SHARD] = [stored]
    health = StoreHealth()
    # When the composite loads
    loaded = CompositeSnapshotStore({"s3": durable, "redis": fast}, health=health).load(SHARD)
    # Then S3's is loaded, and the refusal is counted and reported
    assert loaded == snapshot(7)
    assert health.refused == 1
    assert health.problems["redis"].startswith("snapshot refused")


def test_a_snapshot_of_another_shard_is_refused_even_from_s3() -> None:
    durable = InMemorySnapshotStore()
    durable.save(SHARD, snapshot(7, shard="s9"))
    health = StoreHealth()
    assert CompositeSnapshotStore({"s3": durable}, health=health).load(SHARD) is None
    assert health.refused == 1


def test_verify_refuses_a_truncated_value() -> None:
    with pytest.raises(SnapshotRefused, match="shorter than a MAC"):
        verify(b"key", SHARD, b"short")


def test_health_answers_200_while_degraded_by_a_store_and_503_while_not_serving() -> None:
    state: dict[str, object] = {"status": "degraded", "serving": True, "problems": {"redis": "x"}}
    server = HealthServer(0, lambda: dict(state), host="127.0.0.1").start()
    url = f"http://127.0.0.1:{server.port}/health"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            assert response.status == 200
            assert json.loads(response.read())["problems"] == {"redis": "x"}
        state.update(status="degraded", serving=False)  # the broker is gone: reconnecting
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=2)
        assert refused.value.code == 503
        refused.value.close()
    finally:
        server.stop()


def test_store_failures_and_refusals_are_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    broker = InMemoryBroker()
    runtime, _ = runtime_with(broker, {"redis": DownStore()})
    runtime.recover()
    runtime.connect()
    runtime.store_health.refused_snapshot("redis", "MAC does not verify")
    capsys.readouterr()
    MetricsReporter(runtime).report(1.0)
    emitted = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert emitted["SnapshotStoreFailures"] in (1, [1.0])  # the recovery's read
    assert emitted["SnapshotsRefused"] in (1, [1.0])
