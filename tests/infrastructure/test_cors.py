"""CORS on the REST API, for the trading console on its CloudFront origin.

"CORS for REST APIs in API Gateway" (API Gateway developer guide,
https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-cors.html): a non-simple
request (one with ``Authorization``, a JSON ``Content-Type`` or ``Idempotency-Key``) is preceded
by the browser's preflight, which an ``OPTIONS`` method with a MOCK integration answers with
``Access-Control-Allow-Headers``, ``-Methods`` and ``-Origin``; with a Lambda proxy integration
the function itself returns ``Access-Control-Allow-Origin`` on the actual answer
(``exchange.http.cors``). The ``OPTIONS`` method takes no authorizer: the Fetch standard's
CORS-preflight request carries no credentials and none of the request's own headers, so the
REQUEST authorizer, whose identity source is ``Authorization``, would answer it 401 (the CDK's own
preflight methods are NONE for that reason: aws-cdk#22402). And the gateway's own answers (401,
403, 429, 5XX, "Missing Authentication Token") carry ``Access-Control-Allow-Origin`` too, or the
browser hides their status from the page.

The checks are functions returning what is wrong (``preflight_problems``,
``gateway_response_problems``), each shown to report a planted mistake.
"""

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pytest

from exchange.http import cors as lambda_cors
from lambdas.catalog import FUNCTIONS, Trigger
from stacks.constructs.api.rest import (
    AUTHORIZER_IDENTITY_SOURCE,
    CORS_ALLOW_HEADERS,
    CORS_ALLOW_ORIGIN,
    CORS_EXPOSE_HEADERS,
)
from tests.infrastructure.conftest import MAIN_STACKS, REST, Resources, of_type, with_nested
from tests.infrastructure.test_api import resource_paths

ROOT: Final = Path(__file__).resolve().parents[2]
API_JS: Final = ROOT / "client" / "console" / "js" / "api.js"
OPENAPI: Final = ROOT / "docs" / "openapi.json"
METHOD_HEADER: Final = "method.response.header."
GATEWAY_HEADER: Final = "gatewayresponse.header."
# "Gateway response types for API Gateway": the two every other type falls back to, and the
# customized ones a browser meets most (the authorizers' 401/403, the stage throttle's 429).
GATEWAY_TYPES: Final = ("DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED", "ACCESS_DENIED", "THROTTLED")
# The Fetch standard's CORS-safelisted request headers (with a safelisted value): no preflight
# needs to allow them.
SAFELISTED: Final = frozenset({"accept", "accept-language", "content-language"})


def console_headers() -> set[str]:
    """The request headers the console's API client sets (``js/api.js``), lower-cased."""
    source = API_JS.read_text()
    found = set(re.findall(r'headers\["([A-Za-z-]+)"\]\s*=', source))
    found |= set(re.findall(r"headers\.([A-Za-z]+)\s*=", source))
    found |= set(re.findall(r"const headers = \{\s*([A-Za-z-]+):", source))
    return {name.lower() for name in found}


def authorized_header_parameters() -> set[str]:
    """Header parameters of the routes a signed-in user (or an API key) calls (the OpenAPI
    document), and the REST authorizer's identity source; not the webhooks' signatures (servers
    send those, never a page)."""
    public = {
        (route.method.lower(), route.path)
        for spec in FUNCTIONS.values()
        if spec.trigger is Trigger.REST
        for route in spec.routes
        if not route.authorized
    }
    spec = json.loads(OPENAPI.read_text())
    names = {AUTHORIZER_IDENTITY_SOURCE.removeprefix("method.request.header.").lower()}
    for path, operations in spec["paths"].items():
        for verb, operation in operations.items():
            if (verb, path) in public:
                continue
            names |= {
                p["name"].lower() for p in operation.get("parameters", ()) if p["in"] == "header"
            }
    return names


def required_allow_headers() -> set[str]:
    # Content-Type: a JSON body's is not one of the three types a simple request may send.
    return (console_headers() | authorized_header_parameters() | {"content-type"}) - SAFELISTED


def listed(value: str) -> set[str]:
    """A comma-separated header value's items, lower-cased (``'a,b'`` as the template quotes it)."""
    return {item.strip().lower() for item in value.strip("'").split(",") if item.strip()}


