"""RabbitMQ closes the engine's connection from the server side mid-stream: the runtime flushes
what it applied, reconnects, recognises the redelivered commands, and loses and duplicates
nothing."""

import subprocess
import time

from pika.adapters.blocking_connection import BlockingChannel as Channel

from engine_service.adapters.kinesis import KinesisJournal
from engine_service.adapters.memory import InMemorySnapshotStore
from engine_service.adapters.rabbitmq import RabbitIntake
from engine_service.core import Engine
from engine_service.demo import demo_stream
from engine_service.ports import JournalPosition
from engine_service.runtime import EngineRuntime, RuntimeConfig
from exchange import messaging, wire
from exchange.domain import InstrumentCatalog
from tests.integration.engine_service.test_adapters import publish


def close_from_server(connection_name: str) -> None:
    """Find the named client connection and have the broker close it."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "client_properties"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # One line per connection: "<rabbit@host.N.N.N>\t[...{"connection_name","..."}...]"
    pids = [
        line.split("\t", 1)[0]
        for line in listed.stdout.splitlines()
        if f'{{"connection_name","{connection_name}"}}' in line
    ]
    assert len(pids) == 1, f"expected one connection named {connection_name}: {listed.stdout}"
    subprocess.run(
        ["rabbitmqctl", "-q", "close_connection", pids[0], "closed by the broker-drop test"],
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_server_side_close_loses_and_duplicates_nothing(
    rabbit: Channel, rabbitmq_url: str, shard: str, kinesis: object
) -> None:
    # Given 6,000 commands on the shard's queue and a runtime that holds applied, unacked work
    btc = InstrumentCatalog.demo().get("BTC-USD")
    commands = list(demo_stream(btc, count=6_000, seed=11))
    publish(rabbit, shard, [wire.encode_command(command) for command in commands])
    journal = KinesisJournal(kinesis, "events")
    runtime = EngineRuntime(
        config=RuntimeConfig(shard=shard, poll_max=500, linger_s=30.0, max_batch_events=10**6),
        instruments=[btc],
        intake=RabbitIntake(rabbitmq_url, shard, prefetch=1_000),
        journal=journal,
        snapshots=InMemorySnapshotStore(),
    )
    runtime.recover()
    runtime.connect()
    while runtime.counters.commands < 800:  # below the prefetch, so none is acked yet
        runtime.step()
    assert runtime._pending_events, "expected applied events not yet journaled"
    # When the broker closes the connection from its side
    close_from_server(f"engine-{shard}")
    runtime.config = RuntimeConfig(shard=shard, poll_max=500, linger_s=0.002)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runtime.step()
        depth = rabbit.queue_declare(
            messaging.command_queue(shard), passive=True
        ).method.message_count
        if depth == 0 and runtime.counters.commands - runtime.counters.duplicates >= len(commands):
            break
    runtime.shutdown()
    # Then the journal equals an uninterrupted run, and the redelivered commands were recognised
    expected = Engine([btc])
    expected_events = [event for command in commands for event in expected.apply(command)]
    got = [e for record, _ in journal.read_after(JournalPosition()) for e in record.events]
    assert got == expected_events
    assert runtime.counters.reconnects == 1
    assert runtime.counters.duplicates > 0  # the close hit applied, unacked work
