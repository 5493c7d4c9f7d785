"""The engine's heartbeat: the matching loop makes a beat every second with each symbol's last
journaled seq, a thread of its own writes it to Redis (so Redis never stalls the loop), and a loop
that stops stops the beats."""

import threading
import time
from collections.abc import Mapping

import pytest
import redis

from engine_service.adapters.heartbeat import RedisHeartbeat
from engine_service.adapters.memory import InMemoryBroker, InMemoryJournal, InMemorySnapshotStore
from engine_service.ports import StoreHealth
from engine_service.runtime import EngineRuntime, RuntimeConfig
from exchange import wire
from exchange.heartbeat import HEARTBEAT_TTL_S, Heartbeat, decode_heartbeat, heartbeat_key
from tests.unit.engine_service.test_runtime import CATALOG, SHARD, FakeClock, commands


class Beats:
    """A HeartbeatSink that keeps what the loop handed it."""

    def __init__(self) -> None:
        self.beats: list[tuple[dict[str, int], str]] = []
        self.closed = False

    def beat(self, seqs: Mapping[str, int], status: str) -> None:
        self.beats.append((dict(seqs), status))

    def close(self) -> None:
        self.closed = True


def runtime_with(
    beats: Beats, clock: FakeClock, broker: InMemoryBroker, **config: object
) -> EngineRuntime:
    runtime = EngineRuntime(
        config=RuntimeConfig(**{"shard": SHARD, "linger_s": 0.0, **config}),  # type: ignore[arg-type]
        instruments=list(CATALOG),
        intake=broker.intake(SHARD),
        journal=InMemoryJournal(),
        snapshots=InMemorySnapshotStore(),
        clock=clock,
        heartbeat=beats,
    )
    runtime.recover()
    runtime.connect()
    return runtime


def test_the_loop_beats_once_per_interval_not_once_per_step() -> None:
    beats, clock, broker = Beats(), FakeClock(), InMemoryBroker()
    runtime = runtime_with(beats, clock, broker, linger_s=0.0)
    # When the loop steps at 0, 0.5, 0.99, 1.0 and 2.5 s
    for now in (0.0, 0.5, 0.99, 1.0, 2.5):
        clock.now = now
        runtime.step()
    # Then it beat at 0, 1.0 and 2.5 s, each naming every symbol of the shard, ready
    assert len(beats.beats) == 3
    assert {tuple(sorted(seqs)) for seqs, _ in beats.beats} == {tuple(sorted(CATALOG.symbols))}
    assert {status for _, status in beats.beats} == {"ready"}


def test_a_beat_carries_the_journaled_seq_not_the_applied_one() -> None:
    # Given commands applied but lingering before their journal write
    beats, clock, broker = Beats(), FakeClock(), InMemoryBroker()
    runtime = runtime_with(beats, clock, broker, linger_s=0.05, max_batch_events=1_000_000)
    for command in commands(20):
        broker.publish(SHARD, wire.encode_command(command))
    runtime.step()
    applied = runtime.engine.seq("BTC-USD")
    assert applied > 0
    assert runtime._pending_events
    # Then the beat says 0 for BTC-USD: none of its events is durable yet
    assert beats.beats[-1][0]["BTC-USD"] == 0
    # When the linger passes, the events are handed to the writer and written, and the next
    # beat comes (the step that hands them over does not wait for their write)
    clock.now = 1.0
    runtime.step()
    assert not runtime._pending_events
    runtime.writer.wait(5)  # the write ends (its outcome is left for the step to take)
    clock.now = 2.0
    runtime.step()
    assert beats.beats[-1][0]["BTC-USD"] == applied


def test_a_loop_that_stops_stepping_stops_beating_and_shutdown_closes_the_heartbeat() -> None:
    beats, clock, broker = Beats(), FakeClock(), InMemoryBroker()
    runtime = runtime_with(beats, clock, broker)
    runtime.step()
    # When no step runs for a minute (a command stuck in the engine), nothing beats
    clock.now = 60.0
    assert len(beats.beats) == 1
    runtime.shutdown()
    assert beats.closed


def test_an_engine_with_a_failing_store_beats_degraded() -> None:
    beats, clock, broker = Beats(), FakeClock(), InMemoryBroker()
    runtime = runtime_with(beats, clock, broker)
    runtime.store_health.failed("redis", "ConnectionError")
    runtime.step()
    assert beats.beats[-1][1] == "degraded"


