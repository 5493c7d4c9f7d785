"""Fixtures for the engine service against the real RabbitMQ and Redis, and moto for AWS."""

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pika
import pytest
from moto import mock_aws

from exchange import messaging


@pytest.fixture
def shard() -> str:
    """A fresh shard id per test, so queues never carry over between tests."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def rabbit(
    rabbitmq_url: str, shard: str
) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    """A side channel for publishing and inspecting queues; deletes the shard's queues after."""
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    channel = connection.channel()
    messaging.declare(channel, shard)
    try:
        yield channel
    finally:
        if channel.is_open:
            channel.queue_delete(messaging.command_queue(shard))
            channel.queue_delete(messaging.dead_letter_queue(shard))
        connection.close()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def kinesis(aws: None) -> Any:
    client = boto3.client("kinesis", region_name="us-east-1")
    client.create_stream(StreamName="events", ShardCount=2)
    return client


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="snapshots")
    return client
