"""The shipped ccxt class against a fake HTTP layer: ccxt's own ``fetch`` runs unchanged over a
``requests`` session of the tests' own (ccxt's ``session`` option), so signing, parsing and error
mapping are exercised as ccxt drives them. Private requests are verified with the server's
verifier over exactly what was sent."""

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt  # type: ignore[import-untyped]
import pytest
import requests
from requests.structures import CaseInsensitiveDict

from exchange.apikeys import signing as server
from exchange_client.ccxt_exchange import ServerlessExchange

KEY_ID, SECRET = "ak_" + "Ccxt000001", "sk_ccxt_secret"
BASE = "https://api.example.test/prod"
MARKETS = {
    "markets": [
        {"symbol": "BTC-USD", "base": "BTC", "quote": "USD", "tick_size": "0.01",
         "lot_size": "0.0001", "min_qty": "0.0001", "max_qty": "100", "price_band_pct": "10",
         "status": "TRADING", "maker_fee_bps": 2, "taker_fee_bps": 5},
        {"symbol": "SOL-USD", "base": "SOL", "quote": "USD", "tick_size": "0.001",
         "lot_size": "0.01", "min_qty": "0.01", "max_qty": "50000", "price_band_pct": "15",
         "status": "HALTED", "maker_fee_bps": 2, "taker_fee_bps": 5},
    ]
}  # fmt: skip
ASSETS = {
    "assets": [
        {"asset": "BTC", "name": "Bitcoin", "scale": 8, "display_decimals": 8,
         "deposit_status": "enabled", "withdrawal_status": "suspended", "markets": ["BTC-USD"]},
        {"asset": "USD", "name": "US dollar", "scale": 2, "display_decimals": 2,
         "deposit_status": "enabled", "withdrawal_status": "enabled", "markets": ["BTC-USD"]},
    ]
}  # fmt: skip
ORDER = {
    "order_id": "01HF7YAT000000000000000001", "client_order_id": "bot-1", "symbol": "BTC-USD",
    "side": "BUY", "order_type": "LIMIT", "tif": "GTC", "status": "PARTIALLY_FILLED",
    "qty": "0.5000", "price": "65000.00", "stop_price": None, "post_only": False,
    "stp": "CANCEL_NEWEST", "filled_qty": "0.2000", "open_qty": "0.3000", "notional": "13000.00",
    "fee": "6.5", "reject_reason": None, "detail": None,
    "created_ns": 1_700_000_000_123_000_000, "updated_ns": 1_700_000_001_000_000_000,
}  # fmt: skip

Answer = tuple[int, Any]
Route = Callable[[dict[str, Any]], Answer]


class FakeSession(requests.Session):
    """Answers by (method, path below the stage); records each request, verified."""

    def __init__(self, routes: dict[tuple[str, str], Route | Answer]) -> None:
        super().__init__()
        self.routes = routes
        self.sent: list[dict[str, Any]] = []

    def request(  # type: ignore[override]
        self, method: str, url: str, data: bytes | None = None, headers: Any = None, **_: Any
    ) -> requests.Response:
        parts = urlsplit(url)
        assert parts.path.startswith("/prod/")
        path = parts.path.removeprefix("/prod")
        query = parse_qs(parts.query, keep_blank_values=True)
        body = data or b""
        sent = {"method": method, "path": path, "query": query, "body": body, "headers": headers}
        if "Authorization" in headers:
            signed = server.parse_authorization(headers["Authorization"])
            server.verify(signed, SECRET, method, path, query, now_ms=time.time_ns() // 10**6)
            assert signed.content_sha256 == server.content_sha256(body)
            sent["key_id"] = signed.key_id
        self.sent.append(sent)
        route = self.routes[(method, path)]
        status, payload = route(sent) if callable(route) else route
        response = requests.Response()
        response.status_code = status
        response.reason = "fake"
        response.url = url
        response._content = json.dumps(payload).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        return response


def exchange(routes: dict[tuple[str, str], Route | Answer]) -> tuple[Any, FakeSession]:
    session = FakeSession(
        {("GET", "/v1/markets"): (200, MARKETS), ("GET", "/v1/assets"): (200, ASSETS), **routes}
    )
    venue = ServerlessExchange(
        {"apiKey": KEY_ID, "secret": SECRET, "urls": {"api": {"rest": BASE}}, "session": session,
         "enableRateLimit": False}
    )  # fmt: skip
    return venue, session


def test_markets_are_ccxt_symbols_with_tick_size_precision_and_fees() -> None:
    venue, _ = exchange({})
    markets = venue.load_markets()
    btc = markets["BTC/USD"]
    assert (btc["id"], btc["base"], btc["quote"], btc["spot"], btc["active"]) == (
        "BTC-USD", "BTC", "USD", True, True
    )  # fmt: skip
    assert (btc["precision"]["amount"], btc["precision"]["price"]) == (0.0001, 0.01)
    assert (btc["maker"], btc["taker"]) == (0.0002, 0.0005)
    assert btc["limits"]["amount"] == {"min": 0.0001, "max": 100.0}
    assert markets["SOL/USD"]["active"] is False
    btc_asset = venue.currencies["BTC"]
    assert (btc_asset["precision"], btc_asset["deposit"], btc_asset["withdraw"]) == (
        1e-08, True, False
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "active"),
    [
        ("TRADING", True),
        ("POST_ONLY", True),  # takes orders that rest
        ("CANCEL_ONLY", False),
        ("HALTED", False),
        ("DELISTED", False),
    ],
)
def test_a_market_is_active_while_it_takes_new_orders(status: str, active: bool) -> None:
    market = {**MARKETS["markets"][0], "status": status}
    venue, _ = exchange({("GET", "/v1/markets"): (200, {"markets": [market]})})
    assert venue.load_markets()["BTC/USD"]["active"] is active


