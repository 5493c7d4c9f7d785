"""A ccxt exchange class for this exchange (the ``ccxt`` extra: ``pip install
'exchange-client[ccxt]'``), so a bot written for ccxt trades here by changing one line:

    exchange = ccxt.binance({"apiKey": key, "secret": secret})          # before
    exchange = ServerlessExchange({"apiKey": key, "secret": secret})    # after

    exchange.load_markets()
    order = exchange.create_order("BTC/USD", "limit", "buy", 0.01, 65000)
    exchange.cancel_order(order["id"])

Symbols are ccxt's ``BASE/QUOTE`` (the API's ``BASE-QUOTE``). Private calls are signed with the
API key (``EXCHANGE-HMAC-SHA256``, ``exchange_client.signing``). Without ``urls``, the class finds
the exchange as the client does (``EXCHANGE_API_URL``, else ``make run``'s local stack); without
``apiKey``/``secret``, it reads ``EXCHANGE_API_KEY``/``EXCHANGE_API_SECRET`` or the saved key.

Every endpoint is also an implicit method named ccxt's way, e.g. ``public_get_markets_symbol_book
({"symbol": "BTC-USD"})`` or ``private_post_orders_cancel_after({"timeout_seconds": 10})``.
"""

import json
import re
from typing import Any, Final

from ccxt.base.decimal_to_precision import TICK_SIZE  # type: ignore[import-untyped]
from ccxt.base.errors import (  # type: ignore[import-untyped]
    AuthenticationError,
    BadRequest,
    BadSymbol,
    ExchangeError,
    ExchangeNotAvailable,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    PermissionDenied,
    RateLimitExceeded,
)
from ccxt.base.types import Entry  # type: ignore[import-untyped]

from exchange_client.ccxt_trading import CcxtTrading
from exchange_client.config import ClientConfig
from exchange_client.credentials import ApiKey
from exchange_client.errors import ExchangeClientError
from exchange_client.http import query_values
from exchange_client.signing import DEFAULT_WINDOW_MS, authorization_header, canonical_query

API: Final = {
    "public": {
        "get": [
            "time", "assets", "markets", "tickers", "markets/{symbol}/ticker",
            "markets/{symbol}/book", "markets/{symbol}/trades", "markets/{symbol}/candles",
        ],
    },
    "private": {
        "get": [
            "orders", "orders/{order_id}", "orders/by-client-id/{client_order_id}",
            "orders/cancel-after", "fills", "account", "balances", "positions",
        ],
        "post": ["orders", "orders/cancel-after", "withdrawals"],
        "patch": ["orders/{order_id}"],
        "delete": ["orders", "orders/{order_id}", "orders/by-client-id/{client_order_id}"],
    },
}  # fmt: skip
# Problem codes (problem+json ``code``) as ccxt's exceptions; anything else by HTTP status.
EXACT: Final = {
    "insufficient_funds": InsufficientFunds,
    **dict.fromkeys(
        ("invalid_order", "invalid_price", "invalid_quantity", "too_many_open_orders",
         "instrument_not_trading", "no_protection_price", "no_reference_price",
         "stp_not_allowed", "price_above_max", "notional_above_max", "order_not_open",
         "idempotency_conflict"),
        InvalidOrder,
    ),
    "order_not_found": OrderNotFound,
    **dict.fromkeys(("unknown_instrument", "market_not_found", "book_unavailable"), BadSymbol),
    **dict.fromkeys(
        ("unauthorized", "invalid_signature", "malformed_signature", "bad_signature",
         "stale_request", "invalid_api_key", "api_key_revoked", "api_key_expired"),
        AuthenticationError,
    ),
    **dict.fromkeys(
        ("forbidden", "insufficient_scope", "ip_not_allowed", "kyc_not_allowed"), PermissionDenied
    ),
    **dict.fromkeys(("rate_limited", "too_many_requests"), RateLimitExceeded),
    **dict.fromkeys(("broker_unavailable", "store_unavailable"), ExchangeNotAvailable),
    **dict.fromkeys(("validation_error", "invalid_cursor", "malformed_request"), BadRequest),
}  # fmt: skip
BY_STATUS: Final = {
    "400": BadRequest,
    "401": AuthenticationError,
    "403": PermissionDenied,
    "404": BadRequest,
    "422": InvalidOrder,
    "429": RateLimitExceeded,
    "502": ExchangeNotAvailable,
    "503": ExchangeNotAvailable,
    "504": ExchangeNotAvailable,
}
BODY_METHODS: Final = frozenset({"POST", "PATCH", "PUT"})


