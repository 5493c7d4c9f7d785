"""The pieces every REST function shares: the resolver, error mapping, body checks, headers.

``rest_app`` builds a Powertools ``APIGatewayRestResolver`` (data validation on) with the error
handlers installed once, and CORS (``exchange.http.cors``). ``serve`` is what a handler calls: it
refuses oversized, undecodable or non-JSON bodies before anything parses them (413/400/415), hands
the request's services to the routes, resolves, and puts the security headers on every response,
errors included (and CORS on the answers it makes before the resolver runs).
"""

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.domain.errors import ExchangeError
from exchange.http.admission import admission_problem, problem_headers
from exchange.http.cors import CORS, cors_headers
from exchange.http.problems import (
    PROBLEM_CONTENT_TYPE,
    MalformedRequest,
    PayloadTooLarge,
    Problem,
    UnsupportedMediaType,
    from_error,
    from_validation,
    problem,
)
from exchange.http.routing import SECURITY_SCHEMES
from exchange.observability import METRICS_NAMESPACE, logger, metrics

SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # A JSON API: nothing may load, frame or run from its responses.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
}
# Private data must never sit in a shared cache; public routes set their own on a 200.
DEFAULT_CACHE_CONTROL: Final = "no-store"
_SERVICES: Final = "_services"


def rest_app(
    *routers: Router, rejections: Mapping[tuple[str, str], str] | None = None
) -> APIGatewayRestResolver:
    """A resolver with ``routers`` and the one error mapping.

    ``rejections`` names a metric per route, e.g. ``{("POST", "/v1/orders"): "OrdersRejected"}``,
    emitted with a ``reason`` dimension (the problem code) for every 4xx answer of that route.
    """
    app = APIGatewayRestResolver(
        cors=CORS, enable_validation=True, json_body_deserializer=strict_json
    )
    app.configure_openapi(security_schemes=SECURITY_SCHEMES)
    app.use(middlewares=[refuse_unknown_query])
    for router in routers:
        app.include_router(router)
    counted = dict(rejections or {})

    def answer(body: Problem) -> Response[str]:
        route = app.context.get("_route")
        name = counted.get((route.method, route.path)) if route is not None else None
        if name is not None and 400 <= body.status < 500:
            with single_metric(
                name=name,
                unit=MetricUnit.Count,
                value=1,
                namespace=METRICS_NAMESPACE,
                default_dimensions=metrics.default_dimensions,
            ) as metric:
                metric.add_dimension(name="reason", value=body.code)
        return problem_response(body)

    def request_id() -> str | None:
        return app.current_event.request_context.request_id or None

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def invalid_request(error: RequestValidationError) -> Response[str]:
        return answer(from_validation(error.errors(), instance=request_id()))

    @app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
    def unsupported(error: RequestUnsupportedContentType) -> Response[str]:
        return answer(
            from_error(UnsupportedMediaType("send application/json"), instance=request_id())
        )

    @app.exception_handler(ExchangeError)  # type: ignore[untyped-decorator]
    def domain_error(error: ExchangeError) -> Response[str]:
        body = from_error(error, instance=request_id())
        if body.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            logger.exception("request failed", extra={"code": error.code})
        return answer(body)

    @app.not_found
    def no_route(_: NotFoundError) -> Response[str]:
        allowed = _methods_of(app, app.current_event.path)
        if allowed:
            detail = f"this resource allows {', '.join(allowed)}"
            body = problem(
                HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed", detail, instance=request_id()
            )
            return problem_response(body, headers={"Allow": ", ".join(allowed)})
        detail = "no such resource; check the method and path (ids and symbols have fixed forms)"
        return answer(problem(HTTPStatus.NOT_FOUND, "not_found", detail, instance=request_id()))

    return app


def refuse_unknown_query(
    app: APIGatewayRestResolver, next_middleware: NextMiddleware
) -> Response[Any]:
    """A query parameter the route does not declare is a 400, as an unknown body field is:
    silently ignoring it would hide a client's typo (``?symbl=``) behind a 200."""
    route = app.context.get("_route")
    if route is None or route not in _routes_of(app):
        return next_middleware(app)  # no such route: the 404/405 answer comes first
    declared = {field.alias for field in route.dependant.query_params}
    unknown = sorted(set(app.current_event.query_string_parameters or {}) - declared)
    if unknown:
        raise RequestValidationError(
            [
                {"type": "extra_forbidden", "loc": ("query", name), "msg": "unknown parameter"}
                for name in unknown
            ]
        )
    return next_middleware(app)


