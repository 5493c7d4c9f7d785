"""The REST twin sees a request's path as API Gateway does: as sent, decoded once only where AWS
decodes it, and an authorized method is never served without its authorizer.

What AWS documents, and where it is silent:

- "Input format of a Lambda function for proxy integration" and "Input to an API Gateway Lambda
  authorizer" (API Gateway developer guide) list ``path``, ``pathParameters`` and ``methodArn``
  (``arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<verb>/<resource path>``) but say
  nothing of percent-encoding; neither does "Amazon API Gateway important notes" (its REST
  notes cover the query string only). So this pins what live captures and the well-known
  emulators' issue threads report for REST APIs (payload format 1.0):
  - ``path`` (and ``requestContext.path``) arrive still percent-encoded, as sent:
    aws/aws-sam-cli#771 ("Path parameters are automatically decoded (different from AWS
    behavior)": SAM local decoded ``Desktop%2Fphotos%2Fcat.png`` in ``path``, AWS did not);
    middleapi/standard-server#93, verified against the live API Gateway captures of
    hotsock/voker#8 ("REST, Function URLs and ALB preserve encoding, HTTP API decodes");
  - ``pathParameters`` arrive decoded, once: dherault/serverless-offline#271 (on AWS
    ``/users/user@example.com`` gave ``{"user_id": "user@example.com"}``), #265 (2018: "It seems
    API Gateway auto decodes path parameters now") and #638 (AWS gives the decoded value where
    serverless-offline gave the encoded one).
  The method ARN is built from the same request path as ``path`` ("Input to an API Gateway
  Lambda authorizer"), so it carries the path as sent too.
- "Output from an API Gateway Lambda authorizer": "For an authorization-enabled method ARN ... the
  maximum length is 1600 bytes ... the API client will receive a 414 Request URI too long
  response" (https://docs.aws.amazon.com/apigateway/latest/developerguide/
  api-gateway-lambda-authorizer-output.html).
- An authorized method whose authorizer the twin cannot resolve is refused (500
  ``AuthorizerConfigurationException``, as for a broken authorizer: "Gateway response types for
  API Gateway"), never invoked without an identity.

The API key's signature covers the path below the stage as the client sends it
(``exchange.apikeys.signing``), and the authorizer and the handler read it from ``path``: with
the path as sent, a signed request verifies through the twin, encoded characters included.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import (
    APIGatewayProxyEvent,
)
from yarl import URL

from exchange.apikeys import signing
from exchange.http.identity import caller
from exchange.http.problems import HttpProblem
from local.functions import FunctionHost
from local.gateway.app import MAX_METHOD_ARN_BYTES, RestApi, build_app
from local.gateway.events import HttpRequest, method_arn
from local.gateway.routes import CUSTOM, RestMatch, RestRoutes
from local.gateway.websocket import WebSocketApi
from tests.unit.apikeys.conftest import Keys, now_ms

Handler = Callable[[dict[str, Any], Any], Any]


def allow_stage(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """A stand-in REST authorizer: any Authorization may call any method of the stage."""
    stage_arn = "/".join(event["methodArn"].split("/")[:2])
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{stage_arn}/*/*"}
    return {
        "principalId": "acct-1",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": {"account_id": "acct-1", "auth": "token"},
    }


def serve(handlers: dict[str, Handler], scenario: Callable[[str], Awaitable[None]]) -> None:
    async def main() -> None:
        host = FunctionHost(handlers=handlers)
        websocket = WebSocketApi(host)
        server = TestServer(build_app(host, None, websocket))
        await server.start_server()
        try:
            await scenario(str(server.make_url("")).rstrip("/"))
        finally:
            await websocket.close_all()
            await server.close()
            host.close()

    asyncio.run(main())


def as_sent(url: str) -> URL:
    return URL(url, encoded=True)  # aiohttp sends it byte for byte, as the client package does


def test_path_and_method_arn_are_as_sent_and_path_parameters_decoded_once() -> None:
    authorizer_events: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []

    def authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        authorizer_events.append(event)
        return allow_stage(event, context)

    def orders(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        events.append(event)
        return {"statusCode": 200, "body": "{}"}

    async def scenario(url: str) -> None:
        async with aiohttp.ClientSession() as http:
            # When a client cancels order "a%41" (sent as a%2541) and order "a/b" (sent as a%2Fb)
            for path in ("/v1/orders/a%2541", "/v1/orders/a%2Fb"):
                sent = as_sent(f"{url}{path}?x=%2541")
                response = await http.delete(sent, headers={"Authorization": "Bearer t"})
                assert response.status == 200, await response.text()

    serve({"rest_authorizer": authorizer, "orders": orders}, scenario)
    first, second = events
    # Then path and method ARN keep the encoding; the parameter is decoded once (not "aA")
    assert first["path"] == "/v1/orders/a%2541"
    assert first["requestContext"]["path"] == "/local/v1/orders/a%2541"
    assert first["pathParameters"] == {"order_id": "a%41"}
    assert first["queryStringParameters"] == {"x": "%41"}  # the query, decoded once as before
    assert authorizer_events[0]["path"] == "/v1/orders/a%2541"
    assert authorizer_events[0]["methodArn"].endswith("/local/DELETE/v1/orders/a%2541")
    assert authorizer_events[0]["pathParameters"] == {"order_id": "a%41"}
    # And an encoded slash stays inside its segment: the {order_id} route, with "a/b"
    assert (second["resource"], second["path"]) == ("/v1/orders/{order_id}", "/v1/orders/a%2Fb")
    assert second["pathParameters"] == {"order_id": "a/b"}


def test_a_signed_request_verifies_through_the_twin_encoded_path_included() -> None:
    # Given the real REST authorizer (in-memory keys) and an integration that re-binds the
    # request to its signature as the handlers do (exchange.http.identity)
    keys = Keys()
    keys.clock.now_ms = now_ms()
    created = keys.create(["read", "trade"])
    seen: list[dict[str, Any]] = []

    def orders(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        seen.append(event)
        try:
            who = caller(APIGatewayProxyEvent(event))
        except HttpProblem as exc:
            return {"statusCode": int(exc.status), "body": json.dumps({"detail": str(exc)})}
        return {"statusCode": 200, "body": json.dumps({"account_id": who.account_id})}

    handlers: dict[str, Handler] = {
        "rest_authorizer": lambda event, _context: keys.authorizer.authorize(event),
        "orders": orders,
    }

    async def call(http: aiohttp.ClientSession, url: str, method: str, path: str) -> int:
        header = signing.authorization_header(
            created.key.key_id, created.secret, method, path, {}, b"", timestamp_ms=now_ms()
        )
        sent = as_sent(f"{url}{path}")
        async with http.request(method, sent, headers={"Authorization": header}) as response:
            body = await response.text()
            assert response.status == 200, body
            return response.status

    async def scenario(url: str) -> None:
        async with aiohttp.ClientSession() as http:
            # When the client signs the path it sends: a plain one, and one with %-escapes
            await call(http, url, "DELETE", "/v1/orders/01HXAMPLE")
            await call(http, url, "GET", "/v1/orders/by-client-id/bot%3A1%20x")

    serve(handlers, scenario)
    # Then both pass the authorizer and the handler's binding; the parameter arrives decoded
    assert [event["path"] for event in seen] == [
        "/v1/orders/01HXAMPLE",
        "/v1/orders/by-client-id/bot%3A1%20x",
    ]
    assert seen[1]["pathParameters"] == {"client_order_id": "bot:1 x"}


def test_an_authorization_enabled_method_arn_over_1600_bytes_is_414() -> None:
    calls: list[str] = []

    def authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append("authorizer")
        return allow_stage(event, context)

    def orders(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
        calls.append("orders")
        return {"statusCode": 200, "body": "{}"}

    host = FunctionHost(handlers={"rest_authorizer": authorizer, "orders": orders})
    api = RestApi(host, None)
    fits = "/v1/orders/" + "a" * 100
    prefix = len(method_arn("DELETE", "/v1/orders/").encode())
    too_long = "/v1/orders/" + "a" * (MAX_METHOD_ARN_BYTES - prefix + 1)

    def status(path: str) -> int:
        request = HttpRequest("DELETE", path, (("Authorization", "Bearer t"),), (), b"", "1.2.3.4")
        return asyncio.run(api.dispatch(request)).status

    try:
        assert len(method_arn("DELETE", too_long).encode()) == MAX_METHOD_ARN_BYTES + 1
        assert status(fits) == 200
        assert status(too_long) == 414
    finally:
        host.close()
    assert calls == ["authorizer", "orders"]  # nothing ran for the long one


class _Unresolved(RestRoutes):
    """Routes whose every method is authorized one way or another, but with no authorizer."""

    def __init__(self, authorization: str) -> None:
        super().__init__([])
        self._authorization = authorization

    def match(self, method: str, path: str) -> RestMatch | None:
        return RestMatch("orders", "/v1/orders", {}, self._authorization, (), None)


@pytest.mark.parametrize("authorization", [CUSTOM, "AWS_IAM"])
def test_an_authorized_method_without_a_resolved_authorizer_is_refused(
    authorization: str,
) -> None:
    invoked: list[dict[str, Any]] = []

    def orders(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        invoked.append(event)
        return {"statusCode": 200, "body": "{}"}

    host = FunctionHost(handlers={"orders": orders})
    api = RestApi(host, None, _Unresolved(authorization))
    request = HttpRequest("GET", "/v1/orders", (("Authorization", "Bearer t"),), (), b"", "::1")
    try:
        response = asyncio.run(api.dispatch(request))
    finally:
        host.close()
    assert response.status == 500
    assert dict(response.headers)["x-amzn-ErrorType"] == "AuthorizerConfigurationException"
    assert invoked == []
