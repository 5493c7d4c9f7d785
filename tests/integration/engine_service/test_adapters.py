"""Each adapter against the real thing: RabbitMQ, Redis, and moto's Kinesis and S3."""

import threading
import time
from typing import Any

import msgspec
import pytest
import redis
from pika.adapters.blocking_connection import BlockingChannel as Channel

from engine_service.adapters.kinesis import KinesisJournal, pack
from engine_service.adapters.rabbitmq import RabbitIntake
from engine_service.adapters.snapshots import (
    CompositeSnapshotStore,
    RedisBookPublisher,
    RedisSnapshotStore,
    S3SnapshotStore,
)
from engine_service.ports import BrokerUnavailable, JournalPosition, SnapshotStore
from engine_service.snapshot import SNAPSHOT_FORMAT, ShardSnapshot, encode_snapshot
from exchange import messaging, wire
from exchange.domain import BookDelta, CancelOrder, Side
from exchange.l2 import BookLevel, L2Book, book_key, decode_book


def cancel(n: int, symbol: str = "BTC-USD") -> CancelOrder:
    return CancelOrder(symbol=symbol, ts=n, command_id=f"k{n}", order_id=f"o{n}", account_id="a")


def publish(channel: Channel, shard: str, bodies: list[bytes]) -> None:
    for body in bodies:
        channel.basic_publish(messaging.COMMAND_EXCHANGE, shard, body, mandatory=True)


def drain(intake: RabbitIntake, count: int, rounds: int = 50) -> list[Any]:
    got: list[Any] = []
    for _ in range(rounds):
        got += intake.poll(1_000, 0.1)
        if len(got) >= count:
            break
    return got


def test_queue_is_a_quorum_queue_with_single_active_consumer_and_a_dlq(
    rabbit: Channel, shard: str
) -> None:
    # Redeclaring with the shared arguments succeeds only if the live queue has exactly them.
    declared = rabbit.queue_declare(
        messaging.command_queue(shard), durable=True, arguments=messaging.queue_arguments(shard)
    )
    assert declared.method.queue == messaging.command_queue(shard)
    assert messaging.queue_arguments(shard)["x-queue-type"] == "quorum"
    assert messaging.queue_arguments(shard)["x-single-active-consumer"] is True


def test_intake_delivers_in_order_and_acks_cumulatively(
    rabbit: Channel, rabbitmq_url: str, shard: str
) -> None:
    # Given 300 commands on the shard's queue
    bodies = [wire.encode_command(cancel(n)) for n in range(300)]
    publish(rabbit, shard, bodies)
    intake = RabbitIntake(rabbitmq_url, shard, prefetch=500)
    intake.connect()
    try:
        # When they are polled and acknowledged through the last tag
        deliveries = drain(intake, 300)
        assert [d.body for d in deliveries] == bodies
        intake.ack_through(deliveries[-1].tag)
    finally:
        intake.close()
    # Then the queue is empty: one cumulative ack settled all of them
    assert (
        rabbit.queue_declare(messaging.command_queue(shard), passive=True).method.message_count == 0
    )


def test_wake_from_another_thread_ends_a_polls_wait(rabbitmq_url: str, shard: str) -> None:
    # Given an intake polling an empty queue with a long wait
    intake = RabbitIntake(rabbitmq_url, shard)
    intake.wake()  # not connected yet: nothing to wake, and no error
    intake.connect()
    try:
        intake.poll(1_000, 0)  # the consumer is set up
        # When another thread (the journal writer) wakes it 50 ms into its wait
        timer = threading.Timer(0.05, intake.wake)
        started = time.monotonic()
        timer.start()
        got = intake.poll(1_000, 5.0)
        waited = time.monotonic() - started
        timer.join()
    finally:
        intake.close()
    intake.wake()  # closed: no error either
    # Then the poll returned, empty, long before its 5 s
    assert got == []
    assert waited < 2.0


