"""Routing tables: which function serves a REST method and path (and how the method is
authorized), and which serves a WebSocket frame (API Gateway's ``$request.body.action`` route
selection). The stack builds them from the synthesized template (``local.template.Deployment``:
``from_deployment``), so local routing and authorization are what API Gateway deploys; tests may
build them from ``lambdas.catalog`` directly.

A path matches the route whose literal segments come first: as in API Gateway, a literal resource
(``/v1/orders/cancel-after``) takes precedence over a path parameter (``/v1/orders/{order_id}``).
A MOCK method of the template (the CORS preflights, ``OPTIONS``) is a route too, whose match
carries the answer API Gateway gives (``mock``) and no function.

>>> table = RestRoutes.from_catalog()
>>> match = table.match("DELETE", "/v1/orders/01HX")
>>> match.function, match.resource, match.path_parameters, match.authorization
('orders', '/v1/orders/{order_id}', {'order_id': '01HX'}, 'CUSTOM')
>>> table.match("GET", "/v1/orders/by-client-id/a%2541").path_parameters  # decoded once
{'client_order_id': 'a%41'}
>>> table.match("GET", "/v1/orders/cancel-after").resource
'/v1/orders/cancel-after'
>>> table.match("GET", "/v1/api-keys").scopes
('aws.cognito.signin.user.admin',)
>>> WsRoutes.from_catalog().select('{"action": "subscribe", "channel": "book.BTC-USD"}')
('subscribe', 'ws_messages')
>>> WsRoutes.from_catalog().select("not json")
('$default', 'ws_messages')
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

from lambdas.catalog import FUNCTIONS, FunctionSpec, Route, Trigger
from local.gateway.lambda_authorizer import check_identity_sources
from local.template import Deployment
from local.template_api import (
    DEFAULT_AUTHORIZER_TTL_S,
    DeployedAuthorizer,
    DeployedMethod,
    DeployedMock,
)

COGNITO: Final = "COGNITO_USER_POOLS"
CUSTOM: Final = "CUSTOM"
NONE: Final = "NONE"
# The catalog does not say how the REST Lambda authorizer is configured; the CDK app deploys it
# so (the template, read by ``from_deployment``, is what the stack serves).
CATALOG_IDENTITY_SOURCES: Final = ("method.request.header.Authorization",)

_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class RestMatch:
    function: str  # "" for a MOCK method
    resource: str
    path_parameters: dict[str, str]
    authorization: str  # NONE | COGNITO_USER_POOLS | CUSTOM
    scopes: tuple[str, ...] = ()
    authorizer: DeployedAuthorizer | None = None  # a CUSTOM method's REQUEST authorizer
    mock: DeployedMock | None = None  # a MOCK method: what API Gateway answers, no function

    @property
    def authorized(self) -> bool:
        return self.authorization != NONE


@dataclass(frozen=True, slots=True)
class _RestRoute:
    method: str
    pattern: re.Pattern[str]
    resource: str
    function: str
    authorization: str
    scopes: tuple[str, ...]
    authorizer: DeployedAuthorizer | None
    mock: DeployedMock | None = None

    @property
    def precedence(self) -> tuple[int, ...]:
        """Literal segments before path parameters, segment by segment."""
        return tuple(int(_PARAM.fullmatch(part) is not None) for part in self.resource.split("/"))


def _pattern(path: str) -> re.Pattern[str]:
    """A path parameter matches one segment, as in API Gateway (no greedy ``{proxy+}`` here)."""
    segments = [
        f"(?P<{found[1]}>[^/]+)" if (found := _PARAM.fullmatch(segment)) else re.escape(segment)
        for segment in path.split("/")
    ]
    return re.compile("^" + "/".join(segments) + "$")


def _catalog_authorization(
    route: Route, rest_authorizer: DeployedAuthorizer | None
) -> tuple[str, DeployedAuthorizer | None]:
    match route.authorizer:
        case "none":
            return NONE, None
        case "cognito":
            return COGNITO, None
    if rest_authorizer is None:
        raise ValueError(f"{route.method} {route.path}: no REST authorizer in the catalog")
    return CUSTOM, rest_authorizer


def _deployed_authorizer(method: DeployedMethod) -> DeployedAuthorizer | None:
    """A method's authorizer, when local mode has its twin; ValueError otherwise (a method is
    never served more openly than deployed)."""
    where = f"{method.method} {method.path}"
    kind = method.authorizer.kind if method.authorizer else None
    if method.authorization_type == NONE:
        return None
    if method.authorization_type == COGNITO and kind == COGNITO:
        return None
    if method.authorization_type == CUSTOM and method.authorizer and kind == "REQUEST":
        check_identity_sources(method.authorizer.identity_sources)
        return method.authorizer
    raise ValueError(
        f"{where}: {method.authorization_type} authorization ({kind}) has no local twin"
    )


class RestRoutes:
    def __init__(self, routes: list[_RestRoute]) -> None:
        self._routes = sorted(routes, key=lambda route: route.precedence)

    @classmethod
    def from_catalog(cls, functions: Mapping[str, FunctionSpec] = FUNCTIONS) -> "RestRoutes":
        rest_authorizer = next(
            (
                DeployedAuthorizer(
                    "REQUEST", spec.name, CATALOG_IDENTITY_SOURCES, DEFAULT_AUTHORIZER_TTL_S
                )
                for spec in functions.values()
                if spec.trigger is Trigger.REST_AUTHORIZER
            ),
            None,
        )
        routes = []
        for spec in functions.values():
            if spec.trigger is not Trigger.REST:
                continue
            for route in spec.routes:
                authorization, authorizer = _catalog_authorization(route, rest_authorizer)
                routes.append(
                    _RestRoute(
                        route.method,
                        _pattern(route.path),
                        route.path,
                        spec.name,
                        authorization,
                        route.authorization_scopes,
                        authorizer,
                    )
                )
        return cls(routes)

    @classmethod
    def from_deployment(cls, deployment: Deployment) -> "RestRoutes":
        """The deployed methods: open ones, the Cognito user-pool authorizer's and the Lambda
        REQUEST authorizer's, and the open MOCK ones. Any other authorization is refused here
        rather than served open."""
        routes = [_mock_route(mock) for mock in deployment.mocks]
        for method in deployment.methods:
            authorizer = _deployed_authorizer(method)
            routes.append(
                _RestRoute(
                    method.method,
                    _pattern(method.path),
                    method.path,
                    method.function,
                    method.authorization_type,
                    method.scopes,
                    authorizer,
                )
            )
        return cls(routes)

    def match(self, method: str, path: str) -> RestMatch | None:
        """The route for ``method`` and ``path``; None when no route has both (API Gateway
        answers 403 "Missing Authentication Token" then). ``path`` is as sent, still
        percent-encoded (an encoded ``/`` stays inside its segment); each path parameter is
        decoded exactly once, as in the proxy event's ``pathParameters``."""
        for route in self._routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found:
                parameters = {key: unquote(value) for key, value in found.groupdict().items()}
                return RestMatch(
                    route.function,
                    route.resource,
                    parameters,
                    route.authorization,
                    route.scopes,
                    route.authorizer,
                    route.mock,
                )
        return None


