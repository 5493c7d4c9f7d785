"""The account, markets and deposits functions through API Gateway proxy events, over fakes."""

import json
import time
from decimal import Decimal

import pytest

from exchange.l2 import BookLevel, L2Book
from exchange.ledger.accounts import AccountDirectory, AccountRecord, AccountService
from exchange.ledger.model import KycStatus
from exchange.ledger.webhooks import sign
from exchange.market.service import Candle, TradePrint
from tests.unit.api.conftest import ALICE, WEBHOOK_SECRET, Exchange

# What an access token carries, as API Gateway's Cognito authorizer passes it on: no email, no
# cognito:username ("Understanding the access token", Amazon Cognito).
ACCESS_CLAIMS = {
    "username": "alice",
    "client_id": "app-client",
    "scope": "aws.cognito.signin.user.admin",
    "token_use": "access",
}


def test_account_shows_the_token_username_and_the_ledgers_kyc_status(exchange: Exchange) -> None:
    reply = exchange.call("GET", "/v1/account", account_id=ALICE, claims=ACCESS_CLAIMS)
    unknown = exchange.call("GET", "/v1/account", account_id="nobody", claims=ACCESS_CLAIMS)
    assert reply.status == 200
    assert reply.body == {
        "account_id": ALICE,
        "kyc_status": "VERIFIED",
        "email": None,  # the in-memory directory stores none
        "username": "alice",
    }
    assert unknown.body["kyc_status"] is None


def test_account_email_comes_from_the_ledger_never_the_token(exchange: Exchange) -> None:
    class Directory(AccountDirectory):
        def kyc_status(self, account_id: str) -> KycStatus | None:
            return KycStatus.PENDING

        def account(self, account_id: str) -> AccountRecord | None:
            return AccountRecord(account_id, KycStatus.PENDING, "alice@ledger.example")

    exchange.accounts = AccountService(ledger=exchange.ledger, directory=Directory())
    claims = {**ACCESS_CLAIMS, "email": "forged@example.com"}
    reply = exchange.call("GET", "/v1/account", account_id=ALICE, claims=claims)
    assert reply.body["email"] == "alice@ledger.example"
    assert reply.body["kyc_status"] == "PENDING"


def test_an_id_token_is_no_identity(exchange: Exchange) -> None:
    claims = {"token_use": "id", "cognito:username": "alice", "email": "alice@example.com"}
    reply = exchange.call("GET", "/v1/account", account_id=ALICE, claims=claims)
    assert reply.status == 401
    assert reply.is_problem


def test_balances_are_exact_decimal_strings(exchange: Exchange) -> None:
    exchange.ledger.fund(ALICE, "USD", Decimal("0.00000001"))
    reply = exchange.call("GET", "/v1/balances", account_id=ALICE)
    usd = next(b for b in reply.body["balances"] if b["asset"] == "USD")
    assert usd == {
        "asset": "USD",
        "available": "1000000.00000001",
        "held": "0",
        "total": "1000000.00000001",
    }


def test_markets_list_instruments_with_decimal_strings(exchange: Exchange) -> None:
    reply = exchange.call("GET", "/v1/markets")
    btc = next(m for m in reply.body["markets"] if m["symbol"] == "BTC-USD")
    assert (btc["tick_size"], btc["lot_size"], btc["max_qty"]) == ("0.01", "0.0001", "100")
    # The listings carry each symbol's status, which the catalogs read every 5 s
    assert reply.headers["Cache-Control"] == "public, max-age=5"


def test_book_converts_ticks_and_lots_and_keeps_its_seq(exchange: Exchange) -> None:
    exchange.books.books["BTC-USD"] = L2Book(
        symbol="BTC-USD",
        seq=41,
        bids=[BookLevel(6500000, 5000, 2), BookLevel(6499999, 1, 1)],
        asks=[BookLevel(6500100, 10, 1)],
    )
    reply = exchange.call("GET", "/v1/markets/BTC-USD/book", query={"depth": "1"})
    assert reply.body == {
        "symbol": "BTC-USD",
        "seq": 41,
        "bids": [{"price": "65000.00", "qty": "0.5000", "orders": 2}],
        "asks": [{"price": "65001.00", "qty": "0.0010", "orders": 1}],
    }


