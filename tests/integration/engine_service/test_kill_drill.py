"""The kill drill: the engine service is SIGKILLed at random points while 100,000 commands stream
through the real RabbitMQ, and restarted each time. The journal (moto's Kinesis) and the final
state must equal an uninterrupted run of the same commands: nothing lost, nothing twice, no gap.
Operators' commands (every status, mass cancels, a freeze, listing changes) are mixed into the
stream, one every 997 commands.

KILL_DRILL_KILLS=20 runs the long version (default 5 kills).
"""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pika
import pytest
import redis
from moto.server import ThreadedMotoServer

from engine_service.adapters.kinesis import KinesisJournal
from engine_service.adapters.snapshots import RedisSnapshotStore
from engine_service.core import Engine
from engine_service.demo import demo_stream
from engine_service.ports import JournalPosition
from engine_service.snapshot import decode_snapshot
from exchange import messaging, wire
from exchange.domain import InstrumentCatalog
from tests.unit.engine_service.operator_drill import with_operators

COMMANDS = int(os.environ.get("KILL_DRILL_COMMANDS", "100000"))
KILLS = int(os.environ.get("KILL_DRILL_KILLS", "5"))
ROOT = Path(__file__).resolve().parents[3]
SNAPSHOT_KEY = uuid.uuid4().hex  # the engine signs its Redis snapshot with it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


class EngineProcess:
    def __init__(self, env: dict[str, str], log: Path, health_port: int) -> None:
        self.env, self.log, self.health_port = env, log, health_port
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "engine_service", "run"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def health(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.health_port}/health"
        with urllib.request.urlopen(url, timeout=2) as response:
            body: dict[str, Any] = json.loads(response.read())
            return body

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        url = f"http://127.0.0.1:{self.health_port}/health"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"engine exited with {self.process.returncode}; see {self.log}"
                )
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"engine not ready after {timeout_s}s; see {self.log}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def queue_depth(url: str, shard: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        declared = connection.channel().queue_declare(messaging.command_queue(shard), passive=True)
        return int(declared.method.message_count)
    finally:
        connection.close()


def test_kill_minus_nine_at_random_points_loses_and_duplicates_nothing(
    rabbitmq_url: str, redis_url: str, moto_endpoint: str, tmp_path: Path
) -> None:
    # Given a fresh shard, stream and bucket, and 100,000 seeded commands
    shard, stream = f"kd{uuid.uuid4().hex[:8]}", f"events-{uuid.uuid4().hex[:8]}"
    aws: dict[str, Any] = {"region_name": "us-east-1", "endpoint_url": moto_endpoint}
    kinesis = boto3.client("kinesis", **aws)
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    boto3.client("s3", **aws).create_bucket(Bucket=stream)
    catalog = InstrumentCatalog.demo()
    btc = catalog.get("BTC-USD")
    commands = list(with_operators(btc, demo_stream(btc, count=COMMANDS, seed=2024), every=997))
    rng = random.Random(2024)

    publisher = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    channel = publisher.channel()
    messaging.declare(channel, shard)
    health_port = free_port()
    env = {
        **os.environ,
        "EXCHANGE_SHARD_ID": shard,
        "EXCHANGE_SYMBOLS": "BTC-USD",
        "EXCHANGE_BROKER_URL": rabbitmq_url,
        "EXCHANGE_REDIS_URL": redis_url,
        "EXCHANGE_JOURNAL_STREAM": stream,
        "EXCHANGE_SNAPSHOT_BUCKET": stream,
        "EXCHANGE_AWS_ENDPOINT_URL": moto_endpoint,
        "EXCHANGE_SNAPSHOT_EVERY_EVENTS": "20000",
        "EXCHANGE_SNAPSHOT_HMAC_KEY": SNAPSHOT_KEY,
        "EXCHANGE_LINGER_MS": "20",
        "EXCHANGE_HEALTH_PORT": str(health_port),
        "EXCHANGE_METRICS_INTERVAL_SECONDS": "3600",
        "POWERTOOLS_SERVICE_NAME": "engine-kill-drill",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    engine = EngineProcess(env, tmp_path / "engine.log", health_port)
    try:
        # When the commands stream in while the engine is killed and restarted KILLS times
        published = threading.Event()

        def publish_all() -> None:
            for command in commands:
                channel.basic_publish(
                    messaging.COMMAND_EXCHANGE, shard, wire.encode_command(command)
                )
            published.set()

        engine.start()
        engine.wait_ready()
        feeder = threading.Thread(target=publish_all, daemon=True)
        feeder.start()
        replayed: list[int] = []
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.2, 2.0))
            engine.kill()
            engine.start()
            engine.wait_ready()
            replayed.append(engine.health()["counters"]["replayed_events"])
        feeder.join(timeout=300)
        assert published.is_set(), "publisher did not finish"
        deadline = time.monotonic() + 300
        while queue_depth(rabbitmq_url, shard) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # the last deliveries in flight are processed and acked
        assert engine.terminate() == 0, f"graceful stop failed; see {engine.log}"
    finally:
        if engine.process is not None and engine.process.poll() is None:
            engine.process.kill()
        channel.queue_delete(messaging.command_queue(shard))
        channel.queue_delete(messaging.dead_letter_queue(shard))
        publisher.close()

    # Then the journal is exactly the uninterrupted run's events: nothing lost, nothing twice
    expected = Engine([btc])
    expected_events = [event for command in commands for event in expected.apply(command)]
    journal = KinesisJournal(boto3.client("kinesis", **aws), stream)
    got = [event for record, _ in journal.read_after(JournalPosition()) for event in record.events]
    assert len(got) == len(expected_events), (len(got), len(expected_events))
    assert [e.seq for e in got] == list(range(1, len(expected_events) + 1))
    assert got == expected_events
    # And the final snapshot holds the same books, stops and counters
    client = redis.Redis.from_url(redis_url)
    payload = RedisSnapshotStore(client, SNAPSHOT_KEY.encode).load(shard)
    assert payload is not None
    client.delete(f"engine:snapshot:{shard}")
    assert decode_snapshot(payload).engine_state == expected.snapshot()
    assert engine.starts == KILLS + 1
    # And the restarts really rebuilt from the journal (not only from a snapshot)
    assert sum(replayed) > 0, replayed