def preflight_problems(resources: Resources) -> list[str]:
    """What keeps a browser's preflight from succeeding on some routed resource."""
    paths = resource_paths(resources)
    by_path: dict[str, dict[str, dict[str, Any]]] = {}
    for method in of_type(resources, "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        path = paths.get(props["ResourceId"].get("Ref", ""), "/")
        by_path.setdefault(path, {})[props["HttpMethod"]] = props
    problems: list[str] = []
    for path, verbs in sorted(by_path.items()):
        routed = set(verbs) - {"OPTIONS"}
        if not routed:
            continue
        options = verbs.get("OPTIONS")
        if options is None:
            problems.append(f"{path}: no OPTIONS method")
            continue
        problems += [f"{path}: {p}" for p in _options_problems(options, routed)]
    return problems


def _options_problems(options: dict[str, Any], routed: set[str]) -> list[str]:
    problems = []
    if options.get("AuthorizationType", "NONE") != "NONE" or "AuthorizerId" in options:
        problems.append(f"OPTIONS is authorized ({options.get('AuthorizationType')})")
    if options.get("ApiKeyRequired"):
        problems.append("OPTIONS requires an API key")
    integration = options.get("Integration", {})
    if integration.get("Type") != "MOCK":
        problems.append(f"OPTIONS integration is {integration.get('Type')}, not MOCK")
    defaults = [
        r for r in integration.get("IntegrationResponses", ()) if not r.get("SelectionPattern")
    ]
    if len(defaults) != 1:
        return [*problems, f"{len(defaults)} default integration responses, not 1"]
    mapped = {
        name.removeprefix(METHOD_HEADER): value
        for name, value in defaults[0].get("ResponseParameters", {}).items()
    }
    declared = {
        name.removeprefix(METHOD_HEADER)
        for response in options.get("MethodResponses", ())
        if response.get("StatusCode") == defaults[0].get("StatusCode")
        for name in response.get("ResponseParameters", {})
    }
    if set(mapped) - declared:  # API Gateway refuses a mapping to an undeclared header
        problems.append(f"undeclared method response headers {sorted(set(mapped) - declared)}")
    if mapped.get("Access-Control-Allow-Origin") != f"'{CORS_ALLOW_ORIGIN}'":
        problems.append(f"Allow-Origin is {mapped.get('Access-Control-Allow-Origin')}")
    missing = required_allow_headers() - listed(mapped.get("Access-Control-Allow-Headers", ""))
    if missing:
        problems.append(f"Allow-Headers lacks {sorted(missing)}")
    methods = listed(mapped.get("Access-Control-Allow-Methods", "")) - {"options"}
    if methods != {verb.lower() for verb in routed}:
        problems.append(f"Allow-Methods {sorted(methods)}, the resource has {sorted(routed)}")
    if "Access-Control-Allow-Credentials" in mapped:
        problems.append("credentials allowed: the API takes bearer tokens, never cookies")
    return problems


def gateway_response_problems(resources: Resources) -> list[str]:
    """A gateway response a browser would hide from the page: no Allow-Origin, or Retry-After
    unreadable."""
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"].get("ResponseParameters", {})
        for r in of_type(resources, "AWS::ApiGateway::GatewayResponse").values()
    }
    problems = [f"no {kind} gateway response" for kind in GATEWAY_TYPES if kind not in responses]
    for kind, parameters in sorted(responses.items()):
        headers = {name.removeprefix(GATEWAY_HEADER): v for name, v in parameters.items()}
        if headers.get("Access-Control-Allow-Origin") != f"'{CORS_ALLOW_ORIGIN}'":
            problems.append(f"{kind}: Allow-Origin is {headers.get('Access-Control-Allow-Origin')}")
        exposed = listed(headers.get("Access-Control-Expose-Headers", ""))
        if "Retry-After" in headers and "retry-after" not in exposed:
            problems.append(f"{kind}: Retry-After is not exposed")
    return problems


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_every_routed_resource_answers_the_preflight_from_a_mock_without_authorizer(
    resources: dict[str, Resources], stack: str
) -> None:
    api = with_nested(resources, stack)
    assert preflight_problems(api) == []
    # Only the nested REST stack has methods (one OPTIONS per routed resource, 40-odd: far from
    # CloudFormation's 500 resources per stack, test_app)
    assert of_type(resources[REST[stack]], "AWS::ApiGateway::Method")
    assert not of_type(resources[stack], "AWS::ApiGateway::Method")


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_every_gateway_response_lets_the_page_read_it(
    resources: dict[str, Resources], stack: str
) -> None:
    assert gateway_response_problems(with_nested(resources, stack)) == []


def test_the_console_and_the_api_need_the_headers_the_preflight_allows() -> None:
    # The derivation itself: what the page sends and what the routes read.
    assert {"authorization", "content-type", "idempotency-key"} <= required_allow_headers()
    assert "exchange-signature" not in required_allow_headers()  # the webhooks' (servers')
    assert required_allow_headers() <= {h.lower() for h in CORS_ALLOW_HEADERS}


