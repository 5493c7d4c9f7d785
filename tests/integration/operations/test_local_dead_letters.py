"""The local stack's stand-in for Amazon MQ's event source mapping, on the real RabbitMQ: a
command the engine dead-letters reaches the function with the broker's reason, and is
acknowledged only once the function took it."""

import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from exchange import messaging
from lambdas.dead_letters.handler import dead_letters
from local.functions import FunctionError
from local.operations import RabbitDeadLetters


@pytest.fixture
def shard() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def channel(rabbitmq_url: str, shard: str) -> Iterator[BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    opened = connection.channel()
    messaging.declare(opened, shard)
    try:
        yield opened
    finally:
        opened.queue_delete(messaging.command_queue(shard))
        opened.queue_delete(messaging.dead_letter_queue(shard))
        connection.close()


def dead_letter(channel: BlockingChannel, shard: str, body: bytes) -> None:
    """Publish ``body`` and reject it as the engine does a malformed command."""
    channel.basic_publish(messaging.COMMAND_EXCHANGE, shard, body)
    for method, _, _ in channel.consume(messaging.command_queue(shard), inactivity_timeout=5):
        assert method is not None, "the command never arrived"
        channel.basic_reject(method.delivery_tag, requeue=False)
        break
    channel.cancel()


def depth(channel: BlockingChannel, shard: str) -> int:
    declared = channel.queue_declare(messaging.dead_letter_queue(shard), passive=True)
    return int(declared.method.message_count)


def test_a_dead_letter_reaches_the_function_and_is_acked_once_it_is_taken(
    rabbitmq_url: str, channel: BlockingChannel, shard: str
) -> None:
    # Given a command the engine dead-lettered, and a function that fails once
    dead_letter(channel, shard, b"\x09poison")
    events: list[dict[str, Any]] = []
    failures = [FunctionError("dead_letters", RuntimeError("ledger down"))]

    def invoke(event: dict[str, Any]) -> dict[str, int]:
        events.append(event)
        if failures:
            raise failures.pop()
        return {"undecodable": 1}

    mapping = RabbitDeadLetters(invoke, url=rabbitmq_url, shards=[shard], idle_s=0.1)
    try:
        # When the mapping polls: the first invocation fails, the message stays queued
        mapping.tick()
        for _ in range(100):
            if depth(channel, shard) == 1:
                break
            channel.connection.sleep(0.05)
        assert depth(channel, shard) == 1
        # And the next one takes it: acknowledged, the queue is empty
        mapping.tick()
        assert depth(channel, shard) == 0
    finally:
        mapping.stop()
    # Then the function saw the body and why the broker dead-lettered it, twice
    letters = [letter for event in events for letter in dead_letters(event)]
    assert [(letter.body, letter.reason) for letter in letters] == [(b"\x09poison", "rejected")] * 2
    assert letters[0].queue == messaging.dead_letter_queue(shard)
