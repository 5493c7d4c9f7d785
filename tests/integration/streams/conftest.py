"""AWS for the consumer tests: moto in-process (DynamoDB, Kinesis) or moto's server (Cognito and
the API Gateway Management API, which need a real HTTP endpoint); and a fresh PostgreSQL database
for the settlement consumer."""

import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer
from psycopg_pool import ConnectionPool

from exchange.ledger import migrations
from exchange.ledger.connection import open_pool
from exchange.settings import ConsumerSettings
from exchange.tables import TABLE_SPECS, bind_tables
from exchange.testing.lambda_events import kinesis_event
from tests.integration.ledger.conftest import _create_database, _drop_database

REGION = "us-east-1"
STREAM = "journal"


@dataclass
class Aws:
    settings: ConsumerSettings
    dynamodb: Any
    kinesis: Any

    def journal_batch(self, payloads: list[bytes]) -> dict[str, Any]:
        """Put ``payloads`` on the stream, read them back, and shape them as Lambda would."""
        for payload in payloads:
            self.kinesis.put_record(StreamName=STREAM, Data=payload, PartitionKey="BTC-USD")
        shard = self.kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
        iterator = self.kinesis.get_shard_iterator(
            StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = self.kinesis.get_records(ShardIterator=iterator)["Records"]
        return kinesis_event(records, stream=STREAM, region=REGION)

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """Every item of every table, in key order: the state a replay must leave alone."""
        tables = {}
        for spec in TABLE_SPECS:
            name = getattr(self.settings, spec.settings_field)
            items = self.dynamodb.scan(TableName=name, ConsistentRead=True)["Items"]
            tables[spec.logical_name] = sorted(items, key=repr)
        return tables


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        settings = ConsumerSettings()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for spec in TABLE_SPECS:
            dynamodb.create_table(
                **spec.create_table_kwargs(getattr(settings, spec.settings_field))
            )
        kinesis = boto3.client("kinesis", region_name=REGION)
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        bind_tables(settings)
        yield Aws(settings, dynamodb, kinesis)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def ledger_pool(postgres_url: str) -> Iterator[ConnectionPool]:
    """A fresh, migrated database per test: the ledger is idempotent on ``(symbol, seq)`` and
    each test's engine starts at seq 1 (other agents run tests at the same time, too)."""
    name = f"streams_test_{secrets.token_hex(4)}"
    url = _create_database(postgres_url, name)
    try:
        with psycopg.connect(url) as conn:
            migrations.upgrade(conn)
        pool = open_pool(lambda: url, min_size=1, max_size=4)
        try:
            yield pool
        finally:
            pool.close()
    finally:
        _drop_database(postgres_url, name)
