"""The REST handlers over the real adapters: DynamoDB on moto (tables made from TABLE_SPECS),
the real local RabbitMQ (a fresh shard and queues per test) and PostgreSQL (a fresh database
per session, migrated with the ledger's migrations), Redis (keys under a per-test prefix)."""

import secrets
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import boto3
import pika
import psycopg
import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from moto import mock_aws
from psycopg_pool import ConnectionPool

from exchange import messaging
from exchange.domain import InstrumentCatalog
from exchange.ledger import migrations
from exchange.ledger.accounts import AccountService
from exchange.ledger.connection import open_pool
from exchange.ledger.model import KycStatus
from exchange.ledger.postgres import PostgresLedger
from exchange.ledger.postgres.directory import PostgresAccountDirectory
from exchange.messaging import ShardMap
from exchange.orders.dynamo import DynamoOrderStore
from exchange.orders.idempotency import IdempotentRunner
from exchange.orders.keys_dynamo import DynamoOrderKeys
from exchange.orders.lookup import OrderLookup
from exchange.orders.publisher import RabbitCommandSink
from exchange.orders.service import OrderService
from exchange.settings import DEFAULT_ASSET_SCALES, ConsumerSettings
from exchange.tables import TABLE_SPECS, bind_tables
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from lambdas.account.handler import handler as account_handler
from lambdas.orders.handler import handler as orders_handler
from tests.integration.ledger.conftest import _create_database, _drop_database
from tests.unit.api.conftest import Reply, handler_settings  # noqa: F401 - autouse

CATALOG = InstrumentCatalog.demo()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.filterwarnings("ignore:No application metrics to publish"))


@pytest.fixture(scope="session")
def api_pool(postgres_url: str) -> Iterator[ConnectionPool]:
    name = f"api_test_{secrets.token_hex(4)}"
    url = _create_database(postgres_url, name)
    with psycopg.connect(url) as conn:
        migrations.upgrade(conn)
    pool = open_pool(lambda: url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        pool.close()
        _drop_database(postgres_url, name)


@pytest.fixture
def ledger(api_pool: ConnectionPool) -> PostgresLedger:
    ledger = PostgresLedger(
        api_pool,
        instruments=CATALOG,
        asset_scales=DEFAULT_ASSET_SCALES,
        fee_account_id=f"fees-{uuid.uuid4().hex[:12]}",
    )
    ledger.bootstrap()
    return ledger


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with mock_aws():
        settings = ConsumerSettings()
        client = boto3.client("dynamodb", region_name="us-east-1")
        for spec in TABLE_SPECS:
            client.create_table(**spec.create_table_kwargs(getattr(settings, spec.settings_field)))
        bind_tables(settings)
        yield client


@pytest.fixture
def shard(rabbitmq_url: str) -> Iterator[str]:
    """A fresh shard with its queues; deleted afterwards."""
    shard = f"api{uuid.uuid4().hex[:10]}"
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    channel = connection.channel()
    messaging.declare(channel, shard)
    try:
        yield shard
    finally:
        channel.queue_delete(messaging.command_queue(shard))
        channel.queue_delete(messaging.dead_letter_queue(shard))
        connection.close()


def queued(rabbitmq_url: str, shard: str) -> list[bytes]:
    """Every message on the shard's command queue, consumed (the queue allows no basic.get)."""
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        channel = connection.channel()
        bodies = []
        for method, _properties, body in channel.consume(
            messaging.command_queue(shard), inactivity_timeout=0.5
        ):
            if method is None:
                break
            channel.basic_ack(method.delivery_tag)
            bodies.append(body)
        channel.cancel()
        return bodies
    finally:
        connection.close()


def account(ledger: PostgresLedger, usd: str = "1000000") -> str:
    """A verified account funded with USD, through a (signed-less) deposit notice."""
    from exchange.ledger.model import DepositNotice  # noqa: PLC0415

    account_id = f"acct-{uuid.uuid4().hex[:12]}"
    ledger.open_account(account_id, kyc_status=KycStatus.VERIFIED)
    ledger.credit_deposit(
        DepositNotice(
            event_id=f"evt-{account_id}",
            deposit_id=f"dep-{account_id}",
            account_id=account_id,
            asset="USD",
            amount=Decimal(usd),
            status="CREDITED",
            signed_at=0,
        )
    )
    return account_id


@pytest.fixture
def sinks() -> Iterator[list[RabbitCommandSink]]:
    """Every broker sink the test made, closed afterwards."""
    made: list[RabbitCommandSink] = []
    yield made
    for sink in made:
        sink.close()


@pytest.fixture
def make_orders(
    dynamodb: Any, ledger: PostgresLedger, rabbitmq_url: str, sinks: list[RabbitCommandSink]
) -> Callable[..., OrderService]:
    def make(
        shards: ShardMap,
        broker_url: str = rabbitmq_url,
        max_open_orders: int = 200,
        deadline_s: float = 3.0,
        lookup: OrderLookup | None = None,
    ) -> OrderService:
        sink = RabbitCommandSink(
            lambda: broker_url, shards, connection_name="api-tests", deadline_s=deadline_s
        )
        sinks.append(sink)
        persistence = DynamoDBPersistenceLayer(
            table_name=ConsumerSettings().idempotency_table, boto3_client=dynamodb
        )
        return OrderService(
            instruments=CATALOG,
            store=DynamoOrderStore(),
            keys=DynamoOrderKeys(),
            ledger=ledger,
            sink=sink,
            idempotency=IdempotentRunner(persistence),
            max_open_orders=max_open_orders,
            lookup=lookup,
        )

    return make


@pytest.fixture
def orders(make_orders: Callable[..., OrderService], shard: str) -> OrderService:
    return make_orders(ShardMap({shard: CATALOG.symbols}))


def call_orders(service: OrderService, method: str, path: str, **kwargs: Any) -> Reply:
    event = rest_event(method, path, **kwargs)
    return Reply.of(orders_handler(event, LambdaContextStub(), orders=service))


def call_account(service: object, method: str, path: str, **kwargs: Any) -> Reply:
    """The account function with ``service`` (one, or a sequence of them) as its services."""
    services = list(service) if isinstance(service, list | tuple) else [service]
    event = rest_event(method, path, **kwargs)
    return Reply.of(account_handler(event, LambdaContextStub(), services=services))


@pytest.fixture
def accounts(ledger: PostgresLedger, api_pool: ConnectionPool) -> AccountService:
    return AccountService(ledger=ledger, directory=PostgresAccountDirectory(api_pool))