def test_create_order_signs_the_exact_body_and_keeps_one_idempotency_key() -> None:
    venue, session = exchange(
        {("POST", "/v1/orders"): (202, {"order_id": ORDER["order_id"], "status": "PENDING_NEW",
                                        "client_order_id": "bot-1", "symbol": "BTC-USD"})}
    )  # fmt: skip
    # When a ccxt bot places a post-only limit order, amount and price off the lot and tick
    order = venue.create_order(
        "BTC/USD", "limit", "buy", 0.12345, 65000.004, {"clientOrderId": "bot-1", "postOnly": True}
    )
    # Then the API got the exchange's own body, on its lot and tick, signed by the key
    (sent,) = [s for s in session.sent if s["method"] == "POST"]
    assert json.loads(sent["body"]) == {
        "symbol": "BTC-USD", "side": "BUY", "order_type": "LIMIT", "qty": "0.1234",
        "price": "65000", "post_only": True, "client_order_id": "bot-1",
    }  # fmt: skip
    assert sent["key_id"] == KEY_ID
    assert sent["headers"]["Idempotency-Key"]
    assert (order["id"], order["status"], order["symbol"], order["clientOrderId"]) == (
        ORDER["order_id"], "open", "BTC/USD", "bot-1"
    )  # fmt: skip


def test_an_order_reads_as_ccxts_structure() -> None:
    venue, session = exchange({("GET", f"/v1/orders/{ORDER['order_id']}"): (200, ORDER)})
    order = venue.fetch_order(ORDER["order_id"], "BTC/USD")
    assert {k: order[k] for k in ("id", "clientOrderId", "symbol", "type", "side", "status",
                                   "price", "amount", "filled", "remaining", "cost", "average",
                                   "timestamp", "timeInForce", "postOnly")} == {
        "id": ORDER["order_id"], "clientOrderId": "bot-1", "symbol": "BTC/USD", "type": "limit",
        "side": "buy", "status": "open", "price": 65000.0, "amount": 0.5, "filled": 0.2,
        "remaining": 0.3, "cost": 13000.0, "average": 65000.0, "timestamp": 1_700_000_000_123,
        "timeInForce": "GTC", "postOnly": False,
    }  # fmt: skip
    assert order["fee"] == {"cost": 6.5, "currency": "USD"}
    assert session.sent[-1]["key_id"] == KEY_ID


def test_by_client_order_id_reads_and_cancels_use_their_routes() -> None:
    accepted = {"order_id": ORDER["order_id"], "status": "PENDING_CANCEL"}
    venue, session = exchange(
        {
            ("GET", "/v1/orders/by-client-id/bot-1"): (200, ORDER),
            ("DELETE", "/v1/orders/by-client-id/bot-1"): (202, accepted),
        }
    )
    assert venue.fetch_order(None, "BTC/USD", {"clientOrderId": "bot-1"})["id"] == ORDER["order_id"]
    assert venue.cancel_order(None, "BTC/USD", {"clientOrderId": "bot-1"})["status"] == "open"
    assert [s["path"] for s in session.sent[-2:]] == ["/v1/orders/by-client-id/bot-1"] * 2


