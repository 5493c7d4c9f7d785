"""The local gateway: one aiohttp server standing in for API Gateway.

- ``/v1/...``: the REST API. Routes and their authorization come from the synthesized template
  (``local.template``); a Cognito-authorized method needs a token in ``Authorization`` that API
  Gateway would take (an access token with one of the method's scopes; an ID token when it has
  none: ``local.gateway.auth``), 401 otherwise, before any Lambda runs, and the integration gets
  the proxy event with the token's claims. A method with the Lambda REQUEST authorizer runs it
  first (``local.gateway.lambda_authorizer``: 401, 403 or 500 as API Gateway answers, its cache)
  and the integration gets its context. An authorized method whose authorizer the twin cannot
  run is refused (500), and one whose method ARN exceeds 1600 bytes is 414, before any Lambda
  runs. The path is taken as sent (still percent-encoded) for routing, the event's ``path`` and
  the method ARN; each path parameter is decoded once (``local.gateway.routes``). The gateway's
  own answers are the template's gateway responses (``local.gateway.responses``), and a MOCK
  method (a CORS preflight, ``OPTIONS``) answers what its integration response maps, no Lambda
  run.
- ``/ws``: the WebSocket API (see ``local.gateway.websocket``).
- ``/@connections/{id}`` (also under ``/<stage>/``): the Management API the Lambdas post to;
  ``EXCHANGE_WS_MANAGEMENT_ENDPOINT`` points here.
- ``/``, ``/config.json`` and the console's files: the trading console in a browser
  (``local.gateway.console``), when the gateway is given its configuration.
- ``/_local/...``: the local stack's own status and controls (not part of the product's API), and
  ``GET /_local/mailbox/emails?to=<address>``: the emails SES would have delivered (moto's).
"""

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from aiohttp import web

from exchange.observability import logger
from local.functions import FunctionError, FunctionHost, FunctionMissing
from local.gateway.auth import ClaimsVerifier, Unauthorized
from local.gateway.console import ConsoleConfig, add_console_routes
from local.gateway.events import (
    STAGE,
    BadIntegrationResponse,
    HttpRequest,
    HttpResponse,
    method_arn,
    rest_event,
    rest_response,
)
from local.gateway.lambda_authorizer import Refusal, RequestAuthorizers
from local.gateway.responses import GatewayResponses
from local.gateway.routes import COGNITO, CUSTOM, RestMatch, RestRoutes
from local.gateway.websocket import WebSocketApi

MAX_BODY_BYTES: Final = 10 * 1024 * 1024  # API Gateway's payload limit
INTEGRATION_TIMEOUT_S: Final = 29.0  # API Gateway's REST integration timeout
# "Output from an API Gateway Lambda authorizer": an authorization-enabled method's ARN is at most
# 1600 bytes; a longer one (long path parameters) is the client's 414 Request URI too long.
MAX_METHOD_ARN_BYTES: Final = 1600
WS_PATH: Final = "/ws"

Status = Callable[[], Mapping[str, Any]]
# The local mailbox: the emails SES (moto's) has sent, to one address or to anyone (None).
Emails = Callable[[str | None], Sequence[Mapping[str, Any]]]
Control = Callable[[str, Mapping[str, Any]], Awaitable[Mapping[str, Any]]]