def serve(
    app: APIGatewayRestResolver,
    event: dict[str, Any],
    context: LambdaContext,
    services: Sequence[object] = (),
    *,
    max_body_bytes: int,
) -> dict[str, Any]:
    """Resolve one API Gateway proxy event; ``services`` are what the routes look up.

    A request signed with an API key is checked first against what its authorizer verified, and
    counted against the key's rate limit (``admission``: 401/403/429 before the route runs)."""
    refused = _check_body(event, max_body_bytes)
    if refused is None:
        refused = admission_problem(event, services)
    if refused is not None:
        body = from_error(refused, instance=_request_id(event))
        response: dict[str, Any] = {
            "statusCode": body.status,
            "body": body.model_dump_json(exclude_none=True),
            "isBase64Encoded": False,
            "multiValueHeaders": {
                "Content-Type": [PROBLEM_CONTENT_TYPE],
                **problem_headers(refused),
                **{name: [value] for name, value in cors_headers(event).items()},
            },
        }
    else:
        app.context[_SERVICES] = services  # cleared by resolve when it returns
        response = app.resolve(event, context)
    headers = response.setdefault("multiValueHeaders", {})
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, [value])
    headers.setdefault("Cache-Control", [DEFAULT_CACHE_CONTROL])
    return response


def service[T](router: Router, kind: type[T]) -> T:
    """The request's ``kind`` service, as ``serve`` was given it."""
    for candidate in router.context.get(_SERVICES, ()):
        if isinstance(candidate, kind):
            return candidate
    raise LookupError(f"no {kind.__name__} was given to serve()")


def problem_response(body: Problem, headers: Mapping[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=body.status,
        content_type=PROBLEM_CONTENT_TYPE,
        body=body.model_dump_json(exclude_none=True),
        headers=headers,
    )


def _methods_of(app: APIGatewayRestResolver, path: str) -> list[str]:
    """The methods some route serves at ``path`` (for a 405 rather than a 404)."""
    return sorted({route.method for route in _routes_of(app) if route.rule.match(path)})


def _routes_of(app: APIGatewayRestResolver) -> list[Any]:
    """Powertools keeps its compiled routes in private lists; reading them avoids a second
    routing table."""
    return [*getattr(app, "_static_routes", []), *getattr(app, "_dynamic_routes", [])]


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The request body exactly as the client sent it (``serve`` has checked it decodes)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return str(body).encode("utf-8", "surrogatepass")


def strict_json(text: str) -> Any:
    """``json.loads`` that refuses duplicate keys and turns every failure into a decode error
    (which validation answers with 400), including nesting too deep to parse and integers with
    more digits than Python converts."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError:
        raise
    except RecursionError as exc:
        raise json.JSONDecodeError("JSON is nested too deeply", text, 0) from exc
    except ValueError as exc:
        raise json.JSONDecodeError(str(exc), text, 0) from exc


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("JSON object has a duplicate key")
    return document


def _check_body(event: Mapping[str, Any], limit: int) -> ExchangeError | None:
    body = event.get("body")
    if body is None or body == "":
        return None
    return _size_problem(event, body, limit) or _media_problem(event)


def _size_problem(event: Mapping[str, Any], body: object, limit: int) -> ExchangeError | None:
    if not isinstance(body, str):
        return MalformedRequest("the request body is not text")
    if len(body) > limit * 2:  # cheap early refusal: base64 needs 4/3, UTF-8 at least 1 per char
        return PayloadTooLarge(f"the request body exceeds {limit} bytes")
    try:
        raw = (
            base64.b64decode(body, validate=True)
            if event.get("isBase64Encoded")
            else body.encode("utf-8")
        )
        raw.decode("utf-8")  # Powertools decodes it later; a failure there would be a 500
    except (binascii.Error, UnicodeError):
        return MalformedRequest("the request body is not valid UTF-8 (or base64 of it)")
    if len(raw) > limit:
        return PayloadTooLarge(f"the request body exceeds {limit} bytes")
    return None


def _media_problem(event: Mapping[str, Any]) -> ExchangeError | None:
    media_type = _header(event, "content-type")
    if media_type is None:
        return None
    essence = media_type.split(";", 1)[0].strip().lower()
    if essence != "application/json" and not essence.endswith("+json"):
        return UnsupportedMediaType(f"send application/json, not {essence[:64]!r}")
    return None


def _header(event: Mapping[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _request_id(event: Mapping[str, Any]) -> str | None:
    context = event.get("requestContext") or {}
    value = context.get("requestId") if isinstance(context, dict) else None
    return str(value) if value else None
