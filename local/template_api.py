"""The APIs the template deploys, read: REST methods with their authorizers, the MOCK methods (the
CORS preflights), the gateway's own responses, and the WebSocket API's routes and ``$connect``
authorizer (``local.template``).

CloudFormation's shapes ("AWS::ApiGateway::Authorizer", "AWS::ApiGateway::GatewayResponse",
"AWS::ApiGateway::Method Integration", AWS CloudFormation User Guide): an authorizer's
``IdentitySource`` is one string, its sources comma-separated; ``AuthorizerResultTtlInSeconds`` is
300 when not set, 0 turns caching off; a gateway response's headers are
``gatewayresponse.header.<name>`` with quoted literal values, an integration response's
``method.response.header.<name>``. A MOCK integration answers with its integration response
(``IntegrationResponses``) whose ``SelectionPattern`` is empty, the default one: its status, its
header mappings, its body template. Local mode serves the ones it can answer exactly (literal
headers, no selection among several, no template to run) and refuses any other MOCK method.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from local.cfn import Resources, TemplateError, of_type, referenced_function

DEFAULT_AUTHORIZER_TTL_S: Final = 300
_HEADER_PARAMETER: Final = "gatewayresponse.header."
_METHOD_HEADER: Final = "method.response.header."


@dataclass(frozen=True, slots=True)
class DeployedAuthorizer:
    """A REST API authorizer (AWS::ApiGateway::Authorizer)."""

    kind: str  # REQUEST | TOKEN | COGNITO_USER_POOLS
    function: str | None  # a Lambda authorizer's catalog function
    identity_sources: tuple[str, ...]  # e.g. ("method.request.header.Authorization",)
    ttl_seconds: int = DEFAULT_AUTHORIZER_TTL_S


@dataclass(frozen=True, slots=True)
class DeployedMethod:
    method: str
    path: str  # e.g. /v1/orders/{order_id}
    function: str
    authorization_type: str  # NONE | COGNITO_USER_POOLS | CUSTOM | AWS_IAM
    scopes: tuple[str, ...]
    authorizer: DeployedAuthorizer | None = None


@dataclass(frozen=True, slots=True)
class DeployedMock:
    """A method whose integration is MOCK (the CORS preflights): API Gateway answers it itself."""

    method: str
    path: str
    authorization_type: str  # NONE | ...: local mode serves only NONE (``RestRoutes``)
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeployedGatewayResponse:
    """A customized gateway response (AWS::ApiGateway::GatewayResponse)."""

    response_type: str  # e.g. UNAUTHORIZED, ACCESS_DENIED, DEFAULT_4XX
    status: int | None  # None: the type's default status
    headers: Mapping[str, str] = field(default_factory=dict)
    templates: Mapping[str, str] = field(default_factory=dict)  # content type -> template


@dataclass(frozen=True, slots=True)
class DeployedWebSocket:
    routes: Mapping[str, str]  # route key -> function
    authorizer: str | None  # the $connect authorizer's function
    identity_sources: tuple[str, ...]  # empty: the authorizer runs for every $connect


def _resource_path(resources: Resources, resource_id: object) -> str:
    """``/v1/orders/{order_id}`` from a chain of AWS::ApiGateway::Resource parents."""
    parts: list[str] = []
    while isinstance(resource_id, dict) and "Ref" in resource_id:
        props = resources[resource_id["Ref"]]["Properties"]
        parts.append(props["PathPart"])
        resource_id = props["ParentId"]
    return "/" + "/".join(reversed(parts))


def identity_sources(value: object) -> tuple[str, ...]:
    """A REST authorizer's ``IdentitySource``: comma-separated mapping expressions."""
    if value is None:
        return ()
    if not isinstance(value, str):
        raise TemplateError(f"an authorizer's IdentitySource is {value!r}, not a string")
    return tuple(part.strip() for part in value.split(",") if part.strip())


def rest_authorizer(props: Mapping[str, Any], by_logical: Mapping[str, str]) -> DeployedAuthorizer:
    kind = str(props.get("Type", ""))
    function = referenced_function(props.get("AuthorizerUri"), by_logical)
    if kind in ("REQUEST", "TOKEN") and function is None:
        raise TemplateError(f"a {kind} authorizer whose function is not in the catalog")
    ttl = props.get("AuthorizerResultTtlInSeconds", DEFAULT_AUTHORIZER_TTL_S)
    if not isinstance(ttl, int):
        raise TemplateError(f"AuthorizerResultTtlInSeconds is {ttl!r}; local mode needs a number")
    return DeployedAuthorizer(kind, function, identity_sources(props.get("IdentitySource")), ttl)