# --- RedisHeartbeat: the writer -----------------------------------------------------------------


class FakeRedis:
    """set/delete of redis.Redis; ``gate`` (when set) holds every write until it opens."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self.ttls_ms: dict[str, int] = {}
        self.down = False
        self.gate: threading.Event | None = None
        self.writes = threading.Semaphore(0)

    def set(self, key: str, value: bytes, px: int) -> None:
        if self.gate is not None:
            self.gate.wait(5)
        if self.down:
            raise redis.ConnectionError("Error 111 connecting to 10.0.0.9:6379")
        self.values[key], self.ttls_ms[key] = value, px
        self.writes.release()

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


@pytest.fixture
def client() -> FakeRedis:
    return FakeRedis()


def stored(client: FakeRedis) -> Heartbeat:
    return decode_heartbeat(client.values[heartbeat_key(SHARD)])


def test_a_beat_is_written_under_the_shards_key_with_the_ttl(client: FakeRedis) -> None:
    heartbeat = RedisHeartbeat(client, SHARD, clock_ms=lambda: 1234)  # type: ignore[arg-type]
    heartbeat.beat({"BTC-USD": 7}, "ready")
    assert client.writes.acquire(timeout=2)
    assert stored(client) == Heartbeat(shard=SHARD, at_ms=1234, status="ready", seqs={"BTC-USD": 7})
    assert client.ttls_ms[heartbeat_key(SHARD)] == HEARTBEAT_TTL_S * 1000
    heartbeat.close()
    # And closing removes the key: the shard shows as down at once
    assert heartbeat_key(SHARD) not in client.values


def test_a_hanging_redis_does_not_hold_the_loop(client: FakeRedis) -> None:
    # Given a Redis that does not answer
    client.gate = threading.Event()
    heartbeat = RedisHeartbeat(client, SHARD)  # type: ignore[arg-type]
    try:
        # When the loop beats twice
        started = time.perf_counter()
        heartbeat.beat({"BTC-USD": 1}, "ready")
        heartbeat.beat({"BTC-USD": 2}, "ready")
        elapsed = time.perf_counter() - started
    finally:
        client.gate.set()
    # Then neither beat waited for Redis (which holds each write for 5 s), and Redis got the
    # newest beat in the end
    assert elapsed < 1.0
    assert client.writes.acquire(timeout=2)
    deadline = time.monotonic() + 2
    while stored(client).seqs != {"BTC-USD": 2} and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stored(client).seqs == {"BTC-USD": 2}
    heartbeat.close()


def test_a_redis_outage_is_recorded_once_and_cleared_when_it_ends(client: FakeRedis) -> None:
    health = StoreHealth()
    heartbeat = RedisHeartbeat(client, SHARD, health=health)  # type: ignore[arg-type]
    beat = Heartbeat(shard=SHARD, at_ms=1, status="ready", seqs={})
    client.down = True
    for _ in range(3):
        heartbeat.write(beat)
    assert health.failures == 1
    assert "heartbeat" in health.problems
    client.down = False
    heartbeat.write(beat)
    assert health.problems == {}
    assert heartbeat.written == 1


def test_the_writer_thread_ends_when_beats_stop_and_a_new_beat_starts_it_again(
    client: FakeRedis,
) -> None:
    heartbeat = RedisHeartbeat(client, SHARD, idle_s=0.05)  # type: ignore[arg-type]
    heartbeat.beat({"BTC-USD": 1}, "ready")
    assert client.writes.acquire(timeout=2)
    first = heartbeat._thread
    assert first is not None
    first.join(2)
    assert not first.is_alive()  # no beat for idle_s: it ended
    heartbeat.beat({"BTC-USD": 2}, "ready")
    assert client.writes.acquire(timeout=2)
    assert stored(client).seqs == {"BTC-USD": 2}
    assert heartbeat.written == 2
    heartbeat.close()


def test_a_closed_heartbeat_writes_nothing_more(client: FakeRedis) -> None:
    heartbeat = RedisHeartbeat(client, SHARD)  # type: ignore[arg-type]
    heartbeat.close()
    heartbeat.beat({"BTC-USD": 1}, "ready")
    assert not client.writes.acquire(timeout=0.2)
    assert client.values == {}
