"""API Gateway's event shapes, built from local requests, and its rules for Lambda results.

- REST API proxy integration (payload format 1.0): ``rest_event`` and ``rest_response``; a Lambda
  REQUEST authorizer's event for a method: ``rest_authorizer_event`` (with ``method_arn``).
- WebSocket API: ``ws_event`` ($connect, $disconnect, routes) and ``ws_authorizer_event`` (a
  REQUEST authorizer on $connect; ``local.gateway.policy`` evaluates its answer).

The REST event itself is ``exchange.testing.lambda_events.rest_proxy_event``, the one the tests
build too; this module maps a local request onto it. Values follow what AWS sends (see there).
"""

import base64
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from exchange.testing.lambda_events import (
    ACCOUNT_ID,
    API_ID,
    REGION,
    rest_proxy_event,
    single_and_multi,
)

STAGE: Final = "local"
WS_CONNECT_ARN: Final = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/$connect"


def _body(raw: bytes) -> tuple[str | None, bool]:
    if not raw:
        return None, False
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), True


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str  # as sent: still percent-encoded, without the query string
    headers: tuple[tuple[str, str], ...]
    query: tuple[tuple[str, str], ...]
    body: bytes
    source_ip: str


def rest_event(
    request: HttpRequest,
    *,
    resource: str,
    path_parameters: Mapping[str, str],
    claims: Mapping[str, Any] | None,
    authorizer: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The proxy event API Gateway's REST API sends for ``request`` on ``resource``: with the
    Cognito authorizer's ``claims``, or a Lambda authorizer's ``authorizer`` context."""
    body, is_base64 = _body(request.body)
    event = rest_proxy_event(
        request.method,
        request.path,
        resource=resource,
        stage=STAGE,
        headers=request.headers,
        query=request.query,
        body=body,
        is_base64=is_base64,
        path_parameters=path_parameters,
        claims=claims,
        source_ip=request.source_ip,
        request_id=request_id,
    )
    if authorizer is not None:
        event["requestContext"]["authorizer"] = dict(authorizer)
    return event


def method_arn(method: str, path: str) -> str:
    """The ARN of the method a request calls: ``arn:aws:execute-api:<region>:<account>:<api id>/
    <stage>/<METHOD>/<path without its leading slash>`` ("Input to an API Gateway Lambda
    authorizer")."""
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/{method}/{path[1:]}"


def rest_authorizer_event(
    request: HttpRequest,
    *,
    resource: str,
    path_parameters: Mapping[str, str],
    request_id: str | None = None,
) -> dict[str, Any]:
    """A REQUEST authorizer's event for ``request`` ("Input to an API Gateway Lambda authorizer":
    the request's headers, query string, path parameters, stage variables and request context,
    and its ``methodArn``; never its body)."""
    proxy = rest_event(
        request,
        resource=resource,
        path_parameters=path_parameters,
        claims=None,
        request_id=request_id,
    )
    del proxy["body"], proxy["isBase64Encoded"]
    return {"type": "REQUEST", "methodArn": method_arn(request.method, request.path), **proxy}


class BadIntegrationResponse(ValueError):
    """A Lambda result API Gateway would refuse (it answers 502)."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def rest_response(result: Any) -> HttpResponse:
    """Map a proxy integration result to HTTP as API Gateway does; BadIntegrationResponse if
    the result is malformed."""
    if not isinstance(result, dict):
        raise BadIntegrationResponse(f"result is {type(result).__name__}, not an object")
    status = result.get("statusCode")
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise BadIntegrationResponse(f"statusCode {status!r}")
    headers: list[tuple[str, str]] = []
    for key, value in (result.get("headers") or {}).items():
        headers.append((str(key), str(value)))
    single = {key.lower() for key, _ in headers}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        if key.lower() in single:
            continue  # the single-value header wins, as in API Gateway
        headers.extend((str(key), str(value)) for value in values)
    body = result.get("body")
    if body is None:
        raw = b""
    elif not isinstance(body, str):
        raise BadIntegrationResponse(f"body is {type(body).__name__}, not a string")
    elif result.get("isBase64Encoded"):
        raw = base64.b64decode(body)
    else:
        raw = body.encode("utf-8")
    return HttpResponse(status, tuple(headers), raw)


# --- WebSocket ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WsConnection:
    connection_id: str
    connected_at_ms: int
    source_ip: str
    user_agent: str | None
    authorizer: Mapping[str, Any] | None  # principalId plus the authorizer's context


def _ws_request_context(
    connection: WsConnection, *, route_key: str, event_type: str, domain: str
) -> dict[str, Any]:
    now = time.time()
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": uuid.uuid4().hex,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "messageDirection": "IN",
        "stage": STAGE,
        "connectedAt": connection.connected_at_ms,
        "requestTimeEpoch": int(now * 1000),
        "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
        "requestId": str(uuid.uuid4()),
        "domainName": domain,
        "connectionId": connection.connection_id,
        "apiId": API_ID,
    }
    if connection.authorizer is not None:
        context["authorizer"] = dict(connection.authorizer)
    return context


def ws_event(
    connection: WsConnection,
    *,
    route_key: str,
    domain: str,
    body: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    query: Iterable[tuple[str, str]] = (),
    disconnect: tuple[int, str] | None = None,
) -> dict[str, Any]:
    """$connect (with headers and query), $disconnect (with status and reason) or a route."""
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
    context = _ws_request_context(
        connection, route_key=route_key, event_type=event_type, domain=domain
    )
    event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
    if event_type == "CONNECT":
        single, multi = single_and_multi(headers)
        event["headers"], event["multiValueHeaders"] = single, multi
        query_single, query_multi = single_and_multi(query)
        event["queryStringParameters"] = query_single
        event["multiValueQueryStringParameters"] = query_multi
    elif event_type == "DISCONNECT":
        status, reason = disconnect or (1005, "")
        context["disconnectStatusCode"] = status
        context["disconnectReason"] = reason
    else:
        context["messageId"] = uuid.uuid4().hex[:16]
        event["body"] = body
    return event


def ws_authorizer_event(
    connection: WsConnection,
    *,
    domain: str,
    headers: Iterable[tuple[str, str]],
    query: Iterable[tuple[str, str]],
) -> dict[str, Any]:
    """The REQUEST authorizer event for $connect (identity source: the ``token`` query param)."""
    single, multi = single_and_multi(headers)
    query_single, query_multi = single_and_multi(query)
    return {
        "type": "REQUEST",
        "methodArn": WS_CONNECT_ARN,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query_single,
        "multiValueQueryStringParameters": query_multi,
        "stageVariables": None,
        "requestContext": _ws_request_context(
            connection, route_key="$connect", event_type="CONNECT", domain=domain
        ),
    }
