"""Public market data: the clock, assets, instruments, tickers, the book, trades and candles."""

from typing import Any, Literal

from exchange_client.endpoints.common import Endpoints, Moment, iso_time, items, page, segment
from exchange_client.models import (
    Asset,
    Book,
    Candle,
    Instrument,
    Page,
    Ticker,
    TradePrint,
    convert,
    level,
)

Order = Literal["desc", "asc"]


class MarketEndpoints(Endpoints):
    async def server_time(self) -> dict[str, Any]:
        """``GET /v1/time``: the exchange's clock (``iso`` and ``epoch_ms``)."""
        result: dict[str, Any] = await self.http.request("GET", "/v1/time", auth=False)
        return result

    async def assets(self) -> list[Asset]:
        raw = await self.http.request("GET", "/v1/assets", auth=False)
        return [convert(item, Asset) for item in items(raw, "assets")]

    async def markets(self) -> list[Instrument]:
        raw = await self.http.request("GET", "/v1/markets", auth=False)
        return [convert(item, Instrument) for item in items(raw, "markets")]

    async def ticker(self, symbol: str) -> Ticker:
        raw = await self.http.request("GET", f"/v1/markets/{segment(symbol)}/ticker", auth=False)
        return convert(raw, Ticker)

    async def tickers(self) -> list[Ticker]:
        raw = await self.http.request("GET", "/v1/tickers", auth=False)
        return [convert(item, Ticker) for item in items(raw, "tickers")]

    async def book(self, symbol: str, *, depth: int | None = None) -> Book:
        raw = await self.http.request(
            "GET", f"/v1/markets/{segment(symbol)}/book", params={"depth": depth}, auth=False
        )
        return Book(
            symbol=raw.get("symbol", symbol),
            seq=int(raw["seq"]),
            bids=[level(item) for item in raw.get("bids", [])],
            asks=[level(item) for item in raw.get("asks", [])],
        )

    async def trades(
        self,
        symbol: str,
        *,
        start: Moment | None = None,
        end: Moment | None = None,
        order: Order | None = None,
        limit: int | None = None,
    ) -> list[TradePrint]:
        """The latest trades, newest first, or the first page of a time range (``trades_page``
        goes on)."""
        return (
            await self.trades_page(symbol, start=start, end=end, order=order, limit=limit)
        ).items

    async def trades_page(
        self,
        symbol: str,
        *,
        start: Moment | None = None,
        end: Moment | None = None,
        order: Order | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[TradePrint]:
        """A page of trades: ``start`` (inclusive) to ``end`` (exclusive), newest first unless
        ``order="asc"``; pass ``next_cursor`` back, with the same range and order, for more."""
        params = {
            "start": iso_time(start), "end": iso_time(end), "order": order, "limit": limit,
            "cursor": cursor,
        }  # fmt: skip
        raw = await self.http.request(
            "GET", f"/v1/markets/{segment(symbol)}/trades", params=params, auth=False
        )
        return page(raw, TradePrint, "trades")

    async def candles(
        self,
        symbol: str,
        *,
        interval: str = "1m",
        start: Moment | None = None,
        end: Moment | None = None,
        order: Order | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        """The latest bars, newest first, or the first page of a time range (``candles_page``
        goes on)."""
        return (
            await self.candles_page(
                symbol, interval=interval, start=start, end=end, order=order, limit=limit
            )
        ).items

    async def candles_page(
        self,
        symbol: str,
        *,
        interval: str = "1m",
        start: Moment | None = None,
        end: Moment | None = None,
        order: Order | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Candle]:
        """A page of OHLCV bars whose open is in ``start`` (inclusive) to ``end`` (exclusive);
        pass ``next_cursor`` back, with the same range and order, for more."""
        params = {
            "interval": interval, "start": iso_time(start), "end": iso_time(end),
            "order": order, "limit": limit, "cursor": cursor,
        }  # fmt: skip
        raw = await self.http.request(
            "GET", f"/v1/markets/{segment(symbol)}/candles", params=params, auth=False
        )
        return page(raw, Candle, "candles")

    async def health(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.http.request("GET", "/v1/health", auth=False)
        return result

    async def openapi(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.http.request("GET", "/v1/openapi.json", auth=False)
        return result