def test_unacked_deliveries_come_again_after_the_connection_drops(
    rabbit: Channel, rabbitmq_url: str, shard: str
) -> None:
    # Given 10 commands of which only the first 4 are acknowledged
    bodies = [wire.encode_command(cancel(n)) for n in range(10)]
    publish(rabbit, shard, bodies)
    first = RabbitIntake(rabbitmq_url, shard)
    first.connect()
    deliveries = drain(first, 10)
    first.ack_through(deliveries[3].tag)
    # When the connection drops without further acks
    first.close()
    # Then a new consumer gets the other 6, in order, flagged as redelivered
    second = RabbitIntake(rabbitmq_url, shard)
    second.connect()
    try:
        again = drain(second, 6)
        assert [d.body for d in again] == bodies[4:]
        assert all(d.redelivered for d in again)
    finally:
        second.close()


def test_dead_lettered_delivery_lands_in_the_dlq_and_the_rest_flow(
    rabbit: Channel, rabbitmq_url: str, shard: str
) -> None:
    publish(rabbit, shard, [b"\x09poison", wire.encode_command(cancel(1))])
    intake = RabbitIntake(rabbitmq_url, shard)
    intake.connect()
    try:
        poison, good = drain(intake, 2)
        intake.dead_letter(poison.tag)
        intake.ack_through(good.tag)
    finally:
        intake.close()
    method, _props, body = rabbit.basic_get(messaging.dead_letter_queue(shard), auto_ack=True)
    assert method is not None
    assert body == b"\x09poison"


def test_lag_reports_the_queue_depth(rabbit: Channel, rabbitmq_url: str, shard: str) -> None:
    publish(rabbit, shard, [wire.encode_command(cancel(n)) for n in range(7)])
    intake = RabbitIntake(rabbitmq_url, shard, prefetch=1)
    intake.connect()
    try:
        assert intake.lag() in {6, 7}  # one may be in flight to this consumer
    finally:
        intake.close()


def test_poll_on_a_closed_intake_is_broker_unavailable(rabbitmq_url: str, shard: str) -> None:
    intake = RabbitIntake(rabbitmq_url, shard)
    with pytest.raises(BrokerUnavailable):
        intake.poll(10, 0)


def test_unreachable_broker_is_broker_unavailable(shard: str) -> None:
    intake = RabbitIntake("amqp://guest:guest@127.0.0.1:1/%2F", shard)
    with pytest.raises(BrokerUnavailable, match="cannot consume"):
        intake.connect()


def deltas(symbol: str, first: int, count: int) -> list[BookDelta]:
    return [
        BookDelta(symbol=symbol, seq=first + i, ts=1, side=Side.BUY, price=100 + i, qty=1, orders=1)
        for i in range(count)
    ]


def test_journal_round_trips_records_in_order_per_symbol(kinesis: Any) -> None:
    journal = KinesisJournal(kinesis, "events")
    # Given two flushes of interleaved symbols
    first = journal.append(pack(deltas("BTC-USD", 1, 5) + deltas("ETH-USD", 1, 3)))
    journal.append(pack(deltas("BTC-USD", 6, 4)))
    # When read from the start
    read = [record for record, _ in journal.read_after(JournalPosition())]
    # Then every symbol's events come back gap-free and in order
    by_symbol: dict[str, list[int]] = {}
    for record in read:
        by_symbol.setdefault(record.symbol, []).extend(e.seq for e in record.events)
    assert by_symbol == {"BTC-USD": list(range(1, 10)), "ETH-USD": [1, 2, 3]}
    # And reading after the first flush's position gives only the second flush
    after = [record for record, _ in journal.read_after(first)]
    assert [(r.symbol, r.first_seq, r.last_seq) for r in after] == [("BTC-USD", 6, 9)]


def test_large_flush_is_split_under_the_record_limit_and_stays_ordered(kinesis: Any) -> None:
    journal = KinesisJournal(kinesis, "events")
    events = deltas("BTC-USD", 1, 2_000)
    records = pack(events, max_bytes=20_000)
    assert len(records) > 1
    assert all(len(wire.encode_record(r)) <= 20_000 for r in records)
    journal.append(records)
    seqs = [e.seq for record, _ in journal.read_after(JournalPosition()) for e in record.events]
    assert seqs == list(range(1, 2_001))