def implicit_api(api: dict[str, dict[str, list[str]]]) -> type:
    """ccxt's implicit methods for ``api`` (as its generated ``ccxt.abstract`` classes are):
    ``private_delete_orders_order_id`` calls ``DELETE orders/{order_id}``."""
    entries = {}
    for access, methods in api.items():
        for method, paths in methods.items():
            for path in paths:
                words = [w for w in re.split(r"[^A-Za-z0-9]+", path) if w]
                name = "_".join([access, method, *words]).lower()
                entries[name] = Entry(path, access, method.upper(), {"cost": 1})
    return type("ImplicitAPI", (), entries)


class ServerlessExchange(CcxtTrading, implicit_api(API)):  # type: ignore[misc]
    def __init__(self, config: dict[str, Any] | None = None) -> None:
        config = dict(config or {})
        urls = config.get("urls") or {}
        if not (urls.get("api") or {}).get("rest"):
            try:
                found = ClientConfig.discover()
            except ExchangeClientError:
                found = None  # set urls later; a request says what is missing
            if found is not None:
                config["urls"] = {**urls, "api": {"rest": found.api_url}}
        if not config.get("apiKey") and not config.get("secret"):
            key = ApiKey.discover()
            if key is not None:
                config.update(apiKey=key.key_id, secret=key.secret)
        super().__init__(config)

    def describe(self) -> Any:
        return self.deep_extend(
            super().describe(),
            {
                "id": "serverlessexchange",
                "name": "Serverless Exchange",
                "countries": [],
                "version": "v1",
                "rateLimit": 50,  # ms between requests: an API key's default 20 per second
                "pro": False,
                "has": {
                    "CORS": None, "spot": True, "margin": False, "swap": False,
                    "future": False, "option": False, "cancelAllOrders": True,
                    "cancelOrder": True, "createOrder": True, "editOrder": True,
                    "fetchBalance": True, "fetchCurrencies": True, "fetchMarkets": True,
                    "fetchMyTrades": True, "fetchOHLCV": True, "fetchOpenOrders": True,
                    "fetchOrder": True, "fetchOrderBook": True, "fetchOrders": True,
                    "fetchTicker": True, "fetchTickers": True, "fetchTime": True,
                    "fetchTrades": True,
                },
                "timeframes": {"1m": "1m", "5m": "5m", "1h": "1h", "1d": "1d"},
                "urls": {
                    "api": {"rest": None},
                    "www": None,
                    "doc": None,
                },
                "api": API,
                "requiredCredentials": {"apiKey": True, "secret": True},
                "precisionMode": TICK_SIZE,
                "options": {"recvWindow": DEFAULT_WINDOW_MS, "adjustForTimeDifference": False},
                "exceptions": {"exact": EXACT, "broad": {}, "status": BY_STATUS},
            },
        )  # fmt: skip

    # -- requests --------------------------------------------------------------------------------
    def nonce(self) -> int:
        return int(self.milliseconds() - self.safe_integer(self.options, "timeDifference", 0))

    def sign(  # noqa: PLR0917 - ccxt's signature
        self,
        path: str,
        api: Any = "public",
        method: str = "GET",
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        body: str | None = None,
    ) -> dict[str, Any]:
        """The URL and headers of one request; a private one signed over the exact path, query
        and body sent."""
        params = params or {}
        base = (self.urls.get("api") or {}).get("rest")
        if not base:
            raise ExchangeError(f"{self.id}: set urls['api']['rest'] to the exchange's API URL")
        request_path = f"/{self.version}/" + self.implode_params(path, params)
        query = self.omit(params, self.extract_params(path))
        idempotency_key = self.safe_string(query, "idempotencyKey")
        query = self.omit(query, "idempotencyKey")
        headers = {**(headers or {})}
        body = None
        if method in BODY_METHODS:
            body = json.dumps(query, separators=(",", ":"))
            headers["Content-Type"] = "application/json"
            query = {}
        signed_query = {name: [value] for name, value in query_values(query).items()}
        text = canonical_query(signed_query)
        url = base.rstrip("/") + request_path + ("?" + text if text else "")
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if api == "private":
            self.check_required_credentials()
            headers["Authorization"] = authorization_header(
                self.apiKey,
                self.secret,
                method,
                request_path,
                signed_query,
                body=(body or "").encode(),
                timestamp_ms=self.nonce(),
                window_ms=self.safe_integer(self.options, "recvWindow", DEFAULT_WINDOW_MS),
            )
        return {"url": url, "method": method, "body": body, "headers": headers}

    def handle_errors(  # noqa: PLR0917 - ccxt's signature
        self,
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: Any,
        body: str,
        response: Any,
        request_headers: Any,
        request_body: Any,
    ) -> None:
        """A problem+json answer as ccxt's exception: by its ``code``, else by the status."""
        if code is None or code < 400:
            return None
        feedback = f"{self.id} {method} {url} {code} {body}"
        problem_code = self.safe_string(response, "code") if isinstance(response, dict) else None
        self.throw_exactly_matched_exception(self.exceptions["exact"], problem_code, feedback)
        self.throw_exactly_matched_exception(self.exceptions["status"], str(code), feedback)
        raise ExchangeError(feedback)

    # -- public ----------------------------------------------------------------------------------
    def fetch_time(self, params: dict[str, Any] | None = None) -> Any:
        response = self.public_get_time(params or {})
        millis = self.safe_integer(response, "epoch_ms")
        if millis is None:
            millis = self.ns_to_ms(self.safe_integer(response, "epoch_ns"))
        return millis

    def fetch_currencies(self, params: dict[str, Any] | None = None) -> Any:
        response = self.public_get_assets(params or {})
        currencies = [self.parse_currency_entry(a) for a in self.safe_list(response, "assets", [])]
        return self.index_by(currencies, "code")

    def fetch_markets(self, params: dict[str, Any] | None = None) -> Any:
        if self.safe_bool(self.options, "adjustForTimeDifference"):
            self.load_time_difference()
        response = self.public_get_markets(params or {})
        return [self.parse_market(m) for m in self.safe_list(response, "markets", [])]

    def fetch_ticker(self, symbol: str, params: dict[str, Any] | None = None) -> Any:
        self.load_markets()
        market = self.market(symbol)
        response = self.public_get_markets_symbol_ticker(
            self.extend({"symbol": market["id"]}, params or {})
        )
        return self.parse_ticker(response, market)

    def fetch_tickers(
        self, symbols: list[str] | None = None, params: dict[str, Any] | None = None
    ) -> Any:
        self.load_markets()
        response = self.public_get_tickers(params or {})
        return self.parse_tickers(self.safe_list(response, "tickers", []), symbols)

    def fetch_order_book(
        self, symbol: str, limit: int | None = None, params: dict[str, Any] | None = None
    ) -> Any:
        self.load_markets()
        market = self.market(symbol)
        request: dict[str, Any] = {"symbol": market["id"]}
        if limit is not None:
            request["depth"] = limit
        response = self.public_get_markets_symbol_book(self.extend(request, params or {}))
        book = self.parse_order_book(
            response, market["symbol"], None, "bids", "asks", "price", "qty"
        )
        book["nonce"] = self.safe_integer(response, "seq")
        return book

    def fetch_trades(
        self,
        symbol: str,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        self.load_markets()
        market = self.market(symbol)
        request: dict[str, Any] = {"symbol": market["id"]}
        if since is not None:  # the first trades from since on, oldest first
            request.update(start=self.iso8601(since), order="asc")
        if limit is not None:
            request["limit"] = limit
        response = self.public_get_markets_symbol_trades(self.extend(request, params or {}))
        return self.parse_trades(self.safe_list(response, "trades", []), market, since, limit)

    def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str = "1m",
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        self.load_markets()
        market = self.market(symbol)
        request: dict[str, Any] = {
            "symbol": market["id"],
            "interval": self.safe_string(self.timeframes, timeframe, timeframe),
        }
        if since is not None:  # the first bars from since on, oldest first
            request.update(start=self.iso8601(since), order="asc")
        if limit is not None:
            request["limit"] = limit
        response = self.public_get_markets_symbol_candles(self.extend(request, params or {}))
        candles = self.safe_list(response, "candles", [])
        return self.parse_ohlcvs(candles, market, timeframe, since, limit)


serverlessexchange = ServerlessExchange  # ccxt's naming: the class is the exchange's id