class RestApi:
    def __init__(
        self,
        functions: FunctionHost,
        verifier: ClaimsVerifier | None,
        routes: RestRoutes | None = None,
        *,
        responses: GatewayResponses | None = None,
        timeout_s: float = INTEGRATION_TIMEOUT_S,
    ) -> None:
        self._functions = functions
        self._verifier = verifier
        self._routes = routes or RestRoutes.from_catalog(functions.specs)
        self._responses = responses or GatewayResponses()
        self.authorizers = RequestAuthorizers(functions)
        self._timeout_s = timeout_s

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        response = await self.dispatch(
            HttpRequest(
                method=request.method,
                # As sent, still percent-encoded, without the query (aiohttp's ``path`` is
                # decoded): API Gateway's proxy event, method ARN and routing see it so.
                path=request.rel_url.raw_path,
                headers=tuple(request.headers.items()),
                query=tuple(request.query.items()),
                body=body,
                source_ip=request.remote or "127.0.0.1",
            )
        )
        return web.Response(status=response.status, headers=response.headers, body=response.body)

    async def _claims(
        self, request: HttpRequest, scopes: tuple[str, ...]
    ) -> Mapping[str, Any] | None:
        """The Cognito authorizer: the verified token's claims, or None (401). Verified on a
        worker thread: a signature check costs CPU, and a key not yet cached is fetched over
        HTTP (the pool's JWKS), neither of which may hold up the event loop."""
        token = next((v for k, v in request.headers if k.lower() == "authorization"), None)
        if not token or self._verifier is None:
            return None
        try:
            return await asyncio.to_thread(self._verifier.verify, token, scopes)
        except Unauthorized:
            return None

    async def _authorize(
        self, request: HttpRequest, match: RestMatch, request_id: str
    ) -> dict[str, Any] | Refusal:
        """``claims`` (Cognito) or ``authorizer`` (a Lambda authorizer's context) for the
        integration's event, or API Gateway's refusal."""
        if not match.authorized:
            return {}
        if len(method_arn(request.method, request.path).encode()) > MAX_METHOD_ARN_BYTES:
            return Refusal("REQUEST_URI_TOO_LONG")
        if match.authorization == COGNITO:
            claims = await self._claims(request, match.scopes)
            return Refusal("UNAUTHORIZED") if claims is None else {"claims": claims}
        if match.authorization == CUSTOM and match.authorizer is not None:
            context = await self.authorizers.authorize(
                match.authorizer,
                request,
                resource=match.resource,
                path_parameters=match.path_parameters,
                request_id=request_id,
            )
            return context if isinstance(context, Refusal) else {"authorizer": context}
        # An authorized method whose authorizer this twin cannot run is never served open.
        logger.warning(
            "authorized method without an authorizer",
            extra={"resource": match.resource, "authorization": match.authorization},
        )
        return Refusal("AUTHORIZER_CONFIGURATION_ERROR")

    async def dispatch(self, request: HttpRequest) -> HttpResponse:
        match = self._routes.match(request.method, request.path)
        if match is None:
            return self._responses.answer("MISSING_AUTHENTICATION_TOKEN")
        request_id = str(uuid.uuid4())
        authorized = await self._authorize(request, match, request_id)
        if isinstance(authorized, Refusal):
            return self._responses.answer(authorized.response_type, authorized.message)
        if match.mock is not None:  # API Gateway's own answer: the template's, exactly
            return HttpResponse(match.mock.status, tuple(match.mock.headers.items()), b"")
        event = rest_event(
            request,
            resource=match.resource,
            path_parameters=match.path_parameters,
            claims=authorized.get("claims"),
            authorizer=authorized.get("authorizer"),
            request_id=request_id,
        )
        return await self._integrate(match, event)

    async def _integrate(self, match: RestMatch, event: dict[str, Any]) -> HttpResponse:
        """The Lambda proxy integration's answer, or the gateway's when the function fails."""
        try:
            result = await asyncio.wait_for(
                self._functions.ainvoke(match.function, event), self._timeout_s
            )
            return rest_response(result)
        except TimeoutError:
            return self._responses.answer("INTEGRATION_TIMEOUT")
        except FunctionMissing:
            message = f"{match.function} is not deployed in this build"
            return self._responses.answer("DEFAULT_5XX", message)
        except (FunctionError, BadIntegrationResponse):
            logger.exception("integration failed", extra={"function": match.function})
            return self._responses.answer("DEFAULT_5XX")


def build_app(
    functions: FunctionHost,
    verifier: ClaimsVerifier | None,
    websocket: WebSocketApi,
    *,
    status: Status | None = None,
    control: Control | None = None,
    routes: RestRoutes | None = None,
    responses: GatewayResponses | None = None,
    emails: Emails | None = None,
    console: ConsoleConfig | None = None,
) -> web.Application:
    rest = RestApi(functions, verifier, routes, responses=responses)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_get(WS_PATH, websocket.connect)
    for prefix in ("", f"/{STAGE}"):
        path = prefix + "/@connections/{connection_id}"
        app.router.add_post(path, websocket.post)
        app.router.add_get(path, websocket.get)
        app.router.add_delete(path, websocket.delete)

    async def local_status(_request: web.Request) -> web.Response:
        return web.json_response(dict(status()) if status else {})

    async def local_control(request: web.Request) -> web.Response:
        if control is None:
            return web.json_response({"error": "no controls"}, status=404)
        raw = await request.read()
        try:
            payload = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        try:
            result = await control(request.match_info["action"], payload)
        except KeyError as exc:
            return web.json_response({"error": f"unknown control or field {exc}"}, status=404)
        except (FunctionError, FunctionMissing) as exc:  # a control that runs a function
            return web.json_response({"error": str(exc)}, status=502)
        return web.json_response(dict(result), dumps=lambda v: json.dumps(v, default=str))

    async def local_emails(request: web.Request) -> web.Response:
        if emails is None:
            return web.json_response({"error": "no mailbox"}, status=404)
        found = await asyncio.to_thread(emails, request.query.get("to"))
        return web.json_response(
            {"emails": [dict(e) for e in found]}, dumps=lambda v: json.dumps(v, default=str)
        )

    app.router.add_get("/_local/status", local_status)
    app.router.add_get("/_local/mailbox/emails", local_emails)
    app.router.add_post("/_local/{action:.+}", local_control)
    if console is not None:  # before the REST API's catch-all
        add_console_routes(app, console)
    app.router.add_route("*", "/{tail:.*}", rest.handle)
    return app
