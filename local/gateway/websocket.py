"""The WebSocket API, locally: $connect runs the REQUEST authorizer and then the $connect route,
frames go to routes by their ``action``, closing runs $disconnect; and the API Gateway Management
API (``POST``/``GET``/``DELETE /@connections/{id}``) through which Lambdas reach the sockets.

As in API Gateway, a connection idle for ``idle_timeout_s`` (10 minutes) or open for
``max_duration_s`` (2 hours) is closed, a frame over 128 KB is refused, and posting to an unknown
connection answers 410 Gone.
"""

import asyncio
import base64
import contextlib
import dataclasses
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import WSMsgType, web

from exchange.observability import logger
from local.functions import FunctionError, FunctionHost, FunctionMissing
from local.gateway.events import WS_CONNECT_ARN, WsConnection, ws_authorizer_event, ws_event
from local.gateway.policy import AuthorizerAnswer, InvalidAnswer, parse_answer
from local.gateway.routes import WsRoutes

MAX_FRAME_BYTES: Final = 128 * 1024


@dataclass
class _Live:
    socket: web.WebSocketResponse
    connection: WsConnection
    opened: float = field(default_factory=time.monotonic)
    last_active: float = field(default_factory=time.monotonic)


def _connection_id() -> str:
    # Shaped like API Gateway's (base64 of random bytes, e.g. "L0SM9cOFvHcCIhw="), in the URL-safe
    # alphabet so an id never holds a "/" that would split the @connections path.
    return base64.urlsafe_b64encode(secrets.token_bytes(10)).decode()


def _json_error(status: int, error_type: str, message: str) -> web.Response:
    return web.json_response(
        {"message": message}, status=status, headers={"x-amzn-ErrorType": error_type}
    )


