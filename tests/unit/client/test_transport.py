"""The client's transport against a tiny API of the tests' own: a 429 waits the server's
Retry-After, a request signed with an API key verifies with the server's verifier over exactly
what arrived, and key management always takes the user's token."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from exchange.apikeys import signing as server
from exchange_client import ApiError, ApiKey, ClientConfig, ExchangeClient
from exchange_client.http import RetryPolicy, Transport

KEY = ApiKey("ak_" + "Test0001xy", "sk_secret_for_tests")
FAST = RetryPolicy(base_delay_s=0.001, max_retry_after_s=5.0)


async def token() -> str:
    return "token-1"


def with_api(
    routes: Callable[[web.Application], object],
    scenario: Callable[[ExchangeClient], Awaitable[None]],
    *,
    api_key: ApiKey | None = KEY,
    prefix: str = "",
) -> None:
    """``prefix``: the base URL's path, as an API Gateway stage's (``/prod``)."""

    async def main() -> None:
        app = web.Application()
        routes(app)
        server_ = TestServer(app)
        await server_.start_server()
        base = str(server_.make_url(prefix)).rstrip("/")
        client = ExchangeClient(ClientConfig(api_url=base, ws_url="", app_client_id="c"))
        client.http = Transport(base, token=token, api_key=api_key, retry=FAST)
        try:
            await scenario(client)
        finally:
            await client.close()
            await server_.close()

    asyncio.run(main())


async def verified(request: web.Request, *, prefix: str = "") -> dict[str, Any]:
    """What the server's authorizer and handler check of a signed request: the signature over
    the method, the path below the stage and the query as received, and the body's digest."""
    header = request.headers["Authorization"]
    signed = server.parse_authorization(header)
    query = {name: request.query.getall(name) for name in request.query}
    path = request.path.removeprefix(prefix)
    server.verify(signed, KEY.secret, request.method, path, query, now_ms=time.time_ns() // 10**6)
    body = await request.read()
    assert server.content_sha256(body) == signed.content_sha256
    return {"path": path, "query": query, "body": body, "key_id": signed.key_id}


def test_a_429_waits_the_retry_after_then_succeeds() -> None:
    # Given an API that limits the first request, asking for a 1-second wait
    arrivals: list[float] = []

    async def balances(request: web.Request) -> web.Response:
        await verified(request)  # each attempt signed afresh, with a fresh timestamp
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            problem = {"status": 429, "code": "rate_limited", "detail": "2 per second"}
            return web.json_response(problem, status=429, headers={"Retry-After": "1"})
        return web.json_response({"balances": []})

    async def scenario(client: ExchangeClient) -> None:
        # When the client asks
        assert await client.balances() == []
        assert client.http.rate_limited == 1

    with_api(lambda app: app.router.add_get("/v1/balances", balances), scenario)
    # Then it waited what the server said (not its 1 ms backoff) and the retry succeeded
    assert len(arrivals) == 2
    assert 1.0 <= arrivals[1] - arrivals[0] < 1.5


def test_a_retry_after_beyond_the_cap_waits_the_cap_and_the_last_429_is_an_error() -> None:
    arrivals: list[float] = []

    async def balances(_request: web.Request) -> web.Response:
        arrivals.append(time.monotonic())
        return web.json_response({"code": "rate_limited"}, status=429, headers={"Retry-After": "9"})

    async def scenario(client: ExchangeClient) -> None:
        client.http._retry = RetryPolicy(attempts=2, max_retry_after_s=0.2)
        with pytest.raises(ApiError) as limited:
            await client.balances()
        assert limited.value.status == 429

    with_api(lambda app: app.router.add_get("/v1/balances", balances), scenario)
    assert len(arrivals) == 2
    assert 0.2 <= arrivals[1] - arrivals[0] < 1.0


def test_a_signed_request_covers_the_path_below_the_stage_the_query_and_the_body() -> None:
    # Given an API behind a stage (/prod), which verifies as the server does
    seen: list[dict[str, Any]] = []

    async def place(request: web.Request) -> web.Response:
        seen.append(await verified(request, prefix="/prod"))
        return web.json_response({"order_id": "o-1", "status": "PENDING_NEW"}, status=202)

    async def orders(request: web.Request) -> web.Response:
        seen.append(await verified(request, prefix="/prod"))
        return web.json_response({"orders": [], "next_cursor": None})

    def routes(app: web.Application) -> None:
        app.router.add_post("/prod/v1/orders", place)
        app.router.add_get("/prod/v1/orders", orders)

    async def scenario(client: ExchangeClient) -> None:
        # When the client places an order and lists with a query that needs encoding
        await client.place_order("BTC-USD", "buy", "0.01", "65000.00", client_order_id="a:b.c")
        await client.list_orders(symbol="BTC-USD", cursor="x_y-z", limit=5, start=1_000)

    with_api(routes, scenario, prefix="/prod")
    # Then both verified, over the path below the stage and the exact query and body
    assert [s["path"] for s in seen] == ["/v1/orders", "/v1/orders"]
    assert b'"client_order_id":"a:b.c"' in seen[0]["body"]
    assert seen[1]["query"] == {
        "symbol": ["BTC-USD"], "cursor": ["x_y-z"], "limit": ["5"],
        "start": ["1970-01-01T00:00:01.000Z"],
    }  # fmt: skip
    assert {s["key_id"] for s in seen} == {KEY.key_id}


def test_key_management_takes_the_token_even_when_the_client_has_a_key() -> None:
    authorizations: list[str] = []

    async def keys(request: web.Request) -> web.Response:
        authorizations.append(request.headers["Authorization"])
        return web.json_response({"keys": [{"key_id": "ak_1", "scopes": ["read"]}]})

    async def scenario(client: ExchangeClient) -> None:
        (listed,) = await client.list_api_keys()
        assert listed.key_id == "ak_1"

    with_api(lambda app: app.router.add_get("/v1/api-keys", keys), scenario)
    assert authorizations == ["token-1"]


def test_a_post_without_an_idempotency_key_is_not_replayed_after_a_5xx() -> None:
    # Creating a key is not idempotent: a 503 may come after it was made
    calls: list[int] = []

    async def create(_request: web.Request) -> web.Response:
        calls.append(1)
        return web.json_response({"code": "store_unavailable"}, status=503)

    async def scenario(client: ExchangeClient) -> None:
        with pytest.raises(ApiError) as failed:
            await client.create_api_key("bot", scopes=["read"])
        assert failed.value.status == 503

    with_api(lambda app: app.router.add_post("/v1/api-keys", create), scenario)
    assert calls == [1]


def test_a_public_request_is_not_signed() -> None:
    headers: list[str | None] = []

    async def markets(request: web.Request) -> web.Response:
        headers.append(request.headers.get("Authorization"))
        return web.json_response({"markets": []})

    async def scenario(client: ExchangeClient) -> None:
        assert await client.markets() == []

    with_api(lambda app: app.router.add_get("/v1/markets", markets), scenario)
    assert headers == [None]
