"""The local twin of the REST API's Lambda REQUEST authorizer, against stand-in authorizers.

What each test pins, from the API Gateway developer guide and the AWS Knowledge Center:

- "Use API Gateway Lambda authorizers" and "Why am I getting API Gateway 401 Unauthorized errors
  after creating a Lambda authorizer?": a request missing an identity source is 401 and the
  authorizer is not called; an authorizer raising "Unauthorized" is 401.
- "Input to an API Gateway Lambda authorizer" (REQUEST input format): type, methodArn
  (``arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<verb>/<resource path>``),
  resource, path, httpMethod, headers, query strings, path parameters, stage variables, request
  context; no body.
- "Output from an API Gateway Lambda authorizer": principalId and policyDocument required; context
  values are strings, numbers or booleans, never objects or arrays; the integration reads them
  (and principalId) in ``requestContext.authorizer``; "the Resource ARN, as shown in the policy
  statement output by the authorizer, is currently limited to 512 characters long"
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/
  api-gateway-lambda-authorizer-output.html; what API Gateway answers past it is not said, the
  twin refuses it as malformed: 500). The page documents no other size limit on the answer.
- The twin does not evaluate a statement's ``Condition`` (or ``Principal``, ``NotAction``,
  ``NotResource``): an answer with one is refused as malformed (500), never read as the
  unconditional policy it would become without it.
- "How do I troubleshoot HTTP 403 errors from API Gateway Lambda authorizers?": an explicit Deny
  is 403 "User is not authorized to access this resource with an explicit deny", a policy that
  does not match the method 403 "User is not authorized to access this resource".
- "Why does my API Gateway proxy resource with a Lambda authorizer that has caching activated
  return HTTP 403 errors?": a cached policy is applied to later requests with the same identity
  source within the TTL, so a policy for one method ARN refuses the others; a ``*/*`` policy
  allows them.
- "Gateway response types for API Gateway": UNAUTHORIZED and ACCESS_DENIED take the API's
  customized gateway response (problem+json here, as the CDK app deploys them); a failing or
  malformed authorizer is 500 (``AuthorizerConfigurationException``).
"""

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from local.functions import FunctionHost
from local.gateway.app import RestApi
from local.gateway.events import HttpRequest, HttpResponse
from local.gateway.lambda_authorizer import RequestAuthorizers
from local.gateway.policy import MAX_RESOURCE_ARN_CHARS
from local.gateway.responses import GatewayResponses
from local.gateway.routes import RestRoutes
from local.template_api import gateway_responses

STAGE_ARN = "arn:aws:execute-api:us-east-1:000000000000:local/local"
GET_ORDERS = f"{STAGE_ARN}/GET/v1/orders"
# The REST API's problem+json gateway responses, as the CDK app deploys them.
PROBLEM = {
    "gatewayresponse.header.Content-Type": "'application/problem+json'",
    "gatewayresponse.header.X-Content-Type-Options": "'nosniff'",
}
TEMPLATE_RESPONSES = {
    f"Problem{status}": {
        "Type": "AWS::ApiGateway::GatewayResponse",
        "Properties": {
            "ResponseType": kind,
            "StatusCode": str(status),
            "ResponseParameters": PROBLEM,
            "ResponseTemplates": {
                "application/json": json.dumps(
                    {
                        "type": "about:blank",
                        "title": title,
                        "status": status,
                        "detail": "$context.error.validationErrorString",
                    }
                )
            },
        },
    }
    for kind, status, title in (
        ("UNAUTHORIZED", 401, "Unauthorized"),
        ("ACCESS_DENIED", 403, "Forbidden"),
    )
}


def policy(effect: str, *resources: str, context: Any = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "principalId": "acct-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": list(resources)}
            ],
        },
    }
    if context is not None:
        answer["context"] = context
    return answer


def with_statement_key(key: str, value: Any) -> dict[str, Any]:
    """An Allow for GET /v1/orders whose statement also holds ``key``."""
    answer = policy("Allow", GET_ORDERS)
    answer["policyDocument"]["Statement"][0][key] = value
    return answer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Gateway:
    """The REST API twin with a stand-in authorizer and an orders function that echoes."""

    def __init__(self, authorizer: Callable[[dict[str, Any]], Any]) -> None:
        self.authorizer_events: list[dict[str, Any]] = []
        self.integration_events: list[dict[str, Any]] = []
        self.clock = Clock()

        def rest_authorizer(event: dict[str, Any], _context: Any) -> Any:
            self.authorizer_events.append(event)
            return authorizer(event)

        def orders(event: dict[str, Any], _context: Any) -> dict[str, Any]:
            self.integration_events.append(event)
            return {"statusCode": 200, "body": "{}"}

        self.host = FunctionHost(handlers={"rest_authorizer": rest_authorizer, "orders": orders})
        responses = GatewayResponses(gateway_responses(TEMPLATE_RESPONSES))
        self.api = RestApi(self.host, None, RestRoutes.from_catalog(), responses=responses)
        self.api.authorizers = RequestAuthorizers(self.host, clock=self.clock)

    def call(
        self,
        method: str,
        path: str,
        *,
        authorization: str | None = "EXCHANGE-HMAC-SHA256 Credential=ak_1",
        query: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
    ) -> HttpResponse:
        headers = (("Authorization", authorization),) if authorization is not None else ()
        request = HttpRequest(
            method, path, (("Host", "localhost"), *headers), query, body, "10.0.0.7"
        )
        return asyncio.run(self.api.dispatch(request))

    def close(self) -> None:
        self.host.close()


