"""CORS on the functions' own answers (``exchange.http.cors``): with a Lambda proxy integration API
Gateway passes the function's headers through, so the function must say
``Access-Control-Allow-Origin`` itself ("CORS for REST APIs in API Gateway", API Gateway developer
guide, on Lambda proxy integrations), on a success, on a problem+json refusal of a route, and on
the answers ``serve`` makes before any route runs; and expose the headers a page reads."""

from typing import Any, cast

import pytest
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.domain.errors import UnknownInstrument
from exchange.http.app import rest_app, serve
from exchange.http.cors import ALLOW_HEADERS, EXPOSE_HEADERS
from exchange.http.problems import PROBLEM_CONTENT_TYPE
from exchange.http.routing import new_router
from exchange.testing.lambda_events import LambdaContextStub, rest_proxy_event

CONSOLE = "https://d1234abcd.cloudfront.net"
ALLOW_ORIGIN = "Access-Control-Allow-Origin"


def _router() -> Router:
    router = new_router()

    @router.get("/v1/things")
    def things() -> dict[str, Any]:
        return {"things": []}

    @router.get("/v1/broken")
    def broken() -> dict[str, Any]:
        raise UnknownInstrument("no such symbol")

    return router


APP = rest_app(_router())


def call(
    method: str, path: str, *, origin: str | None = CONSOLE, **kwargs: Any
) -> tuple[int, dict[str, str]]:
    headers = [("Host", "api.example"), *([("Origin", origin)] if origin else [])]
    headers += kwargs.pop("headers", [])
    event = rest_proxy_event(method, path, resource=path, stage="prod", headers=headers, **kwargs)
    response = serve(APP, event, cast(LambdaContext, LambdaContextStub()), max_body_bytes=1024)
    found = {name: ",".join(values) for name, values in response["multiValueHeaders"].items()}
    return response["statusCode"], found


def test_a_success_says_any_origin_may_read_it_and_which_headers() -> None:
    status, headers = call("GET", "/v1/things")
    assert status == 200
    assert headers[ALLOW_ORIGIN] == "*"
    assert set(headers["Access-Control-Expose-Headers"].split(",")) == set(EXPOSE_HEADERS)
    assert "Retry-After" in EXPOSE_HEADERS
    assert "Access-Control-Allow-Credentials" not in headers  # bearer tokens, never cookies


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/v1/broken", 400), ("GET", "/v1/nothing-here", 404), ("POST", "/v1/things", 405)],
)
def test_a_routes_problem_json_refusal_carries_it_too(method: str, path: str, status: int) -> None:
    found, headers = call(method, path)
    assert (found, headers["Content-Type"]) == (status, PROBLEM_CONTENT_TYPE)
    assert headers[ALLOW_ORIGIN] == "*"


def test_a_refusal_made_before_the_resolver_carries_it_too() -> None:
    # serve's own 415 (as admission's 401/403/429): no route ran, the header is still there
    status, headers = call(
        "POST", "/v1/things", body="a=1", headers=[("Content-Type", "text/plain")]
    )
    assert (status, headers["Content-Type"]) == (415, PROBLEM_CONTENT_TYPE)
    assert headers[ALLOW_ORIGIN] == "*"
    assert set(headers["Access-Control-Expose-Headers"].split(",")) == set(EXPOSE_HEADERS)


def test_a_request_without_origin_is_no_browsers_cross_origin_fetch_and_gets_none() -> None:
    for path in ("/v1/things", "/v1/broken"):
        _, headers = call("GET", path, origin=None)
        assert ALLOW_ORIGIN not in headers
    status, headers = call(
        "POST", "/v1/things", origin=None, body="a=1", headers=[("Content-Type", "text/plain")]
    )
    assert status == 415
    assert ALLOW_ORIGIN not in headers


def test_the_allowed_request_headers_are_what_the_console_sends() -> None:
    assert {"Authorization", "Content-Type", "Idempotency-Key"} == set(ALLOW_HEADERS)
    _, headers = call("GET", "/v1/things")
    assert set(ALLOW_HEADERS) <= set(headers["Access-Control-Allow-Headers"].split(","))