def methods(resources: Resources, by_logical: Mapping[str, str]) -> Iterator[DeployedMethod]:
    for _logical, props in of_type(resources, "AWS::ApiGateway::Method"):
        if props.get("HttpMethod") == "OPTIONS":
            continue
        function = referenced_function(props.get("Integration", {}).get("Uri"), by_logical)
        if function is None:
            continue
        authorizer = None
        authorizer_ref = props.get("AuthorizerId")
        if isinstance(authorizer_ref, dict) and "Ref" in authorizer_ref:
            authorizer_props = resources[authorizer_ref["Ref"]].get("Properties") or {}
            authorizer = rest_authorizer(authorizer_props, by_logical)
        yield DeployedMethod(
            method=props["HttpMethod"],
            path=_resource_path(resources, props.get("ResourceId")),
            function=function,
            authorization_type=props.get("AuthorizationType", "NONE"),
            scopes=tuple(props.get("AuthorizationScopes", ())),
            authorizer=authorizer,
        )


def mocks(resources: Resources) -> Iterator[DeployedMock]:
    for _logical, props in of_type(resources, "AWS::ApiGateway::Method"):
        integration = props.get("Integration") or {}
        if integration.get("Type") != "MOCK":
            continue
        where = f"{props['HttpMethod']} {_resource_path(resources, props.get('ResourceId'))}"
        answers: list[dict[str, Any]] = list(integration.get("IntegrationResponses") or ())
        if len(answers) != 1 or answers[0].get("SelectionPattern"):
            raise TemplateError(f"{where}: a MOCK with other than one default integration response")
        (answer,) = answers
        if any(str(body).strip() for body in (answer.get("ResponseTemplates") or {}).values()):
            raise TemplateError(f"{where}: a MOCK response template local mode does not run")
        parameters = answer.get("ResponseParameters") or {}
        if any(not name.startswith(_METHOD_HEADER) for name in parameters):
            raise TemplateError(f"{where}: a MOCK response parameter that is not a header")
        yield DeployedMock(
            method=props["HttpMethod"],
            path=_resource_path(resources, props.get("ResourceId")),
            authorization_type=props.get("AuthorizationType", "NONE"),
            status=int(answer["StatusCode"]),
            headers={
                name.removeprefix(_METHOD_HEADER): _quoted(value)
                for name, value in parameters.items()
            },
        )


def gateway_responses(resources: Resources) -> dict[str, DeployedGatewayResponse]:
    """Response type -> the REST API's customized gateway response."""
    found: dict[str, DeployedGatewayResponse] = {}
    for _logical, props in of_type(resources, "AWS::ApiGateway::GatewayResponse"):
        headers = {
            name.removeprefix(_HEADER_PARAMETER): _quoted(value)
            for name, value in (props.get("ResponseParameters") or {}).items()
            if name.startswith(_HEADER_PARAMETER)
        }
        status = props.get("StatusCode")
        response_type = str(props["ResponseType"])
        found[response_type] = DeployedGatewayResponse(
            response_type=response_type,
            status=int(status) if status is not None else None,
            headers=headers,
            templates=dict(props.get("ResponseTemplates") or {}),
        )
    return found


def _quoted(value: object) -> str:
    """A gateway or MOCK response header's literal value, ``'...'`` in the template."""
    if not isinstance(value, str) or len(value) < 2 or value[0] != "'" or value[-1] != "'":
        raise TemplateError(f"a response header {value!r} that is not a quoted literal")
    return value[1:-1]


def websocket(resources: Resources, by_logical: Mapping[str, str]) -> DeployedWebSocket:
    integrations = {
        logical: referenced_function(props.get("IntegrationUri"), by_logical)
        for logical, props in of_type(resources, "AWS::ApiGatewayV2::Integration")
    }
    routes: dict[str, str] = {}
    authorizer: str | None = None
    sources: tuple[str, ...] = ()
    for _logical, props in of_type(resources, "AWS::ApiGatewayV2::Route"):
        target = referenced_function(props.get("Target"), {})  # integrations are not functions
        integration = _integration_of(props.get("Target"))
        function = integrations.get(integration or "") or target
        if function is None:
            continue
        routes[props["RouteKey"]] = function
        authorizer_ref = props.get("AuthorizerId")
        if isinstance(authorizer_ref, dict) and "Ref" in authorizer_ref:
            auth = resources[authorizer_ref["Ref"]]["Properties"]
            authorizer = referenced_function(auth.get("AuthorizerUri"), by_logical)
            sources = tuple(auth.get("IdentitySource") or ())
    return DeployedWebSocket(routes, authorizer, sources)


def _integration_of(target: object) -> str | None:
    """``integrations/<Ref Integration>`` -> the integration's logical id."""
    match target:
        case {"Fn::Join": [_, list(parts)]}:
            for part in parts:
                if isinstance(part, dict) and "Ref" in part:
                    return str(part["Ref"])
    return None
