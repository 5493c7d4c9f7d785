"""The client's methods for the bot-facing endpoints against a tiny API of the tests' own: what
each sends (method, path, query, body) and how it reads the answer."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from exchange_client import ClientConfig, ExchangeClient
from exchange_client.http import RetryPolicy, Transport

Seen = list[tuple[str, str, dict[str, str], Any]]


def against(
    answers: dict[tuple[str, str], Any], scenario: Callable[[ExchangeClient], Awaitable[None]]
) -> Seen:
    seen: Seen = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append(
            (request.method, request.path, dict(request.query), json.loads(body) if body else None)
        )
        return web.json_response(answers[(request.method, request.path)])

    async def token() -> str:
        return "token-1"

    async def main() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        server = TestServer(app)
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        client = ExchangeClient(ClientConfig(api_url=base, ws_url="", app_client_id="c"))
        client.http = Transport(base, token=token, retry=RetryPolicy(base_delay_s=0.001))
        try:
            await scenario(client)
        finally:
            await client.close()
            await server.close()

    asyncio.run(main())
    return seen


def test_cancel_all_the_switch_and_client_order_ids() -> None:
    accepted = {"order_id": "o-1", "status": "PENDING_CANCEL", "symbol": "ETH-USD"}
    switch = {"deadline": "2026-12-06T10:00:05.000Z", "deadline_ms": 1_796_551_205_000,
              "timeout_seconds": 5, "fired": None}  # fmt: skip
    answers = {
        ("DELETE", "/v1/orders"): {"accepted": [accepted], "not_sent": [], "truncated": True},
        ("POST", "/v1/orders/cancel-after"): switch,
        ("GET", "/v1/orders/cancel-after"): {**switch, "deadline": None, "deadline_ms": None,
                                              "timeout_seconds": 0},
        ("GET", "/v1/orders/by-client-id/q:1"): {
            "order_id": "o-1", "symbol": "ETH-USD", "side": "BUY", "order_type": "LIMIT",
            "status": "NEW", "qty": "0.5", "client_order_id": "q:1"},
        ("DELETE", "/v1/orders/by-client-id/q:1"): accepted,
    }  # fmt: skip

    async def scenario(client: ExchangeClient) -> None:
        cancelled = await client.cancel_all("ETH-USD")
        assert ([a.order_id for a in cancelled.accepted], cancelled.complete) == (["o-1"], False)
        armed = await client.cancel_after(5)
        assert (armed.armed, armed.deadline_ms) == (True, 1_796_551_205_000)
        assert not (await client.get_cancel_after()).armed
        await client.disarm_cancel_after()
        assert (await client.get_order_by_client_id("q:1")).client_order_id == "q:1"
        assert (await client.cancel_order_by_client_id("q:1")).status == "PENDING_CANCEL"

    seen = against(answers, scenario)
    assert [(m, p, q, b) for m, p, q, b in seen] == [
        ("DELETE", "/v1/orders", {"symbol": "ETH-USD"}, None),
        ("POST", "/v1/orders/cancel-after", {}, {"timeout_seconds": 5}),
        ("GET", "/v1/orders/cancel-after", {}, None),
        ("POST", "/v1/orders/cancel-after", {}, {"timeout_seconds": 0}),
        ("GET", "/v1/orders/by-client-id/q:1", {}, None),
        ("DELETE", "/v1/orders/by-client-id/q:1", {}, None),
    ]


def test_time_assets_tickers_and_time_ranges() -> None:
    ticker = {"symbol": "BTC-USD", "last": "65010.00", "best_bid": None, "volume_24h": "0.0000",
              "change_pct_24h": "-1.25", "trades_24h": 0, "ts_ns": 1}  # fmt: skip
    answers = {
        ("GET", "/v1/time"): {"iso": "2024-05-01T12:00:00.123Z", "epoch_ms": 1_714_564_800_123},
        ("GET", "/v1/assets"): {"assets": [{"asset": "BTC", "name": "Bitcoin", "scale": 8,
            "display_decimals": 8, "deposit_status": "enabled",
            "withdrawal_status": "suspended", "markets": ["BTC-USD"]}]},
        ("GET", "/v1/markets/BTC-USD/ticker"): ticker,
        ("GET", "/v1/tickers"): {"tickers": [ticker]},
        ("GET", "/v1/markets/BTC-USD/trades"): {"symbol": "BTC-USD", "trades": [],
                                                "next_cursor": "n1"},
        ("GET", "/v1/fills"): {"fills": [], "next_cursor": None},
    }  # fmt: skip
    start = datetime(2024, 5, 1, tzinfo=UTC)

    async def scenario(client: ExchangeClient) -> None:
        offset = await client.sync_clock()
        assert client.http.clock_offset_ms == offset
        (asset,) = await client.assets()
        assert (asset.scale, asset.withdrawal_status) == (8, "suspended")
        one = await client.ticker("BTC-USD")
        assert (one.last, one.best_bid, one.change_pct_24h) == (
            Decimal("65010.00"), None, Decimal("-1.25")
        )  # fmt: skip
        assert [t.symbol for t in await client.tickers()] == ["BTC-USD"]
        page = await client.trades_page("BTC-USD", start=start, end=1_714_608_000_000, order="asc")
        assert page.next_cursor == "n1"
        await client.list_fills(start=start)

    seen = against(answers, scenario)
    assert seen[-2][2] == {
        "start": "2024-05-01T00:00:00.000Z", "end": "2024-05-02T00:00:00.000Z", "order": "asc"
    }  # fmt: skip
    assert seen[-1][2] == {"start": "2024-05-01T00:00:00.000Z"}
