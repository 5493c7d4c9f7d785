"""Routing tables: which function serves a REST method and path (and how the method is
authorized), and which serves a WebSocket frame (API Gateway's ``$request.body.action`` route
selection). The stack builds them from the synthesized template (``local.template.Deployment``:
``from_deployment``), so local routing and authorization are what API Gateway deploys; tests may
build them from ``lambdas.catalog`` directly.

>>> table = RestRoutes.from_catalog()
>>> match = table.match("DELETE", "/v1/orders/01HX")
>>> match.function, match.resource, match.path_parameters, match.authorized, match.scopes
('orders', '/v1/orders/{order_id}', {'order_id': '01HX'}, True, ('aws.cognito.signin.user.admin',))
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

from lambdas.catalog import FUNCTIONS, FunctionSpec, Trigger
from local.template import Deployment

COGNITO: Final = "COGNITO_USER_POOLS"

_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class RestMatch:
    function: str
    resource: str
    path_parameters: dict[str, str]
    authorized: bool
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _RestRoute:
    method: str
    pattern: re.Pattern[str]
    resource: str
    function: str
    authorized: bool
    scopes: tuple[str, ...]


def _pattern(path: str) -> re.Pattern[str]:
    """A path parameter matches one segment, as in API Gateway (no greedy ``{proxy+}`` here)."""
    segments = [
        f"(?P<{found[1]}>[^/]+)" if (found := _PARAM.fullmatch(segment)) else re.escape(segment)
        for segment in path.split("/")
    ]
    return re.compile("^" + "/".join(segments) + "$")


class RestRoutes:
    def __init__(self, routes: list[_RestRoute]) -> None:
        self._routes = routes

    @classmethod
    def from_catalog(cls, functions: Mapping[str, FunctionSpec] = FUNCTIONS) -> "RestRoutes":
        routes = []
        for spec in functions.values():
            if spec.trigger is not Trigger.REST:
                continue
            for route in spec.routes:
                routes.append(
                    _RestRoute(
                        route.method,
                        _pattern(route.path),
                        route.path,
                        spec.name,
                        route.authorized,
                        route.authorization_scopes,
                    )
                )
        return cls(routes)

    @classmethod
    def from_deployment(cls, deployment: Deployment) -> "RestRoutes":
        """The deployed methods. Only the Cognito user-pool authorizer and open methods are
        served; any other authorization type is refused here rather than served open."""
        routes = []
        for method in deployment.methods:
            if method.authorization_type not in (COGNITO, "NONE"):
                raise ValueError(
                    f"{method.method} {method.path}: {method.authorization_type} authorization"
                    " has no local twin"
                )
            routes.append(
                _RestRoute(
                    method.method,
                    _pattern(method.path),
                    method.path,
                    method.function,
                    method.authorization_type == COGNITO,
                    method.scopes,
                )
            )
        return cls(routes)

    def match(self, method: str, path: str) -> RestMatch | None:
        """The route for ``method`` and ``path``; None when no route has both (API Gateway
        answers 403 "Missing Authentication Token" then)."""
        for route in self._routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found:
                parameters = {key: unquote(value) for key, value in found.groupdict().items()}
                return RestMatch(
                    route.function, route.resource, parameters, route.authorized, route.scopes
                )
        return None


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
