"""The engine's snapshots against the real Redis and moto's S3 and Kinesis, through the ECS task's
own composition root: a Redis outage degrades the engine but never stops it, and a snapshot forged
into Redis is refused."""

import contextlib
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from engine_service.adapters.memory import InMemoryBroker
from engine_service.adapters.snapshots import S3SnapshotStore, sign, snapshot_key
from engine_service.composition import build_runtime
from engine_service.core import Engine
from engine_service.demo import demo_stream
from engine_service.health import HealthServer
from engine_service.ports import JournalPosition
from engine_service.runtime import EngineRuntime
from engine_service.snapshot import SNAPSHOT_FORMAT, ShardSnapshot, decode_snapshot, encode_snapshot
from exchange import wire
from exchange.domain import InstrumentCatalog
from exchange.settings import EngineSettings

BTC = InstrumentCatalog.demo().get("BTC-USD")
KEY = "engine-only-key"


class FreezableProxy:
    """A TCP proxy in front of Redis that can stop answering: while frozen, what either side
    sends is dropped, as on a network partition or a hung server."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self._db = parts.path
        self._server = socket.create_server(("127.0.0.1", 0))
        self.frozen = threading.Event()
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._server.getsockname()[1]}{self._db}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if not self.frozen.is_set():
                    target.sendall(data)
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.close()

    def close(self) -> None:
        self._closed.set()
        self._server.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def settings(shard: str, redis_url: str, **overrides: Any) -> EngineSettings:
    values: dict[str, Any] = {
        "shard_id": shard,
        "symbols": ["BTC-USD"],
        "redis_url": redis_url,
        "journal_stream": "events",
        "snapshot_bucket": "snapshots",
        "snapshot_hmac_key": KEY,
        "snapshot_every_events": 200,
        "linger_ms": 0,
        "redis_timeout_ms": 200,
        "store_retry_after_seconds": 1,
        **overrides,
    }
    return EngineSettings(**values)


def start(config: EngineSettings, broker: InMemoryBroker) -> EngineRuntime:
    runtime = build_runtime(config, intake=broker.intake(config.shard_id))
    runtime.recover()
    runtime.connect()
    return runtime


def feed(runtime: EngineRuntime, broker: InMemoryBroker, shard: str, count: int, seed: int) -> None:
    for command in demo_stream(BTC, count=count, seed=seed):
        broker.publish(shard, wire.encode_command(command))
    for _ in range(10_000):
        runtime.step()
        if broker.depth(shard) == 0 and runtime._intake.unacked == 0:  # type: ignore[attr-defined]
            return
    raise AssertionError("runtime did not go idle")


def s3_seq(s3: Any, shard: str) -> int:
    payload = S3SnapshotStore(s3, "snapshots").load(shard)
    assert payload is not None
    return decode_snapshot(payload).seqs["BTC-USD"]


@pytest.fixture
def proxy(redis_url: str) -> Iterator[FreezableProxy]:
    running = FreezableProxy(redis_url)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def cleanup(redis_url: str, shard: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.delete(snapshot_key(shard), "book:BTC-USD")


def test_redis_outage_degrades_but_never_crashes_the_engine(
    proxy: FreezableProxy,
    cleanup: redis.Redis,
    kinesis: Any,
    s3: Any,
    shard: str,
) -> None:
    # Given an engine whose Redis answers, snapshotting to Redis and S3
    broker = InMemoryBroker()
    config = settings(shard, proxy.url)
    runtime = start(config, broker)
    feed(runtime, broker, shard, 500, seed=1)
    assert runtime.health()["status"] == "ready"
    assert cleanup.get(snapshot_key(shard)) is not None
    health_server = HealthServer(0, runtime.health, host="127.0.0.1").start()
    try:
        # When Redis stops answering mid-run
        proxy.frozen.set()
        feed(runtime, broker, shard, 500, seed=2)
        started = time.monotonic()
        runtime.snapshot()
        runtime.snapshot()  # the store is not tried again at once: no second timeout
        assert time.monotonic() - started < 0.2
        # Then every command is matched and journaled, S3 has the latest snapshot
        assert s3_seq(s3, shard) == runtime.engine.seq("BTC-USD")
        # And health says degraded, with the reason, yet the container check passes
        with urllib.request.urlopen(f"http://127.0.0.1:{health_server.port}/health") as answer:
            assert answer.status == 200
            body = json.loads(answer.read())
        assert body["status"] == "degraded"
        assert body["serving"] is True
        assert {"redis", "books"} <= set(body["problems"])
        assert "Timeout" in body["problems"]["redis"]
        assert body["counters"]["snapshot_store_failures"] >= 2
    finally:
        health_server.stop()
    # When the engine restarts while Redis is still down, it recovers from S3 plus the journal
    restarted = start(config, broker)
    assert restarted.engine.snapshot() == runtime.engine.snapshot()
    assert restarted.health()["serving"] is True
    # And once Redis answers again, the next snapshot clears the problem
    proxy.frozen.clear()
    time.sleep(1.1)  # store_retry_after_seconds
    restarted.snapshot()
    assert restarted.health()["status"] == "ready"


def test_an_engine_whose_redis_never_answered_runs_on_s3(kinesis: Any, s3: Any, shard: str) -> None:
    # Given a Redis URL to a closed port from the start
    broker = InMemoryBroker()
    config = settings(shard, f"redis://127.0.0.1:{closed_port()}/0")
    # When the engine recovers, consumes and snapshots
    runtime = start(config, broker)
    feed(runtime, broker, shard, 1_000, seed=3)
    runtime.snapshot()
    # Then it serves, degraded, and S3 holds its state
    assert runtime.health()["status"] == "degraded"
    assert runtime.health()["serving"] is True
    assert s3_seq(s3, shard) == runtime.engine.seq("BTC-USD") > 0


def forged(shard: str) -> bytes:
    """A book of the attacker's making, far ahead of the real one."""
    return encode_snapshot(
        ShardSnapshot(
            format=SNAPSHOT_FORMAT,
            shard=shard,
            seqs={"BTC-USD": 10**9},
            position=JournalPosition(),
            engine_state=Engine([BTC]).snapshot(),
        )
    )


@pytest.mark.parametrize(
    "signing",
    [pytest.param(None, id="unsigned"), pytest.param(b"guessed-key", id="wrong-key")],
)
@pytest.mark.usefixtures("kinesis", "s3")
def test_forged_redis_snapshot_is_refused(
    redis_url: str,
    cleanup: redis.Redis,
    shard: str,
    signing: bytes | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given an engine that has matched orders and snapshotted
    broker = InMemoryBroker()
    config = settings(shard, redis_url)
    genuine = start(config, broker)
    feed(genuine, broker, shard, 800, seed=4)
    genuine.snapshot()
    # When someone with access to Redis writes a forged snapshot with larger seqs
    payload = forged(shard)
    cleanup.set(snapshot_key(shard), payload if signing is None else sign(signing, shard, payload))
    restarted = start(config, broker)
    # Then the restarted engine refused it: its book is the genuine one (S3 plus the journal)
    assert restarted.engine.snapshot() == genuine.engine.snapshot()
    assert restarted.engine.seq("BTC-USD") == genuine.engine.seq("BTC-USD") < 10**9
    # And the refusal is logged, counted and reported
    assert restarted.health()["counters"]["snapshots_refused"] == 1  # type: ignore[index]
    assert "snapshot refused" in restarted.health()["problems"]["redis"]  # type: ignore[index]
    assert any(r.getMessage() == "snapshot refused" for r in caplog.records)