@pytest.fixture
def gateway_for() -> Any:
    made: list[Gateway] = []

    def make(authorizer: Callable[[dict[str, Any]], Any]) -> Gateway:
        made.append(Gateway(authorizer))
        return made[-1]

    yield make
    for gateway in made:
        gateway.close()


def problem(response: HttpResponse) -> dict[str, Any]:
    assert dict(response.headers)["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = json.loads(response.body)
    return body


def test_a_request_without_the_identity_source_is_401_and_the_authorizer_never_runs(
    gateway_for: Any,
) -> None:
    # Given an authorizer that would allow anything
    gateway = gateway_for(lambda event: policy("Allow", "*"))
    # When a request comes without the Authorization header, or with an empty one
    missing = gateway.call("GET", "/v1/orders", authorization=None)
    empty = gateway.call("GET", "/v1/orders", authorization="")
    # Then both are 401 in the deployed problem+json shape, and nothing ran
    assert (missing.status, empty.status) == (401, 401)
    assert problem(missing)["title"] == "Unauthorized"
    assert gateway.authorizer_events == []
    assert gateway.integration_events == []


def test_an_authorizer_raising_unauthorized_is_401(gateway_for: Any) -> None:
    def refuse(_event: dict[str, Any]) -> Any:
        raise Exception("Unauthorized")

    gateway = gateway_for(refuse)
    response = gateway.call("GET", "/v1/orders")
    assert response.status == 401
    assert problem(response)["status"] == 401
    assert len(gateway.authorizer_events) == 1
    assert gateway.integration_events == []


def test_the_authorizer_gets_the_request_event_without_the_body(gateway_for: Any) -> None:
    gateway = gateway_for(lambda event: policy("Allow", event["methodArn"]))
    response = gateway.call(
        "DELETE", "/v1/orders/o-1", query=(("x", "1"), ("x", "2")), body=b'{"secret": 1}'
    )
    assert response.status == 200
    (event,) = gateway.authorizer_events
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == f"{STAGE_ARN}/DELETE/v1/orders/o-1"
    assert (event["resource"], event["path"], event["httpMethod"]) == (
        "/v1/orders/{order_id}",
        "/v1/orders/o-1",
        "DELETE",
    )
    assert event["headers"]["Authorization"] == "EXCHANGE-HMAC-SHA256 Credential=ak_1"
    assert event["multiValueHeaders"]["Authorization"] == ["EXCHANGE-HMAC-SHA256 Credential=ak_1"]
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["pathParameters"] == {"order_id": "o-1"}
    assert "stageVariables" in event
    assert event["requestContext"]["identity"]["sourceIp"] == "10.0.0.7"
    assert event["requestContext"]["resourcePath"] == "/v1/orders/{order_id}"
    assert "body" not in event
    assert "isBase64Encoded" not in event
    # The integration's event is the same request (same id), with its body
    (integration,) = gateway.integration_events
    assert integration["requestContext"]["requestId"] == event["requestContext"]["requestId"]
    assert integration["body"] == '{"secret": 1}'


def test_an_explicit_deny_is_403_even_beside_an_allow(gateway_for: Any) -> None:
    def deny(event: dict[str, Any]) -> dict[str, Any]:
        answer = policy("Allow", f"{STAGE_ARN}/*/*")
        answer["policyDocument"]["Statement"].append(
            {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": event["methodArn"]}
        )
        return answer

    gateway = gateway_for(deny)
    response = gateway.call("GET", "/v1/orders")
    assert response.status == 403
    assert problem(response)["title"] == "Forbidden"
    assert gateway.integration_events == []


def test_a_policy_for_another_stage_or_method_is_an_implicit_403(gateway_for: Any) -> None:
    gateway = gateway_for(lambda _event: policy("Allow", f"{STAGE_ARN[:-5]}prod/*/*"))
    assert gateway.call("GET", "/v1/orders").status == 403
    assert gateway.integration_events == []


def test_a_cached_answer_for_one_method_arn_refuses_another_method(gateway_for: Any) -> None:
    # Given an authorizer that allows exactly the method ARN it was asked about (an API key)
    gateway = gateway_for(lambda event: policy("Allow", event["methodArn"]))
    # When one Authorization header calls GET /v1/orders, then POST /v1/orders within the TTL
    first = gateway.call("GET", "/v1/orders")
    second = gateway.call("POST", "/v1/orders")
    # Then the second gets the cached policy, which does not allow it: 403, one authorizer call
    assert (first.status, second.status) == (200, 403)
    assert len(gateway.authorizer_events) == 1
    # And after the TTL (300 s, as deployed) the authorizer is asked again
    gateway.clock.now += 301
    assert gateway.call("POST", "/v1/orders").status == 200
    assert len(gateway.authorizer_events) == 2


def test_a_cached_stage_wide_policy_allows_other_methods_without_a_call(gateway_for: Any) -> None:
    # Given an authorizer answering a token with Allow on <stage>/*/* (as for access tokens)
    gateway = gateway_for(lambda _event: policy("Allow", f"{STAGE_ARN}/*/*"))
    # When one token calls three methods
    statuses = [
        gateway.call("GET", "/v1/orders", authorization="Bearer t").status,
        gateway.call("DELETE", "/v1/orders/o-1", authorization="Bearer t").status,
        gateway.call("GET", "/v1/fills", authorization="Bearer t").status,
    ]
    # Then all pass on one authorizer answer; another token is asked about
    assert statuses == [200, 200, 200]
    assert len(gateway.authorizer_events) == 1
    assert gateway.call("GET", "/v1/fills", authorization="Bearer u").status == 200
    assert len(gateway.authorizer_events) == 2


def test_wildcards_match_within_the_method_arn(gateway_for: Any) -> None:
    gateway = gateway_for(lambda _event: policy("Allow", f"{STAGE_ARN}/GET/v1/order?/*"))
    assert gateway.call("GET", "/v1/orders/o-1").status == 200
    assert gateway.call("GET", "/v1/fills").status == 403


def test_the_context_and_principal_reach_the_integration(gateway_for: Any) -> None:
    context = {"account_id": "acct-1", "scopes": "read trade", "rate_limit": 20, "ok": True}
    gateway = gateway_for(lambda event: policy("Allow", event["methodArn"], context=context))
    assert gateway.call("GET", "/v1/orders").status == 200
    (event,) = gateway.integration_events
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "acct-1"
    assert authorizer["account_id"] == "acct-1"
    assert authorizer["scopes"] == "read trade"
    assert (authorizer["rate_limit"], authorizer["ok"]) == ("20", "true")
    assert "claims" not in authorizer


@pytest.mark.parametrize(
    "answer",
    [
        policy("Allow", GET_ORDERS, context={"scopes": ["read"]}),  # an array in the context
        policy("Allow", GET_ORDERS, context={"nested": {"a": "b"}}),  # an object
        {"principalId": "acct-1"},  # no policy document
        policy("Maybe", GET_ORDERS),  # not an effect
        "Allow",  # not an object
        # An Allow on a condition this request fails (it comes from 10.0.0.7): dropping the
        # condition would let it through, so it is refused as the twin cannot evaluate it.
        with_statement_key("Condition", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
        with_statement_key("Principal", {"AWS": "arn:aws:iam::111122223333:root"}),
        with_statement_key("NotResource", f"{STAGE_ARN}/POST/*"),
        # A Resource ARN of 513 characters that would match the request (the trailing stars)
        policy("Allow", GET_ORDERS + "*" * (MAX_RESOURCE_ARN_CHARS + 1 - len(GET_ORDERS))),
    ],
)
def test_a_malformed_answer_is_500(gateway_for: Any, answer: Any) -> None:
    gateway = gateway_for(lambda _event: answer)
    response = gateway.call("GET", "/v1/orders")
    assert response.status == 500
    assert dict(response.headers)["x-amzn-ErrorType"] == "AuthorizerConfigurationException"
    assert gateway.integration_events == []


def test_a_resource_arn_of_512_characters_is_within_the_limit(gateway_for: Any) -> None:
    resource = GET_ORDERS + "*" * (MAX_RESOURCE_ARN_CHARS - len(GET_ORDERS))
    gateway = gateway_for(lambda _event: policy("Allow", resource))
    assert len(resource) == MAX_RESOURCE_ARN_CHARS
    assert gateway.call("GET", "/v1/orders").status == 200


def test_an_authorizer_failing_otherwise_is_500_and_not_cached(gateway_for: Any) -> None:
    def broken(_event: dict[str, Any]) -> Any:
        raise RuntimeError("table missing")

    gateway = gateway_for(broken)
    assert gateway.call("GET", "/v1/orders").status == 500
    assert gateway.call("GET", "/v1/orders").status == 500
    assert len(gateway.authorizer_events) == 2


def test_public_and_cognito_methods_do_not_run_the_lambda_authorizer(gateway_for: Any) -> None:
    gateway = gateway_for(lambda _event: policy("Allow", "*"))
    # /v1/api-keys takes the Cognito access token only: no verifier here, so 401 without a call
    assert gateway.call("GET", "/v1/api-keys", authorization="Bearer t").status == 401
    assert gateway.authorizer_events == []