@pytest.mark.parametrize(
    ("path", "query", "status", "code"),
    [
        ("/v1/markets/ETH-USD/book", None, 404, "book_unavailable"),
        ("/v1/markets/DOGE-USD/book", None, 404, "market_not_found"),
        ("/v1/markets/btc-usd/trades", None, 400, "validation_error"),
        ("/v1/markets/BTC-USD/book", {"depth": "0"}, 400, "validation_error"),
        ("/v1/markets/BTC-USD/book", {"depth": "1e3"}, 400, "validation_error"),
        ("/v1/markets/BTC-USD/candles", {"interval": "7m"}, 400, "validation_error"),
        ("/v1/markets/BTC-USD%2F..%2F/trades", None, 400, "validation_error"),
        ("/v1/markets/BTC-USD/../../trades", None, 404, "not_found"),
    ],
)
def test_bad_market_requests_are_4xx_problems(
    exchange: Exchange, path: str, query: dict[str, str] | None, status: int, code: str
) -> None:
    reply = exchange.call("GET", path, query=query)
    assert (reply.status, reply.body["code"]) == (status, code)
    assert reply.is_problem


def test_trades_and_candles_come_newest_first(exchange: Exchange) -> None:
    exchange.market_store.trade_rows["BTC-USD"] = [
        TradePrint(seq, "65000.00", "0.1000", "BUY", seq) for seq in (1, 3, 2)
    ]
    exchange.market_store.candle_rows[("BTC-USD", "5m")] = [
        Candle(start, "1", "2", "0.5", "1.5", "10", 3) for start in (600, 0, 300)
    ]
    trades = exchange.call("GET", "/v1/markets/BTC-USD/trades", query={"limit": "2"}).body
    candles = exchange.call("GET", "/v1/markets/BTC-USD/candles", query={"interval": "5m"}).body
    assert [t["seq"] for t in trades["trades"]] == [3, 2]
    assert [c["start"] for c in candles["candles"]] == [600, 300, 0]


def test_health_and_openapi_are_served(exchange: Exchange) -> None:
    health = exchange.call("GET", "/v1/health")  # the health function (tests/unit/api/gateway)
    assert (health.status, health.body["status"]) == (200, "ok")
    spec = exchange.call("GET", "/v1/openapi.json")
    assert spec.status == 200
    assert "/v1/orders" in spec.body["paths"]


def _webhook(event_id: str, amount: str = "25.00", account: str = ALICE) -> bytes:
    return json.dumps(
        {
            "event_id": event_id,
            "type": "deposit.succeeded",
            "deposit_id": f"dep-{event_id}",
            "account_id": account,
            "asset": "USD",
            "amount": amount,
        }
    ).encode()


def test_signed_deposit_credits_once_and_a_replay_is_a_200_duplicate(exchange: Exchange) -> None:
    body = _webhook("evt-1")
    header = {"Exchange-Signature": sign(body, secret=WEBHOOK_SECRET, timestamp=int(time.time()))}
    before = exchange.ledger.available[(ALICE, "USD")]
    first = exchange.call("POST", "/v1/webhooks/deposits", body=body.decode(), headers=header)
    replay = exchange.call("POST", "/v1/webhooks/deposits", body=body.decode(), headers=header)
    assert (first.status, first.body) == (200, {"status": "CREDITED", "deposit_id": "dep-evt-1"})
    assert (replay.status, replay.body["status"]) == (200, "DUPLICATE")
    assert exchange.ledger.available[(ALICE, "USD")] - before == Decimal("25.00")


@pytest.mark.parametrize(
    ("signature", "status", "code"),
    [
        (None, 401, "invalid_signature"),
        ("t=1,v1=" + "0" * 64, 401, "invalid_signature"),
        ("stale", 401, "stale_webhook"),
        ("wrong-secret", 401, "invalid_signature"),
    ],
)
def test_unsigned_or_badly_signed_deposits_are_401_and_credit_nothing(
    exchange: Exchange, signature: str | None, status: int, code: str
) -> None:
    body = _webhook("evt-2")
    if signature == "stale":
        signature = sign(body, secret=WEBHOOK_SECRET, timestamp=int(time.time()) - 3600)
    elif signature == "wrong-secret":
        signature = sign(body, secret=b"nope", timestamp=int(time.time()))
    headers = {"Exchange-Signature": signature} if signature else {}
    before = exchange.ledger.available[(ALICE, "USD")]
    reply = exchange.call("POST", "/v1/webhooks/deposits", body=body.decode(), headers=headers)
    assert (reply.status, reply.body["code"]) == (status, code)
    assert exchange.ledger.available[(ALICE, "USD")] == before


def test_signed_but_malformed_deposit_is_a_400(exchange: Exchange) -> None:
    body = b'{"event_id": "evt-3"}'
    header = {"Exchange-Signature": sign(body, secret=WEBHOOK_SECRET, timestamp=int(time.time()))}
    reply = exchange.call("POST", "/v1/webhooks/deposits", body=body.decode(), headers=header)
    assert (reply.status, reply.body["code"]) == (400, "invalid_webhook")
