"""The local gateway against tiny handlers of the tests' own: API Gateway's event shapes, its
authorizer rules, route selection, and the Management API reaching live sockets."""

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
import boto3
import pytest
from aiohttp.test_utils import TestServer
from botocore.exceptions import ClientError

from lambdas.catalog import FUNCTIONS
from local.functions import FunctionHost
from local.gateway.app import RestApi, build_app
from local.gateway.auth import Unauthorized
from local.gateway.events import HttpRequest, HttpResponse
from local.gateway.routes import WsRoutes
from local.gateway.websocket import WebSocketApi


class Verifier:
    def verify(self, presented: str, scopes: Sequence[str] = ()) -> Mapping[str, Any]:
        if presented != "Bearer good":
            raise Unauthorized("bad token")
        return {"sub": "acct-1", "token_use": "access", "exp": 2_000_000_000}


def rest_authorizer(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """A stand-in for the REST Lambda authorizer: "Bearer good" may call any method."""
    if event["headers"].get("Authorization") != "Bearer good":
        raise Exception("Unauthorized")
    stage_arn = "/".join(event["methodArn"].split("/")[:2])  # arn:...:<api id>/<stage>
    return {
        "principalId": "acct-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{stage_arn}/*/*"}
            ],
        },
        "context": {"account_id": "acct-1", "auth": "token"},
    }


def serve(
    handlers: dict[str, Callable[[dict[str, Any], Any], Any]],
    scenario: Callable[[str, WebSocketApi], Awaitable[None]],
) -> None:
    async def main() -> None:
        host = FunctionHost(handlers={"rest_authorizer": rest_authorizer, **handlers})
        websocket = WebSocketApi(host)
        server = TestServer(build_app(host, Verifier(), websocket))
        await server.start_server()
        try:
            await scenario(str(server.make_url("")).rstrip("/"), websocket)
        finally:
            await websocket.close_all()
            await server.close()
            host.close()

    asyncio.run(main())


