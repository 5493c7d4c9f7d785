"""The admin function's real adapters: the audit and instruments tables on moto (in process,
made from their specs and bound as the function binds them), the ledger on a fresh PostgreSQL
database (the ledger tests' fixtures), and the broker (RabbitMQ) with two shards of this test's
own."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pika
import pytest
from moto import mock_aws

from exchange import messaging
from exchange.settings import AdminSettings
from exchange.tables import TABLE_SPECS, bind_tables
from tests.integration.ledger.conftest import fresh_database, pool  # noqa: F401 - fixtures

REGION = "us-east-1"


@dataclass
class Aws:
    settings: AdminSettings
    dynamodb: Any


def aws_settings(**fields: Any) -> AdminSettings:
    defaults: dict[str, Any] = {
        "database_url": "postgresql://unused@127.0.0.1:1/unused",
        "instruments_table": "exchange-instruments",  # named: the live catalog reads the store
    }
    return AdminSettings(**{**defaults, **fields})


def create_tables(dynamodb: Any, settings: AdminSettings) -> None:
    for spec in TABLE_SPECS:
        dynamodb.create_table(**spec.create_table_kwargs(getattr(settings, spec.settings_field)))


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def aws(moto: Any) -> Aws:
    settings = aws_settings()
    create_tables(moto, settings)
    bind_tables(settings)
    return Aws(settings, moto)


@dataclass
class Broker:
    url: str
    channel: Any
    shards: tuple[str, str]

    def drain(self, shard: str) -> list[bytes]:
        """Every message in the shard's queue. A quorum queue with a single active consumer
        serves no basic.get, so this consumes until the queue is quiet for a second."""
        bodies = []
        for method, _properties, body in self.channel.consume(
            messaging.command_queue(shard), auto_ack=True, inactivity_timeout=1.0
        ):
            if method is None:
                break
            bodies.append(body)
        self.channel.cancel()
        return bodies


@pytest.fixture
def broker(rabbitmq_url: str) -> Iterator[Broker]:
    """Two fresh shards' queues (deleted after): the demo symbols' and an empty one."""
    shards = (f"a{uuid.uuid4().hex[:10]}", f"b{uuid.uuid4().hex[:10]}")
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    channel = connection.channel()
    for shard in shards:
        messaging.declare(channel, shard)
    try:
        yield Broker(rabbitmq_url, channel, shards)
    finally:
        for shard in shards:
            channel.queue_delete(messaging.command_queue(shard))
            channel.queue_delete(messaging.dead_letter_queue(shard))
        connection.close()