class WebSocketApi:
    def __init__(
        self,
        functions: FunctionHost,
        routes: WsRoutes | None = None,
        *,
        route_responses: bool = True,
        idle_timeout_s: float = 600.0,
        max_duration_s: float = 7200.0,
    ) -> None:
        self._functions = functions
        self._routes = routes or WsRoutes.from_catalog(functions.specs)
        # WebSocketLambdaIntegration(return_response=True): a route's result body is sent back.
        self._route_responses = route_responses
        self._idle_timeout_s = idle_timeout_s
        self._max_duration_s = max_duration_s
        self.live: dict[str, _Live] = {}
        self._disconnects: set[asyncio.Future[None]] = set()
        self.posted = 0
        self.gone = 0

    # -- the client side -------------------------------------------------------------------------
    async def connect(self, request: web.Request) -> web.StreamResponse:
        headers = tuple(request.headers.items())
        query = tuple(request.query.items())
        connection = WsConnection(
            connection_id=_connection_id(),
            connected_at_ms=int(time.time() * 1000),
            source_ip=request.remote or "127.0.0.1",
            user_agent=request.headers.get("User-Agent"),
            authorizer=None,
        )
        domain = request.host
        authorized = await self._authorize(connection, domain, headers, query)
        if isinstance(authorized, web.Response):
            return authorized
        connection = authorized
        if self._routes.connect is not None:
            event = ws_event(
                connection, route_key="$connect", domain=domain, headers=headers, query=query
            )
            status = await self._route_status(self._routes.connect, event)
            if not 200 <= status < 300:
                return _json_error(status, "ForbiddenException", "Forbidden")
        socket = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, autoping=True)
        await socket.prepare(request)
        live = _Live(socket, connection)
        self.live[connection.connection_id] = live
        close = (1005, "")
        try:
            async for message in socket:
                live.last_active = time.monotonic()
                if message.type is WSMsgType.TEXT:
                    await self._frame(live, domain, message.data)
                elif message.type is WSMsgType.BINARY:
                    await self._frame(live, domain, base64.b64encode(message.data).decode())
                elif message.type is WSMsgType.ERROR:
                    close = (1006, str(socket.exception()))
            close = (socket.close_code or close[0], close[1])
        finally:
            self.live.pop(connection.connection_id, None)
            if self._routes.disconnect is not None:
                event = ws_event(
                    connection, route_key="$disconnect", domain=domain, disconnect=close
                )
                # Shielded: when the socket is closed from another task (the Management API's
                # DELETE), aiohttp may cancel this handler, and $disconnect must still run.
                disconnect = asyncio.ensure_future(self._disconnect(event))
                self._disconnects.add(disconnect)
                disconnect.add_done_callback(self._disconnects.discard)
                await asyncio.shield(disconnect)
        return socket

    async def _disconnect(self, event: dict[str, Any]) -> None:
        assert self._routes.disconnect is not None  # noqa: S101 - checked by the caller
        with contextlib.suppress(FunctionError, FunctionMissing):  # AWS ignores its answer
            await self._functions.ainvoke(self._routes.disconnect, event)

    async def _authorize(
        self,
        connection: WsConnection,
        domain: str,
        headers: tuple[tuple[str, str], ...],
        query: tuple[tuple[str, str], ...],
    ) -> WsConnection | web.Response:
        """The connection with the authorizer's context, or API Gateway's refusal."""
        authorizer = self._routes.authorizer
        if authorizer is None:
            return connection
        # "Control access to WebSocket APIs with AWS Lambda REQUEST authorizers": API Gateway
        # checks every identity source is present and non-empty, and answers 401 without
        # calling the authorizer otherwise.
        if not all(_present(source, headers, query) for source in self._routes.identity_sources):
            return _json_error(401, "UnauthorizedException", "Unauthorized")
        event = ws_authorizer_event(connection, domain=domain, headers=headers, query=query)
        try:
            answer = parse_answer(await self._functions.ainvoke(authorizer, event))
        except FunctionMissing:
            return _json_error(502, "InternalServerErrorException", "Internal server error")
        except FunctionError as exc:
            return _authorizer_failed(exc)
        except InvalidAnswer:  # "Output from an API Gateway Lambda authorizer": API Gateway's 500
            logger.exception("ws authorizer answered malformed")
            return _json_error(500, "AuthorizerConfigurationException", "Internal server error")
        return _admit(connection, answer)

    async def _route_status(self, function: str, event: dict[str, Any]) -> int:
        try:
            result = await self._functions.ainvoke(function, event)
        except (FunctionError, FunctionMissing):
            logger.exception("ws route failed", extra={"function": function})
            return 502
        if isinstance(result, dict) and isinstance(result.get("statusCode"), int):
            return int(result["statusCode"])
        return 200

    async def _frame(self, live: _Live, domain: str, body: str) -> None:
        selected = self._routes.select(body)
        if selected is None:
            await live.socket.send_str(json.dumps({"message": "Forbidden"}))
            return
        route_key, function = selected
        event = ws_event(live.connection, route_key=route_key, domain=domain, body=body)
        try:
            result = await self._functions.ainvoke(function, event)
        except (FunctionError, FunctionMissing):  # API Gateway answers with an error frame
            logger.exception("ws route failed", extra={"function": function})
            await live.socket.send_str(
                json.dumps(
                    {
                        "message": "Internal server error",
                        "connectionId": live.connection.connection_id,
                        "requestId": event["requestContext"]["requestId"],
                    }
                )
            )
            return
        if self._route_responses and isinstance(result, dict) and result.get("body"):
            await live.socket.send_str(str(result["body"]))

    async def expire(self) -> None:
        """Close connections past the idle or total limit (run every few seconds)."""
        now = time.monotonic()
        for live in list(self.live.values()):
            if now - live.last_active > self._idle_timeout_s:
                await live.socket.close(code=1001, message=b"Going away: idle timeout")
            elif now - live.opened > self._max_duration_s:
                await live.socket.close(code=1001, message=b"Going away: connection limit")

    async def close_all(self) -> None:
        for live in list(self.live.values()):
            await live.socket.close(code=1001, message=b"Going away")

    # -- the management API ----------------------------------------------------------------------
    def _find(self, request: web.Request) -> _Live | None:
        return self.live.get(request.match_info["connection_id"])

    async def post(self, request: web.Request) -> web.Response:
        live = self._find(request)
        if live is None or live.socket.closed:
            self.gone += 1
            return _json_error(410, "GoneException", "")
        data = await request.read()
        if len(data) > MAX_FRAME_BYTES:
            return _json_error(413, "PayloadTooLargeException", "Message too long")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            await live.socket.send_bytes(data)
        else:
            await live.socket.send_str(text)
        live.last_active = time.monotonic()
        self.posted += 1
        return web.Response(status=200)

    async def get(self, request: web.Request) -> web.Response:
        live = self._find(request)
        if live is None:
            return _json_error(410, "GoneException", "")
        connection = live.connection
        return web.json_response(
            {
                "connectedAt": _iso(connection.connected_at_ms / 1000),
                "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
                "lastActiveAt": _iso(time.time() - (time.monotonic() - live.last_active)),
            }
        )

    async def delete(self, request: web.Request) -> web.Response:
        live = self._find(request)
        if live is None:
            return _json_error(410, "GoneException", "")
        await live.socket.close(code=1000, message=b"")
        return web.Response(status=204)


def _admit(connection: WsConnection, answer: AuthorizerAnswer) -> WsConnection | web.Response:
    """The connection with the authorizer's context when its policy allows this ``$connect``
    (an explicit Deny wins, as for REST), else API Gateway's 403."""
    if answer.decide(WS_CONNECT_ARN) != "allow":
        return _json_error(403, "AccessDeniedException", "Forbidden")
    return dataclasses.replace(connection, authorizer=answer.request_context())


def _authorizer_failed(exc: FunctionError) -> web.Response:
    """An authorizer signals a bad token by raising "Unauthorized": API Gateway's 401. Any
    other error is its 500."""
    if exc.message == "Unauthorized":
        return _json_error(401, "UnauthorizedException", "Unauthorized")
    logger.exception("ws authorizer failed")
    return _json_error(500, "AuthorizerFailure", "Internal server error")


def _present(
    source: str, headers: tuple[tuple[str, str], ...], query: tuple[tuple[str, str], ...]
) -> bool:
    """Whether an identity source (``route.request.header.X`` or
    ``route.request.querystring.x``) has a non-empty value. Other sources (stage variables,
    context) are always there."""
    kind, _, name = source.removeprefix("route.request.").partition(".")
    if kind == "header":
        return any(k.lower() == name.lower() and v for k, v in headers)
    if kind == "querystring":
        return any(k == name and v for k, v in query)
    return True


def _iso(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s)) + "Z"


async def expiry_loop(api: WebSocketApi, every_s: float = 5.0) -> None:
    while True:
        await asyncio.sleep(every_s)
        await api.expire()
