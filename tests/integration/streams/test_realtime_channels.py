"""The WebSocket channels on real services: fan-out's own book in Redis keeps the checksums
across a restart while the engine's snapshot is ahead; settlement and the deposit webhook, as
composed in AWS, push ``balances`` frames through the Management API (moto) from the real
PostgreSQL ledger.

A backend sends a message to one connected client with a SigV4-signed ``POST
{stage URL}/@connections/{connection_id}`` (the Management API's ``post_to_connection``):
https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-how-to-call-websocket-api-connections.html
"""

import json
import random
import secrets
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import msgspec
import psycopg
import pytest
import redis
from psycopg_pool import ConnectionPool

from exchange.journal.batch import consume
from exchange.ledger import migrations
from exchange.ledger.connection import open_pool
from exchange.ledger.deposits import DepositReceiver
from exchange.ledger.money import show
from exchange.ledger.postgres import PostgresLedger
from exchange.ledger.webhooks import sign
from exchange.market.books import RedisBookStore
from exchange.realtime.balances import BalancesSettlement, balances_pushed
from exchange.realtime.book_tracker import RedisTrackedBooks
from exchange.realtime.channels import balances_key
from exchange.realtime.connections import DynamoConnectionStore
from exchange.realtime.fanout import Broadcaster, Fanout
from exchange.realtime.session import open_connection
from exchange.settings import DepositsSettings, SettlementSettings
from exchange.testing.lambda_events import rest_event
from exchange.testing.stores import InMemoryConnectionStore, InMemoryCursorStore, InMemorySender
from lambdas.deposits.handler import handler as deposits_handler
from lambdas.settlement.handler import compose as settlement_compose
from lambdas.settlement.handler import handler as settlement_handler
from tests.integration.ledger.conftest import _create_database, _drop_database, make_ledger
from tests.integration.streams.conftest import Aws
from tests.integration.streams.test_management_api import received
from tests.integration.streams.test_settlement_consumer import traded_market
from tests.unit.ledger.helpers import verified_account
from tests.unit.realtime.test_checksum import BookClient, random_market, random_records
from tests.unit.streams.helpers import CATALOG, SYMBOL, LambdaContext, encoded, failures, records

ENDPOINT = "https://abc123.execute-api.us-east-1.amazonaws.com/prod"