def test_rest_request_becomes_a_proxy_event_with_the_authorizer_context_and_path_parameters() -> (
    None
):
    # Given an orders function that echoes its event
    events: list[dict[str, Any]] = []

    def orders(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        events.append(event)
        return {
            "statusCode": 202,
            "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {"X-Trace": ["a", "b"]},
            "body": json.dumps({"ok": True}),
        }

    async def scenario(url: str, _ws: WebSocketApi) -> None:
        async with aiohttp.ClientSession() as http:
            # When a signed-in client amends an order with a multi-valued query string
            response = await http.patch(
                f"{url}/v1/orders/o%2D1?x=1&x=2",
                data=b'{"qty": "1"}',
                headers={"Authorization": "Bearer good"},
            )
            # Then the Lambda's result is the HTTP answer (multi-value headers included)
            assert response.status == 202
            assert await response.json() == {"ok": True}
            assert response.headers.getall("X-Trace") == ["a", "b"]

    serve({"orders": orders}, scenario)
    (event,) = events
    # And the event is API Gateway's proxy shape, with the Lambda authorizer's context
    assert event["resource"] == "/v1/orders/{order_id}"
    assert event["pathParameters"] == {"order_id": "o-1"}
    assert event["httpMethod"] == "PATCH"
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["body"] == '{"qty": "1"}'
    assert event["isBase64Encoded"] is False
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "acct-1"
    assert (authorizer["account_id"], authorizer["auth"]) == ("acct-1", "token")


def test_a_cognito_method_gets_the_tokens_claims_as_strings() -> None:
    # "Control access to REST APIs using Amazon Cognito user pools as an authorizer": the
    # integration gets the verified token's claims in requestContext.authorizer.claims.
    events: list[dict[str, Any]] = []

    def api_keys(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        events.append(event)
        return {"statusCode": 200, "body": "[]"}

    async def scenario(url: str, _ws: WebSocketApi) -> None:
        async with aiohttp.ClientSession() as http:
            good = await http.get(f"{url}/v1/api-keys", headers={"Authorization": "Bearer good"})
            bad = await http.get(f"{url}/v1/api-keys", headers={"Authorization": "Bearer bad"})
            assert (good.status, bad.status) == (200, 401)

    serve({"api_keys": api_keys}, scenario)
    (event,) = events
    claims = event["requestContext"]["authorizer"]["claims"]
    assert claims == {"sub": "acct-1", "token_use": "access", "exp": "2000000000"}


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/v1/orders", {}, 401),  # no token
        ("GET", "/v1/orders", {"Authorization": "Bearer forged"}, 401),
        ("GET", "/v1/nowhere", {"Authorization": "Bearer good"}, 403),  # no such route
        ("PUT", "/v1/orders", {"Authorization": "Bearer good"}, 403),  # no such method
    ],
)
def test_gateway_refuses_before_any_lambda_runs(
    method: str, path: str, headers: dict[str, str], status: int
) -> None:
    called: list[str] = []

    def orders(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        called.append(event["path"])
        return {"statusCode": 200, "body": ""}

    async def scenario(url: str, _ws: WebSocketApi) -> None:
        async with aiohttp.ClientSession() as http:
            response = await http.request(method, f"{url}{path}", headers=headers)
            assert response.status == status
            assert "message" in await response.json()

    serve({"orders": orders}, scenario)
    assert called == []


def test_public_route_needs_no_token_and_binary_body_is_base64() -> None:
    seen: list[dict[str, Any]] = []

    def deposits(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        seen.append(event)
        return {"statusCode": 200, "body": base64.b64encode(b"\xff").decode(),
                "isBase64Encoded": True}  # fmt: skip

    async def scenario(url: str, _ws: WebSocketApi) -> None:
        async with aiohttp.ClientSession() as http:
            response = await http.post(f"{url}/v1/webhooks/deposits", data=b"\xff\xfe")
            assert response.status == 200
            assert await response.read() == b"\xff"

    serve({"deposits": deposits}, scenario)
    assert seen[0]["isBase64Encoded"] is True
    assert base64.b64decode(seen[0]["body"]) == b"\xff\xfe"
    assert "authorizer" not in seen[0]["requestContext"]


def test_a_failing_or_malformed_integration_is_a_502() -> None:
    def orders(_event: dict[str, Any], _context: Any) -> Any:
        raise RuntimeError("boom")

    def markets(_event: dict[str, Any], _context: Any) -> Any:
        return {"body": "no status code"}

    async def scenario(url: str, _ws: WebSocketApi) -> None:
        async with aiohttp.ClientSession() as http:
            failing = await http.get(f"{url}/v1/orders", headers={"Authorization": "Bearer good"})
            malformed = await http.get(f"{url}/v1/markets")
            missing = await http.get(f"{url}/v1/balances", headers={"Authorization": "Bearer good"})
            assert [failing.status, malformed.status, missing.status] == [502, 502, 502]

    serve({"orders": orders, "markets": markets}, scenario)


def test_an_integration_slower_than_the_timeout_is_a_504() -> None:
    # Given an integration that outlives API Gateway's timeout (29 s; shortened here)
    def markets(_event: dict[str, Any], _context: Any) -> Any:
        time.sleep(0.3)
        return {"statusCode": 200, "body": "late"}

    async def scenario() -> HttpResponse:
        host = FunctionHost(handlers={"markets": markets})
        try:
            api = RestApi(host, Verifier(), timeout_s=0.05)
            request = HttpRequest("GET", "/v1/markets", (), (), b"", "127.0.0.1")
            return await api.dispatch(request)
        finally:
            host.close()

    # When it is called, Then the caller gets API Gateway's 504
    response = asyncio.run(scenario())
    assert response.status == 504
    assert json.loads(response.body) == {"message": "Endpoint request timed out"}


# --- WebSocket --------------------------------------------------------------------------------


class TokenRefused(Exception):
    """What an authorizer raises, message "Unauthorized", to make API Gateway answer 401."""


def _allow(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    presented = (event.get("queryStringParameters") or {}).get("token")
    if presented == "expired":
        raise TokenRefused("Unauthorized")
    effect = "Allow" if presented == "good" else "Deny"
    return {
        "principalId": "acct-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
            ],
        },
        "context": {"account_id": "acct-1"},
    }


def test_websocket_authorizer_refusals_keep_the_socket_closed() -> None:
    async def scenario(url: str, _ws: WebSocketApi) -> None:
        async with aiohttp.ClientSession() as http:
            for presented, status in (("bad", 403), ("expired", 401)):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await http.ws_connect(f"{url}/ws?token={presented}")
                assert refused.value.status == status

    serve({"ws_authorizer": _allow}, scenario)


def test_websocket_routes_by_action_and_management_api_reaches_the_socket() -> None:
    events: list[dict[str, Any]] = []
    endpoint: list[str] = []

    def connections(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        events.append(event)
        return {"statusCode": 200}

    def messages(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        events.append(event)
        # Reply through the Management API, as the real function does
        management = boto3.client(
            "apigatewaymanagementapi", endpoint_url=endpoint[0], region_name="us-east-1"
        )
        connection_id = event["requestContext"]["connectionId"]
        management.post_to_connection(ConnectionId=connection_id, Data=b'{"type":"pong"}')
        return {"statusCode": 200}

    async def scenario(url: str, websocket: WebSocketApi) -> None:
        endpoint.append(f"{url}/local")
        async with aiohttp.ClientSession() as http, http.ws_connect(f"{url}/ws?token=good") as ws:
            await ws.send_str(json.dumps({"action": "ping"}))
            assert json.loads((await ws.receive(timeout=5)).data) == {"type": "pong"}
            await ws.send_str("not json")  # goes to $default
            assert json.loads((await ws.receive(timeout=5)).data) == {"type": "pong"}
            (connection_id,) = websocket.live

            def post_to_gone() -> str:
                management = boto3.client(
                    "apigatewaymanagementapi", endpoint_url=endpoint[0], region_name="us-east-1"
                )
                try:
                    management.post_to_connection(ConnectionId="gone=", Data=b"x")
                except ClientError as exc:
                    return str(exc.response["Error"]["Code"])
                return "delivered"

            assert await asyncio.to_thread(post_to_gone) == "GoneException"
            async with http.delete(f"{url}/@connections/{connection_id}") as deleted:
                assert deleted.status == 204
            assert (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.CLOSE
        # The close handshake may take a while: when the client's close reply reaches the route's
        # receive loop rather than the server's close(), aiohttp's close waits out its 10 s timeout.
        for _ in range(600):
            if events[-1]["requestContext"]["routeKey"] == "$disconnect":
                break
            await asyncio.sleep(0.05)

    serve(
        {"ws_authorizer": _allow, "ws_connections": connections, "ws_messages": messages},
        scenario,
    )
    routes = [(e["requestContext"]["routeKey"], e["requestContext"]["eventType"]) for e in events]
    assert routes == [
        ("$connect", "CONNECT"),
        ("ping", "MESSAGE"),
        ("$default", "MESSAGE"),
        ("$disconnect", "DISCONNECT"),
    ]
    connect = events[0]
    assert connect["queryStringParameters"] == {"token": "good"}
    assert connect["requestContext"]["authorizer"] == {
        "principalId": "acct-1", "account_id": "acct-1"
    }  # fmt: skip
    assert events[1]["body"] == '{"action": "ping"}'
    assert len({e["requestContext"]["connectionId"] for e in events}) == 1


def test_catalog_routes_are_all_reachable() -> None:
    # Every REST route in the catalog maps to its function (none shadowed by another).
    from local.gateway.routes import RestRoutes  # noqa: PLC0415

    table = RestRoutes.from_catalog()
    for spec in FUNCTIONS.values():
        for route in spec.routes:
            path = route.path.replace("{order_id}", "o1").replace("{symbol}", "BTC-USD")
            match = table.match(route.method, path)
            assert match is not None
            assert (match.function, match.resource) == (spec.name, route.path)


def test_a_missing_identity_source_is_401_without_calling_the_authorizer() -> None:
    # "Control access to WebSocket APIs with AWS Lambda REQUEST authorizers" (API Gateway):
    # identity sources must all be present and non-empty, else 401 and no authorizer call.
    calls: list[dict[str, Any]] = []

    def authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(event)
        return _allow(event, context)

    async def main(identity_sources: tuple[str, ...]) -> int:
        host = FunctionHost(handlers={"ws_authorizer": authorizer})
        routes = WsRoutes({}, None, None, "ws_authorizer", identity_sources)
        websocket = WebSocketApi(host, routes)
        server = TestServer(build_app(host, Verifier(), websocket))
        await server.start_server()
        try:
            url = str(server.make_url("/ws"))
            async with aiohttp.ClientSession() as http:
                try:
                    socket = await http.ws_connect(url)
                except aiohttp.WSServerHandshakeError as refused:
                    return refused.status
                await socket.close()
                return 101
        finally:
            await websocket.close_all()
            await server.close()
            host.close()

    assert asyncio.run(main(("route.request.querystring.token",))) == 401
    assert calls == []
    # Without identity sources (as deployed), the authorizer decides: here it denies (403).
    assert asyncio.run(main(())) == 403
    assert len(calls) == 1


def test_the_local_mailbox_lists_what_ses_sent_to_one_address() -> None:
    sent = [
        {"to": ["alice@example.com"], "subject": "Deposit credited: 5 USD"},
        {"to": ["bob@example.com"], "subject": "Order filled"},
    ]

    def emails(to: str | None) -> list[dict[str, Any]]:
        return [e for e in sent if to is None or to in e["to"]]

    async def main() -> None:
        host = FunctionHost(handlers={})
        websocket = WebSocketApi(host)
        server = TestServer(build_app(host, Verifier(), websocket, emails=emails))
        bare = TestServer(build_app(host, Verifier(), websocket))
        await server.start_server()
        await bare.start_server()
        try:
            async with aiohttp.ClientSession() as http:
                url = server.make_url("/_local/mailbox/emails")
                async with http.get(url, params={"to": "alice@example.com"}) as answer:
                    assert answer.status == 200
                    assert await answer.json() == {"emails": [sent[0]]}
                async with http.get(url) as answer:
                    assert (await answer.json())["emails"] == sent
                # A gateway without a mailbox says so, and never routes it to a Lambda
                async with http.get(bare.make_url("/_local/mailbox/emails")) as answer:
                    assert answer.status == 404
        finally:
            await server.close()
            await bare.close()
            host.close()

    asyncio.run(main())
