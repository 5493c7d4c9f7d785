"""The account, deposits and markets functions over real adapters: PostgreSQL, Redis, moto."""

import json
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis

from exchange.l2 import BookLevel, L2Book, book_key, encode_book
from exchange.ledger.accounts import AccountService
from exchange.ledger.deposits import DepositReceiver
from exchange.ledger.postgres import PostgresLedger
from exchange.ledger.webhooks import sign
from exchange.market.books import RedisBookStore
from exchange.market.dynamo import DynamoMarketStore
from exchange.market.service import MarketService
from exchange.tables import CandleRecord, TradeRecord, candle_series
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from lambdas.deposits.handler import handler as deposits_handler
from lambdas.markets.handler import handler as markets_handler
from tests.integration.api.conftest import CATALOG, account, call_account
from tests.unit.api.conftest import Reply

SECRET = b"whsec-integration"


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[tuple[redis.Redis, str]]:
    client = redis.Redis.from_url(redis_url)
    prefix = f"api-test-{uuid.uuid4().hex[:8]}:"
    try:
        yield client, prefix
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def test_balances_and_positions_on_postgres(
    accounts: AccountService, ledger: PostgresLedger
) -> None:
    # (withdrawals: test_withdrawals_real.py)
    alice = account(ledger, usd="1000")
    profile = call_account(accounts, "GET", "/v1/account", account_id=alice)
    balances = call_account(accounts, "GET", "/v1/balances", account_id=alice).body["balances"]
    positions = call_account(accounts, "GET", "/v1/positions", account_id=alice)
    assert profile.body["kyc_status"] == "VERIFIED"
    assert balances == [{"asset": "USD", "available": "1000", "held": "0", "total": "1000"}]
    assert positions.status == 200


def test_signed_deposit_webhook_credits_postgres_once(
    ledger: PostgresLedger, accounts: AccountService
) -> None:
    alice = account(ledger, usd="1")
    receiver = DepositReceiver(ledger=ledger, secrets=lambda: [SECRET])
    payload = json.dumps(
        {
            "event_id": f"evt-{uuid.uuid4().hex}",
            "type": "deposit.succeeded",
            "deposit_id": f"dep-{uuid.uuid4().hex}",
            "account_id": alice,
            "asset": "USD",
            "amount": "99.99",
        }
    )
    headers = {
        "Exchange-Signature": sign(payload.encode(), secret=SECRET, timestamp=int(time.time()))
    }

    def post() -> Reply:
        event = rest_event("POST", "/v1/webhooks/deposits", body=payload, headers=headers)
        return Reply.of(deposits_handler(event, LambdaContextStub(), deposits=receiver))

    first, replay = post(), post()
    assert (first.status, first.body["status"]) == (200, "CREDITED")
    assert (replay.status, replay.body["status"]) == (200, "DUPLICATE")
    usd = call_account(accounts, "GET", "/v1/balances", account_id=alice).body["balances"][0]
    assert Decimal(usd["available"]) == Decimal("100.99")


def test_markets_read_redis_book_and_dynamodb_trades_and_candles(
    dynamodb: Any, redis_client: tuple[redis.Redis, str], redis_url: str
) -> None:
    client, prefix = redis_client
    # Given the engine's snapshot in Redis and the consumers' rows in DynamoDB
    book = L2Book(symbol="BTC-USD", seq=77, bids=[BookLevel(6500000, 5000, 2)], asks=[])
    client.set(f"{prefix}{book_key('BTC-USD')}", encode_book(book))
    for seq in (1, 2, 3):
        TradeRecord(
            symbol="BTC-USD",
            seq=seq,
            price="65000.00",
            qty="0.1000",
            aggressor_side="BUY",
            ts_ns=seq,
        ).save()
    for start in (0, 60):
        CandleRecord(
            series=candle_series("BTC-USD", "1m"),
            start=start,
            open="1",
            high="2",
            low="1",
            close="2",
            volume="0.3",
            trades=3,
            first_seq=1,
            last_seq=3,
        ).save()
    markets = MarketService(
        instruments=CATALOG,
        books=RedisBookStore(lambda: redis.Redis.from_url(redis_url), key_prefix=prefix),
        store=DynamoMarketStore(),
    )

    def get(path: str, query: dict[str, str] | None = None) -> Reply:
        event = rest_event("GET", path, query=query)
        return Reply.of(markets_handler(event, LambdaContextStub(), markets=markets))

    # Then the API reads each from its owner, newest first, in decimal strings
    got = get("/v1/markets/BTC-USD/book")
    assert (got.body["seq"], got.body["bids"]) == (
        77,
        [{"price": "65000.00", "qty": "0.5000", "orders": 2}],
    )
    assert [t["seq"] for t in get("/v1/markets/BTC-USD/trades", {"limit": "2"}).body["trades"]] == [
        3,
        2,
    ]
    assert [c["start"] for c in get("/v1/markets/BTC-USD/candles").body["candles"]] == [60, 0]
    assert get("/v1/markets/ETH-USD/book").status == 404