def test_open_orders_are_listed_per_open_status_page_by_page() -> None:
    calls: list[dict[str, list[str]]] = []

    def listing(sent: dict[str, Any]) -> Answer:
        calls.append(sent["query"])
        status, cursor = sent["query"]["status"][0], sent["query"].get("cursor")
        if status == "NEW" and cursor is None:
            return 200, {
                "orders": [{**ORDER, "status": "NEW", "order_id": "a"}],
                "next_cursor": "c1",
            }
        if status == "NEW":
            return 200, {
                "orders": [{**ORDER, "status": "NEW", "order_id": "b"}],
                "next_cursor": None,
            }
        if status == "PARTIALLY_FILLED":
            return 200, {"orders": [ORDER], "next_cursor": None}
        return 200, {"orders": [], "next_cursor": None}

    venue, _ = exchange({("GET", "/v1/orders"): listing})
    orders = venue.fetch_open_orders("BTC/USD")
    assert sorted(o["id"] for o in orders) == sorted(["a", "b", str(ORDER["order_id"])])
    assert {o["status"] for o in orders} == {"open"}
    assert [(c["status"][0], c.get("cursor")) for c in calls] == [
        ("PENDING_NEW", None), ("NEW", None), ("NEW", ["c1"]), ("PARTIALLY_FILLED", None),
    ]  # fmt: skip
    assert {c["symbol"][0] for c in calls} == {"BTC-USD"}


def test_public_data_parses_book_ticker_trades_candles_time_and_balances() -> None:
    ticker = {
        "symbol": "BTC-USD", "last": "65010.00", "best_bid": "65009.50", "best_bid_qty": "0.5000",
        "best_ask": "65010.50", "best_ask_qty": "1.2000", "open_24h": "64000.00",
        "high_24h": "65500.00", "low_24h": "63800.00", "volume_24h": "12.3400",
        "quote_volume_24h": "796540.500000", "change_24h": "1010.00", "change_pct_24h": "1.58",
        "trades_24h": 420, "ts_ns": 1_714_564_800_123_000_000,
    }  # fmt: skip
    venue, session = exchange({
        ("GET", "/v1/markets/BTC-USD/book"): (200, {"symbol": "BTC-USD", "seq": 42,
            "bids": [{"price": "65000.00", "qty": "0.5000", "orders": 1}],
            "asks": [{"price": "65001.00", "qty": "1.0000", "orders": 2}]}),
        ("GET", "/v1/markets/BTC-USD/ticker"): (200, ticker),
        ("GET", "/v1/tickers"): (200, {"tickers": [ticker]}),
        ("GET", "/v1/markets/BTC-USD/trades"): (200, {"symbol": "BTC-USD", "trades": [
            {"seq": 9, "price": "65001.00", "qty": "0.1000", "aggressor_side": "BUY",
             "ts_ns": 1_714_564_800_500_000_000},
            {"seq": 8, "price": "65000.00", "qty": "0.2000", "aggressor_side": "SELL",
             "ts_ns": 1_714_564_800_000_000_000}], "next_cursor": None}),
        ("GET", "/v1/markets/BTC-USD/candles"): (200, {"symbol": "BTC-USD", "interval": "5m",
            "candles": [{"start": 1_714_564_800, "open": "1", "high": "3", "low": "0.5",
                         "close": "2", "volume": "10", "trades": 4}], "next_cursor": None}),
        ("GET", "/v1/time"): (200, {"iso": "2024-05-01T12:00:00.123Z",
                                    "epoch_ms": 1_714_564_800_123}),
        ("GET", "/v1/balances"): (200, {"balances": [
            {"asset": "USD", "available": "100.5", "held": "20", "total": "120.5"}]}),
    })  # fmt: skip
    book = venue.fetch_order_book("BTC/USD", 5)
    assert (book["bids"], book["asks"], book["nonce"]) == (
        [[65000.0, 0.5]], [[65001.0, 1.0]], 42
    )  # fmt: skip
    assert session.sent[-1]["query"] == {"depth": ["5"]}
    one = venue.fetch_ticker("BTC/USD")
    assert {k: one[k] for k in ("symbol", "last", "bid", "ask", "high", "low", "open",
                                 "change", "percentage", "baseVolume", "quoteVolume",
                                 "timestamp")} == {
        "symbol": "BTC/USD", "last": 65010.0, "bid": 65009.5, "ask": 65010.5, "high": 65500.0,
        "low": 63800.0, "open": 64000.0, "change": 1010.0, "percentage": 1.58,
        "baseVolume": 12.34, "quoteVolume": 796540.5, "timestamp": 1_714_564_800_123,
    }  # fmt: skip
    assert list(venue.fetch_tickers()) == ["BTC/USD"]
    trades = venue.fetch_trades("BTC/USD", since=1_714_564_800_000, limit=2)
    assert [(t["id"], t["side"], t["price"], t["amount"]) for t in trades] == [
        ("8", "sell", 65000.0, 0.2), ("9", "buy", 65001.0, 0.1)
    ]  # fmt: skip
    assert session.sent[-1]["query"] == {
        "start": ["2024-05-01T12:00:00.000Z"], "order": ["asc"], "limit": ["2"]
    }  # fmt: skip
    assert venue.fetch_ohlcv("BTC/USD", "5m") == [[1_714_564_800_000, 1.0, 3.0, 0.5, 2.0, 10.0]]
    assert session.sent[-1]["query"] == {"interval": ["5m"]}
    assert venue.fetch_time() == 1_714_564_800_123
    balance = venue.fetch_balance()
    assert balance["USD"] == {"free": 100.5, "used": 20.0, "total": 120.5}
    assert "Authorization" not in session.sent[-2]["headers"]  # time: public
    assert session.sent[-1]["key_id"] == KEY_ID  # balances: signed


