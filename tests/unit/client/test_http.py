"""The client against a tiny API of the tests' own: idempotent retries and problem+json."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from exchange_client import ApiError, ClientConfig, ExchangeClient
from exchange_client.http import RetryPolicy, Transport


class FakeAuth:
    async def access_token(self) -> str:
        return "token-1"


def with_api(
    routes: Callable[[web.Application], object],
    scenario: Callable[[ExchangeClient], Awaitable[None]],
) -> None:
    async def main() -> None:
        app = web.Application()
        routes(app)
        server = TestServer(app)
        await server.start_server()
        config = ClientConfig(
            api_url=str(server.make_url("")).rstrip("/"), ws_url="", app_client_id="c"
        )
        client = ExchangeClient(config)
        client.http = Transport(
            config.api_url, token=FakeAuth().access_token, retry=RetryPolicy(base_delay_s=0.001)
        )
        try:
            await scenario(client)
        finally:
            await client.close()
            await server.close()

    asyncio.run(main())


def test_a_place_retried_after_503s_carries_the_same_idempotency_key_and_body() -> None:
    # Given an API that fails twice before accepting
    seen: list[tuple[str | None, Any, str | None]] = []

    async def orders(request: web.Request) -> web.Response:
        seen.append(
            (request.headers.get("Idempotency-Key"), await request.json(),
             request.headers.get("Authorization"))
        )  # fmt: skip
        if len(seen) < 3:
            return web.json_response({"title": "busy"}, status=503)
        return web.json_response({"order_id": "o-1", "status": "PENDING_NEW"}, status=202)

    async def scenario(client: ExchangeClient) -> None:
        # When an order is placed
        accepted = await client.place_order("BTC-USD", "buy", Decimal("0.01"), "65000.10")
        # Then it was sent three times, identically, and the third answer is the result
        assert accepted.order_id == "o-1"

    with_api(lambda app: app.router.add_post("/v1/orders", orders), scenario)
    keys = {key for key, _, _ in seen}
    assert len(seen) == 3
    assert len(keys) == 1
    assert None not in keys
    bodies = [body for _, body, _ in seen]
    assert bodies == [bodies[0]] * 3
    assert bodies[0] == {
        "symbol": "BTC-USD", "side": "BUY", "order_type": "LIMIT", "qty": "0.01",
        "tif": "GTC", "price": "65000.10",
    }  # fmt: skip
    assert {auth for _, _, auth in seen} == {"token-1"}


def test_a_4xx_is_not_retried_and_carries_the_problem() -> None:
    calls: list[int] = []
    problem = {
        "type": "about:blank#off_tick", "title": "Invalid order", "status": 422,
        "detail": "price not on tick 0.01", "errors": [{"field": "price"}],
    }  # fmt: skip

    async def orders(_request: web.Request) -> web.Response:
        calls.append(1)
        return web.json_response(problem, status=422, content_type="application/problem+json")

    async def scenario(client: ExchangeClient) -> None:
        with pytest.raises(ApiError) as refused:
            await client.place_order("BTC-USD", "buy", "1", "65000.001")
        assert refused.value.status == 422
        assert refused.value.problem["errors"] == [{"field": "price"}]
        assert "tick" in str(refused.value)

    with_api(lambda app: app.router.add_post("/v1/orders", orders), scenario)
    assert calls == [1]


def test_a_float_quantity_is_refused_before_anything_is_sent() -> None:
    async def scenario(client: ExchangeClient) -> None:
        with pytest.raises(TypeError, match="float"):
            await client.place_order("BTC-USD", "buy", 0.1, "65000")  # type: ignore[arg-type]

    with_api(lambda _app: None, scenario)


def test_listings_decode_decimals_and_the_next_cursor() -> None:
    async def orders(request: web.Request) -> web.Response:
        assert request.query["symbol"] == "BTC-USD"
        body = {
            "orders": [{
                "order_id": "o-1", "symbol": "BTC-USD", "side": "BUY", "order_type": "LIMIT",
                "status": "PARTIALLY_FILLED", "qty": "0.3", "price": "65000.00",
                "filled_qty": "0.1", "notional": "6500.000", "fee": "3.25", "unknown": 1,
            }],
            "next_cursor": "abc",
        }  # fmt: skip
        return web.Response(text=json.dumps(body), content_type="application/json")

    async def scenario(client: ExchangeClient) -> None:
        page = await client.list_orders(symbol="BTC-USD")
        (order,) = page.items
        assert page.next_cursor == "abc"
        assert (order.qty, order.filled_qty, order.fee) == (
            Decimal("0.3"), Decimal("0.1"), Decimal("3.25")
        )  # fmt: skip
        assert order.avg_price == Decimal("65000")
        assert order.is_open

    with_api(lambda app: app.router.add_get("/v1/orders", orders), scenario)