def test_the_functions_answer_with_the_origin_and_headers_the_gateway_does() -> None:
    # exchange.http.cors (the functions) and stacks.constructs.api.rest (the preflight and the
    # gateway responses) may not import each other: compared here.
    assert lambda_cors.ALLOW_ORIGIN == CORS_ALLOW_ORIGIN
    assert set(lambda_cors.ALLOW_HEADERS) == set(CORS_ALLOW_HEADERS)
    assert set(lambda_cors.EXPOSE_HEADERS) == set(CORS_EXPOSE_HEADERS)
    assert "Retry-After" in CORS_EXPOSE_HEADERS


# --- each check reports a planted mistake -------------------------------------------------------


def _options_of(api: Resources, path: str) -> dict[str, Any]:
    paths = resource_paths(api)
    props: dict[str, Any]
    (props,) = [
        r["Properties"]
        for r in of_type(api, "AWS::ApiGateway::Method").values()
        if r["Properties"]["HttpMethod"] == "OPTIONS"
        and paths.get(r["Properties"]["ResourceId"].get("Ref", "")) == path
    ]
    return props


def _mapped(options: dict[str, Any]) -> dict[str, str]:
    parameters: dict[str, str] = options["Integration"]["IntegrationResponses"][0][
        "ResponseParameters"
    ]
    return parameters


Plant = Callable[[Resources, dict[str, Any]], object]  # (the API, its OPTIONS /v1/orders)
PLANTS: Final[dict[str, Plant]] = {
    "no OPTIONS method": lambda api, o: [
        api.pop(k)
        for k, r in list(of_type(api, "AWS::ApiGateway::Method").items())
        if r["Properties"] is o
    ],
    "OPTIONS is authorized": lambda api, o: o.update(AuthorizationType="CUSTOM"),
    "not MOCK": lambda api, o: o["Integration"].update(Type="AWS_PROXY"),
    "Allow-Origin is": lambda api, o: _mapped(o).update(
        {f"{METHOD_HEADER}Access-Control-Allow-Origin": "'https://evil.example'"}
    ),
    "Allow-Headers lacks ['idempotency-key']": lambda api, o: _mapped(o).update(
        {f"{METHOD_HEADER}Access-Control-Allow-Headers": "'Authorization,Content-Type'"}
    ),
    "Allow-Methods": lambda api, o: _mapped(o).update(
        {f"{METHOD_HEADER}Access-Control-Allow-Methods": "'GET'"}
    ),
    "undeclared method response headers": lambda api, o: _mapped(o).update(
        {f"{METHOD_HEADER}Vary": "'Origin'"}
    ),
    "credentials allowed": lambda api, o: _mapped(o).update(
        {f"{METHOD_HEADER}Access-Control-Allow-Credentials": "'true'"}
    ),
}


@pytest.mark.parametrize("reported", PLANTS)
def test_the_preflight_check_reports_each_planted_mistake(
    resources: dict[str, Resources], reported: str
) -> None:
    api = copy.deepcopy(with_nested(resources, MAIN_STACKS[0]))
    PLANTS[reported](api, _options_of(api, "/v1/orders"))
    problems = preflight_problems(api)
    assert [p for p in problems if p.startswith("/v1/orders:") and reported in p], problems


@pytest.mark.parametrize(
    ("kind", "header", "value", "reported"),
    [
        ("UNAUTHORIZED", "Access-Control-Allow-Origin", None, "UNAUTHORIZED: Allow-Origin"),
        ("DEFAULT_5XX", "Access-Control-Allow-Origin", "'https://x.example'", "DEFAULT_5XX"),
        ("THROTTLED", "Access-Control-Expose-Headers", None, "Retry-After is not exposed"),
        ("DEFAULT_4XX", None, None, "no DEFAULT_4XX gateway response"),
    ],
)
def test_the_gateway_response_check_reports_each_planted_mistake(
    resources: dict[str, Resources],
    kind: str,
    header: str | None,
    value: str | None,
    reported: str,
) -> None:
    api = copy.deepcopy(with_nested(resources, MAIN_STACKS[0]))
    (logical,) = [
        k
        for k, r in of_type(api, "AWS::ApiGateway::GatewayResponse").items()
        if r["Properties"]["ResponseType"] == kind
    ]
    parameters = api[logical]["Properties"]["ResponseParameters"]
    if header is None:
        del api[logical]
    elif value is None:
        del parameters[f"{GATEWAY_HEADER}{header}"]
    else:
        parameters[f"{GATEWAY_HEADER}{header}"] = value
    assert [p for p in gateway_response_problems(api) if reported in p]
