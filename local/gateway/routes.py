"""Routing tables from ``lambdas.catalog``: which function serves a REST method and path, and
which serves a WebSocket frame (API Gateway's ``$request.body.action`` route selection).

>>> table = RestRoutes.from_catalog()
>>> match = table.match("DELETE", "/v1/orders/01HX")
>>> match.function, match.resource, match.path_parameters, match.authorized
('orders', '/v1/orders/{order_id}', {'order_id': '01HX'}, True)
>>> WsRoutes.from_catalog().select('{"action": "subscribe", "channel": "book.BTC-USD"}')
('subscribe', 'ws_messages')
>>> WsRoutes.from_catalog().select("not json")
('$default', 'ws_messages')
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from lambdas.catalog import FUNCTIONS, FunctionSpec, Trigger

_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class RestMatch:
    function: str
    resource: str
    path_parameters: dict[str, str]
    authorized: bool


@dataclass(frozen=True, slots=True)
class _RestRoute:
    method: str
    pattern: re.Pattern[str]
    resource: str
    function: str
    authorized: bool


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
                return RestMatch(route.function, route.resource, parameters, route.authorized)
        return None


class WsRoutes:
    def __init__(
        self,
        routes: dict[str, str],
        connect: str | None,
        disconnect: str | None,
        authorizer: str | None,
    ) -> None:
        self._routes = routes  # route key -> function
        self.connect = connect
        self.disconnect = disconnect
        self.authorizer = authorizer

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
