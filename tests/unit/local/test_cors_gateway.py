"""The local gateway answers CORS as API Gateway does, from the synthesized template.

"CORS for REST APIs in API Gateway" (API Gateway developer guide): the preflight is answered by
the resource's ``OPTIONS`` method, a MOCK integration: API Gateway itself answers with the default
integration response's status and header mappings, and neither an authorizer nor a Lambda runs.
"Gateway response types for API Gateway": the gateway's own refusals carry the headers of the
API's gateway response of that type (else of ``DEFAULT_4XX``/``DEFAULT_5XX``). Locally nothing
is added that the template does not map: a template without the ``OPTIONS`` method gets the 403
"Missing Authentication Token" API Gateway answers, and no CORS header is made up.
"""

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from local.cfn import TemplateError
from local.functions import FunctionHost
from local.gateway.app import RestApi
from local.gateway.events import HttpRequest, HttpResponse
from local.gateway.responses import GatewayResponses
from local.gateway.routes import RestRoutes
from local.template import Deployment
from local.template_api import DeployedMock, mocks

CONSOLE = "https://d1234abcd.cloudfront.net"
HEADER = "method.response.header."
ORIGIN_OF_REQUEST = "method.request.header.Origin"  # echoing the caller's origin: not a literal
PREFLIGHT = (
    ("Origin", CONSOLE),
    ("Access-Control-Request-Method", "POST"),
    ("Access-Control-Request-Headers", "authorization,content-type,idempotency-key"),
)


class Gateway:
    """The REST API twin over ``deployment``; every function records that it ran."""

    def __init__(self, deployment: Deployment, responses: GatewayResponses) -> None:
        self.invoked: list[str] = []

        def recorder(name: str) -> Any:
            def handler(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
                self.invoked.append(name)
                return {"statusCode": 200, "body": "{}"}

            return handler

        names = ("rest_authorizer", "orders")
        self.host = FunctionHost(handlers={name: recorder(name) for name in names})
        routes = RestRoutes.from_deployment(deployment)
        self.api = RestApi(self.host, None, routes, responses=responses)

    def call(self, method: str, path: str, *headers: tuple[str, str]) -> HttpResponse:
        request = HttpRequest(method, path, (("Host", "localhost"), *headers), (), b"", "10.0.0.7")
        return asyncio.run(self.api.dispatch(request))


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return Deployment.load()  # the CDK app's template, synthesized once, cached in .cache/local


@pytest.fixture
def gateway(deployment: Deployment) -> Iterator[Gateway]:
    made = Gateway(deployment, GatewayResponses(deployment.gateway_responses))
    yield made
    made.host.close()


def test_a_preflight_is_answered_from_the_templates_mock_and_nothing_runs(
    gateway: Gateway, deployment: Deployment
) -> None:
    (mock,) = [m for m in deployment.mocks if (m.method, m.path) == ("OPTIONS", "/v1/orders")]
    # When the browser asks, without the token (a preflight never carries it)
    response = gateway.call("OPTIONS", "/v1/orders", *PREFLIGHT)
    # Then the gateway answers exactly what the integration response maps, and no more
    assert response.status == mock.status == 204
    assert dict(response.headers) == dict(mock.headers)
    assert response.body == b""
    headers = dict(response.headers)
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert {"POST", "GET", "DELETE"} <= set(headers["Access-Control-Allow-Methods"].split(","))
    allowed = {h.lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    # And neither the REST authorizer nor the orders function ran
    assert gateway.invoked == []


def test_every_routed_resource_of_the_template_has_its_preflight(deployment: Deployment) -> None:
    preflights = {m.path for m in deployment.mocks if m.method == "OPTIONS"}
    assert {m.path for m in deployment.methods} == preflights
    assert all(m.authorization_type == "NONE" for m in deployment.mocks)


def test_the_gateways_401_lets_the_page_read_it(gateway: Gateway) -> None:
    # A request without its identity source: API Gateway's 401, before the authorizer
    response = gateway.call("GET", "/v1/orders", ("Origin", CONSOLE))
    headers = dict(response.headers)
    assert response.status == 401
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Retry-After" in headers["Access-Control-Expose-Headers"].split(",")
    assert gateway.invoked == []


def test_a_path_the_api_does_not_have_is_the_default_4xx_with_cors(gateway: Gateway) -> None:
    response = gateway.call("OPTIONS", "/v1/no-such-thing", *PREFLIGHT)
    assert response.status == 403  # "Missing Authentication Token", the DEFAULT_4XX's headers
    assert dict(response.headers)["Access-Control-Allow-Origin"] == "*"
    assert gateway.invoked == []


# --- never more than the template says ----------------------------------------------------------

ORDERS_RESOURCE = {
    "V1": {"Type": "AWS::ApiGateway::Resource", "Properties": {"ParentId": {}, "PathPart": "v1"}},
    "Orders": {
        "Type": "AWS::ApiGateway::Resource",
        "Properties": {"ParentId": {"Ref": "V1"}, "PathPart": "orders"},
    },
}


def preflight(**integration_response: Any) -> dict[str, Any]:
    response = {
        "StatusCode": "204",
        "ResponseParameters": {f"{HEADER}Access-Control-Allow-Origin": "'*'"},
        **integration_response,
    }
    return {
        **ORDERS_RESOURCE,
        "Options": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "HttpMethod": "OPTIONS",
                "AuthorizationType": "NONE",
                "ResourceId": {"Ref": "Orders"},
                "Integration": {"Type": "MOCK", "IntegrationResponses": [response]},
            },
        },
    }


def test_a_mock_answers_its_literal_headers_only() -> None:
    (mock,) = mocks(preflight())
    assert mock == DeployedMock(
        "OPTIONS", "/v1/orders", "NONE", 204, {"Access-Control-Allow-Origin": "*"}
    )


@pytest.mark.parametrize(
    ("integration_response", "refused"),
    [
        ({"SelectionPattern": "4\\d{2}"}, "default integration response"),
        ({"ResponseTemplates": {"application/json": "#set($o = 1)"}}, "template"),
        (
            {"ResponseParameters": {f"{HEADER}Access-Control-Allow-Origin": ORIGIN_OF_REQUEST}},
            "quoted literal",
        ),
    ],
)
def test_a_mock_local_mode_cannot_answer_exactly_is_refused(
    integration_response: dict[str, Any], refused: str
) -> None:
    with pytest.raises(TemplateError, match=refused):
        list(mocks(preflight(**integration_response)))


def test_an_authorized_mock_is_never_served_open() -> None:
    (mock,) = mocks(preflight())
    guarded = DeployedMock(mock.method, mock.path, "CUSTOM", mock.status, mock.headers)
    deployment = Deployment(
        functions={},
        methods=(),
        websocket=None,  # type: ignore[arg-type]
        mappings=(),
        mocks=(guarded,),
    )
    with pytest.raises(ValueError, match="no local twin"):
        RestRoutes.from_deployment(deployment)


def test_without_the_templates_preflight_no_cors_is_made_up() -> None:
    bare = Deployment(functions={}, methods=(), websocket=None, mappings=())  # type: ignore[arg-type]
    gateway = Gateway(bare, GatewayResponses())
    try:
        response = gateway.call("OPTIONS", "/v1/orders", *PREFLIGHT)
    finally:
        gateway.host.close()
    assert response.status == 403
    assert not [name for name, _ in response.headers if name.lower().startswith("access-control")]