@pytest.fixture
def database(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, migrated database, by URL (the functions' settings name it)."""
    name = f"channels_test_{secrets.token_hex(4)}"
    url = _create_database(postgres_url, name)
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", url)
    try:
        with psycopg.connect(url) as conn:
            migrations.upgrade(conn)
        yield url
    finally:
        _drop_database(postgres_url, name)


@pytest.fixture
def pool(database: str) -> Iterator[ConnectionPool]:
    pool = open_pool(lambda: database, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[tuple[redis.Redis, str]]:
    """The test database, and a key prefix of this test's own (other agents share the server)."""
    client = redis.Redis.from_url(redis_url)
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    yield client, prefix
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_fanouts_book_in_redis_keeps_the_checksums_across_a_restart_with_the_engine_ahead(
    redis_client: tuple[redis.Redis, str],
) -> None:
    # Given fan-out on Redis (the public book and its own copy) and a subscriber
    client, prefix = redis_client
    books = RedisBookStore(lambda: client, key_prefix=prefix)
    connections, sender = InMemoryConnectionStore(), InMemorySender()
    cursors = InMemoryCursorStore()

    def fanout() -> Fanout:  # a new container: nothing in memory
        tracked = RedisTrackedBooks(lambda: client, prefix=f"{prefix}fanout:")
        return Fanout(
            Broadcaster(connections, sender), books, cursors, catalog=CATALOG, tracked=tracked
        )

    rng = random.Random(11)
    market, engine_books = random_market(rng, 800)
    journal = random_records(market, rng)
    subscriber = open_connection(connections, "c1", None)
    connections.subscribe(subscriber, f"book.{SYMBOL}")
    client_book = BookClient(seq=0)  # subscribed before the first event: the empty book
    positions: dict[str, int] = {}
    half = len(journal) // 2
    # When it consumes half, restarts as the engine publishes a snapshot ahead of it, and goes on
    for record in journal[:half]:
        consume(fanout(), record, positions)
    ahead = min(seq for seq in engine_books if seq > journal[half].last_seq)
    client.set(f"{prefix}book:{SYMBOL}", msgspec.json.encode(engine_books[ahead]))
    restarted = fanout()
    for record in journal[half:]:
        consume(restarted, record, positions)
    # Then every frame carried a checksum the subscriber's book matches
    for _, data in sender.sent:
        client_book.receive(json.loads(data))
    assert client_book.unverifiable == []
    assert client_book.verified == len(sender.sent)
    assert client_book.seq == len(market.events)


def test_settlement_as_composed_pushes_the_changed_accounts_balances_after_committing(
    aws: Aws, database: str, pool: ConnectionPool
) -> None:
    # Given the settlement function composed as in AWS, and the buyer subscribed to balances
    ledger = make_ledger(pool, CATALOG)
    ledger.bootstrap()
    sink = settlement_compose(
        SettlementSettings(
            database_url=database,
            ledger_fee_account_id=ledger.fee_account_id,
            ws_management_endpoint=ENDPOINT,
        )
    )
    assert isinstance(sink, BalancesSettlement)
    market = traded_market(ledger)
    buyer = next(o.account_id for oid, o in market.orders.items() if oid.startswith("b1"))
    connections = DynamoConnectionStore()
    connection_id = f"c-{uuid.uuid4().hex[:8]}"
    connections.subscribe(open_connection(connections, connection_id, buyer), balances_key(buyer))
    # When the handler settles the journal
    try:
        batch = aws.journal_batch(encoded(records(market.events, 3)))
        assert failures(settlement_handler(batch, LambdaContext(), sink=sink)) == []
    finally:
        assert isinstance(sink.ledger, PostgresLedger)
        sink.ledger.pool.close()
    # Then the buyer's connection got frames, the last with the settled balances, as REST shows
    frames = received(connection_id)
    assert {frame["type"] for frame in frames} == {"balances"}
    assert frames[-1]["balances"] == [
        {"asset": b.asset, "available": show(b.available), "held": show(b.held),
         "total": show(b.total)}
        for b in ledger.balances(buyer)
    ]  # fmt: skip
    btc = next(item for item in frames[-1]["balances"] if item["asset"] == "BTC")
    assert Decimal(btc["available"]) > 0


def test_a_credited_deposit_is_pushed_to_the_accounts_balances_subscribers(
    aws: Aws, database: str, pool: ConnectionPool
) -> None:
    # Given the deposits function's ledger wrapped as its composition root does, and a
    # subscribed account
    ledger = make_ledger(pool, CATALOG)
    account = verified_account(ledger)
    secret = b"whsec-test"
    settings = DepositsSettings(database_url=database, ws_management_endpoint=ENDPOINT)
    receiver = DepositReceiver(ledger=balances_pushed(ledger, settings), secrets=lambda: [secret])
    connections = DynamoConnectionStore()
    connection_id = f"c-{uuid.uuid4().hex[:8]}"
    connections.subscribe(
        open_connection(connections, connection_id, account), balances_key(account)
    )
    # When the provider's signed webhook credits 250 USD
    body = json.dumps({"event_id": f"ev-{uuid.uuid4().hex}", "type": "deposit.succeeded",
                       "deposit_id": f"dep-{uuid.uuid4().hex}", "account_id": account,
                       "asset": "USD", "amount": "250.00"}).encode()  # fmt: skip
    now = int(time.time())
    headers = {"Exchange-Signature": sign(body, secret=secret, timestamp=now)}
    event = rest_event("POST", "/v1/webhooks/deposits", body=body.decode(), headers=headers)
    response = deposits_handler(event, LambdaContext(), deposits=receiver)
    # Then it is credited, and the subscriber got the balances after the credit
    assert (response["statusCode"], json.loads(response["body"])["status"]) == (200, "CREDITED")
    (frame,) = received(connection_id)
    assert frame["balances"] == [{"asset": "USD", "available": "250", "held": "0", "total": "250"}]