def _mock_route(mock: DeployedMock) -> _RestRoute:
    """A MOCK method: served open only when deployed open (the CORS preflights are)."""
    if mock.authorization_type != NONE:
        raise ValueError(
            f"{mock.method} {mock.path}: a MOCK method with {mock.authorization_type}"
            " authorization has no local twin"
        )
    return _RestRoute(mock.method, _pattern(mock.path), mock.path, "", NONE, (), None, mock)


class WsRoutes:
    def __init__(
        self,
        routes: dict[str, str],
        connect: str | None,
        disconnect: str | None,
        authorizer: str | None,
        identity_sources: tuple[str, ...] = (),
    ) -> None:
        self._routes = routes  # route key -> function
        self.connect = connect
        self.disconnect = disconnect
        self.authorizer = authorizer
        # The $connect authorizer's identity sources: when one is missing from a request, API
        # Gateway answers 401 without calling the authorizer. None: it runs for every $connect.
        self.identity_sources = identity_sources

    @classmethod
    def from_catalog(cls, functions: Mapping[str, FunctionSpec] = FUNCTIONS) -> "WsRoutes":
        routes: dict[str, str] = {}
        authorizer = None
        for spec in functions.values():
            if spec.trigger is Trigger.WEBSOCKET:
                routes.update(dict.fromkeys(spec.ws_routes, spec.name))
            elif spec.trigger is Trigger.WEBSOCKET_AUTHORIZER:
                authorizer = spec.name
        connect = routes.pop("$connect", None)
        disconnect = routes.pop("$disconnect", None)
        return cls(routes, connect, disconnect, authorizer)

    @classmethod
    def from_deployment(cls, deployment: Deployment) -> "WsRoutes":
        ws = deployment.websocket
        routes = dict(ws.routes)
        connect = routes.pop("$connect", None)
        disconnect = routes.pop("$disconnect", None)
        return cls(routes, connect, disconnect, ws.authorizer, ws.identity_sources)

    def select(self, body: str) -> tuple[str, str] | None:
        """(route key, function) for a frame, or None when nothing (not even $default) takes
        it."""
        try:
            action = json.loads(body).get("action")
        except (json.JSONDecodeError, AttributeError):
            action = None
        if isinstance(action, str) and action in self._routes and not action.startswith("$"):
            return action, self._routes[action]
        if "$default" in self._routes:
            return "$default", self._routes["$default"]
        return None
