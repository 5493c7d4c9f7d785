"""The wire format and exact numbers survive the real broker, cache and database unchanged."""

import uuid
from collections.abc import Iterator
from decimal import Decimal

import msgspec
import pika
import psycopg
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange import wire
from exchange.domain import Command, Event, Instrument, InstrumentCatalog
from tests.strategies import COMMANDS, EVENTS


@pytest.fixture
def channel(rabbitmq_url: str) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        ch = connection.channel()
        ch.confirm_delivery()
        yield ch
    finally:
        connection.close()


@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(COMMANDS, min_size=1, max_size=50))
def test_commands_cross_rabbitmq_in_order_and_byte_for_byte(
    channel: pika.adapters.blocking_connection.BlockingChannel, commands: list[Command]
) -> None:
    # Given an exclusive queue and commands published with publisher confirms
    queue = channel.queue_declare(
        queue=f"test.wire.{uuid.uuid4().hex}", exclusive=True
    ).method.queue
    payloads = [wire.encode_command(command) for command in commands]
    for payload in payloads:
        # mandatory: an unroutable message raises instead of vanishing
        channel.basic_publish("", queue, payload, mandatory=True)
    # When they are consumed
    received: list[bytes] = []
    while len(received) < len(payloads):
        method, _properties, body = channel.basic_get(queue, auto_ack=True)
        assert method is not None, f"queue ran dry after {len(received)} messages"
        received.append(body)
    # Then every body is the same bytes, in order, and decodes to the same command
    assert received == payloads
    assert [wire.decode_command(body) for body in received] == commands
    channel.queue_delete(queue)


@pytest.fixture
def cache(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        stale = list(client.scan_iter(match="test:wire:*"))
        if stale:
            client.delete(*stale)
        client.close()


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(EVENTS, min_size=1, max_size=30))
def test_journal_record_survives_redis_byte_for_byte(
    cache: redis.Redis, events: list[Event]
) -> None:
    run = [msgspec.structs.replace(e, symbol="BTC-USD", seq=i + 1) for i, e in enumerate(events)]
    payload = wire.encode_record(wire.JournalRecord.of(run))
    key = f"test:wire:{uuid.uuid4().hex}"
    cache.set(key, payload, ex=60)
    stored = cache.get(key)
    assert stored == payload
    assert list(wire.decode_record(stored).events) == run


@pytest.fixture(scope="module")
def database(postgres_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(
            "CREATE TEMP TABLE wire_probe (price NUMERIC(38, 18) NOT NULL, payload BYTEA NOT NULL)"
        )
        yield connection


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(list(InstrumentCatalog.demo())),
    st.integers(min_value=1, max_value=10**12),
    EVENTS,
)
def test_prices_and_payloads_survive_postgres_exactly(
    database: psycopg.Connection, instrument: Instrument, ticks: int, event: Event
) -> None:
    # Given an exact price and an encoded event written to NUMERIC and BYTEA columns
    price = instrument.ticks_to_price(ticks)
    payload = wire.encode_event(event)
    database.execute("TRUNCATE wire_probe")
    database.execute("INSERT INTO wire_probe VALUES (%s, %s)", (price, payload))
    # When read back
    row = database.execute("SELECT price, payload FROM wire_probe").fetchone()
    assert row is not None
    stored_price, stored_payload = row
    # Then the price is the same Decimal (never a float) and the same ticks, and the bytes match
    assert isinstance(stored_price, Decimal)
    assert stored_price == price
    assert instrument.price_to_ticks(stored_price) == ticks
    assert bytes(stored_payload) == payload