def test_my_trades_carry_role_and_fee() -> None:
    fill = {
        "fill_id": "00001714564800000000000#1", "order_id": "o-1", "symbol": "BTC-USD", "seq": 9,
        "side": "SELL", "role": "MAKER", "price": "65000.00", "qty": "0.2000", "fee": "2.6",
        "fee_asset": "USD", "ts_ns": 1_714_564_800_000_000_000,
    }  # fmt: skip
    other = {**fill, "fill_id": "2", "symbol": "SOL-USD"}
    venue, session = exchange(
        {("GET", "/v1/fills"): (200, {"fills": [fill, other], "next_cursor": None})}
    )
    (trade,) = venue.fetch_my_trades("BTC/USD")
    assert session.sent[-1]["query"] == {"limit": ["200"]}  # /v1/fills has no symbol filter
    assert (trade["order"], trade["side"], trade["takerOrMaker"], trade["cost"]) == (
        "o-1", "sell", "maker", 13000.0
    )  # fmt: skip
    assert trade["fee"] == {"cost": 2.6, "currency": "USD"}


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (422, "insufficient_funds", ccxt.InsufficientFunds),
        (400, "invalid_price", ccxt.InvalidOrder),
        (404, "order_not_found", ccxt.OrderNotFound),
        (409, "order_not_open", ccxt.InvalidOrder),
        (400, "unknown_instrument", ccxt.BadSymbol),
        (401, None, ccxt.AuthenticationError),
        (403, None, ccxt.PermissionDenied),
        (429, "rate_limited", ccxt.RateLimitExceeded),
        (429, None, ccxt.RateLimitExceeded),
        (503, "broker_unavailable", ccxt.ExchangeNotAvailable),
        (400, "validation_error", ccxt.BadRequest),
        (500, "internal_error", ccxt.ExchangeError),
    ],
)
def test_problems_become_ccxts_exceptions(status: int, code: str | None, error: type) -> None:
    problem = {"message": "Unauthorized"} if code is None else {"status": status, "code": code}
    venue, _ = exchange({("DELETE", "/v1/orders/x"): (status, problem)})
    with pytest.raises(error):
        venue.cancel_order("x")


def test_cancel_all_orders_names_the_symbol() -> None:
    accepted = {"order_id": "a", "status": "PENDING_CANCEL", "symbol": "BTC-USD"}
    answer = {"accepted": [accepted], "not_sent": [], "truncated": False}
    venue, session = exchange({("DELETE", "/v1/orders"): (202, answer)})
    (order,) = venue.cancel_all_orders("BTC/USD")
    assert (order["id"], order["symbol"]) == ("a", "BTC/USD")
    assert session.sent[-1]["query"] == {"symbol": ["BTC-USD"]}


def test_camel_case_aliases_and_implicit_methods_exist() -> None:
    venue, _ = exchange({})
    assert venue.fetchOHLCV == venue.fetch_ohlcv
    assert callable(venue.private_post_orders_cancel_after)
    assert venue.has["fetchOpenOrders"]
    assert venue.timeframes == {"1m": "1m", "5m": "5m", "1h": "1h", "1d": "1d"}