def test_partial_put_failures_are_retried_without_reordering(kinesis: Any) -> None:
    # Given a Kinesis that fails every other record of the first call
    calls: list[int] = []

    class Flaky:
        def __init__(self, real: Any) -> None:
            self.real = real

        def put_records(self, **kwargs: Any) -> Any:
            calls.append(len(kwargs["Records"]))
            if len(calls) > 1:
                return self.real.put_records(**kwargs)
            results = self.real.put_records(
                StreamName=kwargs["StreamName"], Records=kwargs["Records"][::2]
            )
            merged = []
            for i in range(len(kwargs["Records"])):
                merged.append(
                    results["Records"][i // 2]
                    if i % 2 == 0
                    else {"ErrorCode": "ProvisionedThroughputExceededException"}
                )
            return {"FailedRecordCount": len(kwargs["Records"]) // 2, "Records": merged}

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

    journal = KinesisJournal(Flaky(kinesis), "events", backoff_s=0)
    symbols = [f"S{n}-USD" for n in range(6)]
    # When each symbol's several records are appended
    journal.append([r for s in symbols for r in pack(deltas(s, 1, 300), max_bytes=3_000)])
    # Then every symbol's events are still gap-free and in order
    seqs: dict[str, list[int]] = {}
    for record, _ in journal.read_after(JournalPosition()):
        seqs.setdefault(record.symbol, []).extend(e.seq for e in record.events)
    assert seqs == {s: list(range(1, 301)) for s in symbols}
    assert len(calls) > 1


def snapshot(seq: int) -> bytes:
    return encode_snapshot(
        ShardSnapshot(
            format=SNAPSHOT_FORMAT,
            shard="s1",
            seqs={"BTC-USD": seq},
            position=JournalPosition({"shardId-0": str(seq)}),
            engine_state=b"state-%d" % seq,
        )
    )


KEY = b"test-snapshot-key"


def test_snapshot_stores_save_and_load(redis_url: str, s3: Any) -> None:
    client = redis.Redis.from_url(redis_url)
    client.delete("engine:snapshot:s1")
    stores: list[SnapshotStore] = [
        RedisSnapshotStore(client, lambda: KEY),
        S3SnapshotStore(s3, "snapshots"),
    ]
    for store in stores:
        assert store.load("s1") is None
        store.save("s1", snapshot(5))
        assert store.load("s1") == snapshot(5)
    client.delete("engine:snapshot:s1")


def test_composite_store_loads_the_newest_of_its_stores(redis_url: str, s3: Any) -> None:
    # Given Redis holding an older snapshot than S3
    client = redis.Redis.from_url(redis_url)
    fast, durable = RedisSnapshotStore(client, lambda: KEY), S3SnapshotStore(s3, "snapshots")
    fast.save("s1", snapshot(3))
    durable.save("s1", snapshot(9))
    # Then the composite loads S3's, and after a save both hold the new one
    composite = CompositeSnapshotStore({"redis": fast, "s3": durable})
    assert composite.load("s1") == snapshot(9)
    composite.save("s1", snapshot(12))
    assert fast.load("s1") == durable.load("s1") == snapshot(12)
    client.delete("engine:snapshot:s1")


def test_l2_views_are_published_to_redis_for_the_api(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    book = L2Book(symbol="ZZ-USD", seq=42, bids=[BookLevel(100, 5, 2)], asks=[BookLevel(101, 1, 1)])
    RedisBookPublisher(client).publish_books([book])
    stored = client.get(book_key("ZZ-USD"))
    assert isinstance(stored, bytes)
    assert decode_book(stored) == book
    assert msgspec.json.decode(stored)["seq"] == 42
    client.delete(book_key("ZZ-USD"))
