"""``ExchangeClient``: a typed async method for every REST endpoint.

    async with ExchangeClient(config) as client:
        await client.sign_in("alice@example.com", "Exchange-demo-1")
        accepted = await client.place_order("BTC-USD", "buy", "0.01", price="65000")
        order = await client.get_order(accepted.order_id)

Quantities and prices go out as decimal strings (give ``Decimal`` or ``str``; a float is
refused). Placing an order is idempotent: every retry of one call carries the same
``Idempotency-Key``, so the API creates one order however often the network fails.
"""

import uuid
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

from exchange_client.auth import CognitoAuth
from exchange_client.config import ClientConfig
from exchange_client.http import RetryPolicy, Transport
from exchange_client.models import (
    Accepted,
    Balance,
    Book,
    Candle,
    Fill,
    Instrument,
    Order,
    Page,
    TradePrint,
    convert,
    level,
)

Number = Decimal | str | int


def decimal_string(value: Number, what: str) -> str:
    """Exact decimal text; a float is refused (``0.1`` is not 0.1 in binary)."""
    if isinstance(value, bool | float):
        raise TypeError(f"{what} must be Decimal, str or int, not {type(value).__name__}")
    return str(Decimal(value)) if not isinstance(value, str) else value


def _items(raw: Any, *keys: str) -> list[Any]:
    """The list in an answer: the answer itself, or under the first of ``keys`` it has."""
    if isinstance(raw, list):
        return raw
    if isinstance(raw, dict):
        for key in (*keys, "items"):
            if isinstance(raw.get(key), list):
                return list(raw[key])
    return []


def _page[T](raw: Any, model: type[T], key: str) -> Page[T]:
    cursor = (raw.get("next_cursor") or raw.get("cursor")) if isinstance(raw, dict) else None
    return Page([convert(item, model) for item in _items(raw, key)], cursor)


class ExchangeClient:
    def __init__(
        self,
        config: ClientConfig,
        *,
        auth: CognitoAuth | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.config = config
        self.auth = auth or CognitoAuth(
            app_client_id=config.app_client_id,
            region=config.region,
            endpoint_url=config.cognito_endpoint_url,
        )
        self.http = Transport(config.api_url, token=self.auth.access_token, retry=retry)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.close()

    # -- identity --------------------------------------------------------------------------------
    async def sign_in(self, username: str, password: str) -> None:
        import asyncio  # noqa: PLC0415 - boto3 is blocking: run it off the loop

        await asyncio.to_thread(self.auth.sign_in, username, password)

    # -- orders ----------------------------------------------------------------------------------
    async def place_order(
        self,
        symbol: str,
        side: str,
        qty: Number,
        price: Number | None = None,
        *,
        order_type: str | None = None,
        tif: str = "GTC",
        stop_price: Number | None = None,
        post_only: bool = False,
        stp: str | None = None,
        client_order_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Accepted:
        """``POST /v1/orders``: a limit order when ``price`` is given, else a market order."""
        body: dict[str, Any] = {
            "symbol": symbol,
            "side": side.upper(),
            "order_type": (order_type or ("LIMIT" if price is not None else "MARKET")).upper(),
            "qty": decimal_string(qty, "qty"),
            "tif": tif.upper(),
        }
        if price is not None:
            body["price"] = decimal_string(price, "price")
        if stop_price is not None:
            body["stop_price"] = decimal_string(stop_price, "stop_price")
        if post_only:
            body["post_only"] = True
        if stp is not None:
            body["stp"] = stp
        if client_order_id is not None:
            body["client_order_id"] = client_order_id
        raw = await self.http.request(
            "POST", "/v1/orders", body=body, idempotency_key=idempotency_key or str(uuid.uuid4())
        )
        return convert(raw, Accepted)

    async def amend_order(
        self, order_id: str, *, qty: Number | None = None, price: Number | None = None
    ) -> Accepted:
        """``PATCH /v1/orders/{id}``: a new quantity and/or price (smaller at the same price
        keeps the order's place in the queue)."""
        body: dict[str, Any] = {}
        if qty is not None:
            body["qty"] = decimal_string(qty, "qty")
        if price is not None:
            body["price"] = decimal_string(price, "price")
        raw = await self.http.request("PATCH", f"/v1/orders/{order_id}", body=body)
        return convert(raw, Accepted)

    async def cancel_order(self, order_id: str) -> Accepted:
        raw = await self.http.request("DELETE", f"/v1/orders/{order_id}")
        return convert(raw, Accepted)

    async def get_order(self, order_id: str) -> Order:
        return convert(await self.http.request("GET", f"/v1/orders/{order_id}"), Order)

    async def list_orders(
        self,
        *,
        symbol: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Order]:
        params = {"symbol": symbol, "status": status, "limit": limit, "cursor": cursor}
        return _page(await self.http.request("GET", "/v1/orders", params=params), Order, "orders")

    async def list_fills(
        self,
        *,
        order_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Fill]:
        """``GET /v1/fills``: newest first; ``order_id`` narrows it to one order's fills."""
        params = {"order_id": order_id, "limit": limit, "cursor": cursor}
        return _page(await self.http.request("GET", "/v1/fills", params=params), Fill, "fills")

    # -- account ---------------------------------------------------------------------------------
    async def account(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.http.request("GET", "/v1/account")
        return result

    async def balances(self) -> list[Balance]:
        raw = await self.http.request("GET", "/v1/balances")
        items = _items(raw, "balances")
        return [convert(item, Balance) for item in items]

    async def positions(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.http.request("GET", "/v1/positions")
        return result

    async def withdraw(
        self, asset: str, amount: Number, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.http.request(
            "POST",
            "/v1/withdrawals",
            body={"asset": asset, "amount": decimal_string(amount, "amount")},
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )
        return result

    # -- public market data ----------------------------------------------------------------------
    async def markets(self) -> list[Instrument]:
        raw = await self.http.request("GET", "/v1/markets", auth=False)
        items = _items(raw, "markets")
        return [convert(item, Instrument) for item in items]

    async def book(self, symbol: str, *, depth: int | None = None) -> Book:
        raw = await self.http.request(
            "GET", f"/v1/markets/{symbol}/book", params={"depth": depth}, auth=False
        )
        return Book(
            symbol=raw.get("symbol", symbol),
            seq=int(raw["seq"]),
            bids=[level(item) for item in raw.get("bids", [])],
            asks=[level(item) for item in raw.get("asks", [])],
        )

    async def trades(self, symbol: str, *, limit: int | None = None) -> list[TradePrint]:
        raw = await self.http.request(
            "GET", f"/v1/markets/{symbol}/trades", params={"limit": limit}, auth=False
        )
        items = _items(raw, "trades")
        return [convert(item, TradePrint) for item in items]

    async def candles(self, symbol: str, *, interval: str = "1m") -> list[Candle]:
        raw = await self.http.request(
            "GET", f"/v1/markets/{symbol}/candles", params={"interval": interval}, auth=False
        )
        items = _items(raw, "candles")
        return [convert(item, Candle) for item in items]

    async def health(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.http.request("GET", "/v1/health", auth=False)
        return result

    async def openapi(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.http.request("GET", "/v1/openapi.json", auth=False)
        return result
