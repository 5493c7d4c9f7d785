"""A tiny in-process API Gateway for tests: route a request to its catalog function's handler
(with the test's fakes injected), as an API Gateway REST proxy event. ``wsgi_app`` wraps it as
WSGI so schemathesis can drive it without a server."""

import base64
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from exchange.apikeys.service import ApiKeyService
from exchange.http.problems import PROBLEM_CONTENT_TYPE, Unauthorized, from_error
from exchange.testing.apikeys import FakeCipher, InMemoryApiKeyStore
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from lambdas.account.handler import handler as account_handler
from lambdas.admin.handler import handler as admin_handler
from lambdas.api_keys.handler import handler as api_keys_handler
from lambdas.catalog import FUNCTIONS, Trigger
from lambdas.deposits.handler import handler as deposits_handler
from lambdas.health.handler import handler as health_handler
from lambdas.kyc.handler import handler as kyc_handler
from lambdas.markets.handler import handler as markets_handler
from lambdas.orders.handler import handler as orders_handler

if TYPE_CHECKING:
    from tests.unit.api.conftest import Exchange, Reply

_PARAM = re.compile(r"\\\{(\w+)\\\}")
# The api_keys function's fakes: its keys are independent of the exchange's other state.
API_KEYS = ApiKeyService(
    store=InMemoryApiKeyStore(), cipher=FakeCipher(), default_rate_limit=20, max_per_account=20
)


def match_route(method: str, path: str) -> tuple[str, str, bool, dict[str, str]] | None:
    """The catalog's function, resource, authorization and path parameters of a request.

    A path parameter matches one segment, as in API Gateway: ``{order_id}`` never spans a ``/``.
    """
    by_path = None
    for spec in FUNCTIONS.values():
        if spec.trigger is not Trigger.REST:
            continue
        for route in spec.routes:
            pattern = _PARAM.sub(r"(?P<\1>[^/]+)", re.escape(route.path))
            found = re.fullmatch(pattern, path)
            if found and route.method == method:
                return spec.name, route.path, route.authorized, found.groupdict()
            if found and by_path is None:
                by_path = spec.name, route.path, route.authorized, found.groupdict()
    # Another method on a known resource goes to its function, which answers 405.
    return by_path


def invoke(exchange: "Exchange", event: dict[str, Any]) -> "Reply":
    from tests.unit.api.conftest import Reply  # noqa: PLC0415

    return Reply.of(dispatch(exchange, event))


def dispatch(exchange: "Exchange", event: dict[str, Any]) -> dict[str, Any]:
    matched = match_route(event["httpMethod"], event["path"])
    # API Gateway answers unknown routes itself; send them to a function so the answer is ours.
    name = matched[0] if matched else "markets"
    context = LambdaContextStub()
    response: dict[str, Any]
    if name == "orders":
        response = orders_handler(event, context, orders=exchange.orders)
    elif name == "account":
        response = account_handler(event, context, services=exchange.account_services())
    elif name == "api_keys":
        response = api_keys_handler(event, context, keys=API_KEYS)
    elif name == "deposits":
        response = deposits_handler(
            event, context, deposits=exchange.deposits, payouts=exchange.payouts
        )
    elif name == "kyc":
        from exchange.ledger.verification import KycWebhookReceiver  # noqa: PLC0415
        from tests.unit.api.test_kyc_api import SECRET, Registry  # noqa: PLC0415

        receiver = KycWebhookReceiver(registry=Registry("alice"), secrets=lambda: [SECRET])
        response = kyc_handler(event, context, receiver=receiver)
    elif name == "health":
        from tests.unit.api.test_health import healthy  # noqa: PLC0415

        response = health_handler(event, context, health=healthy())
    elif name == "admin":
        from tests.unit.admin.conftest import make_admin  # noqa: PLC0415

        response = admin_handler(event, context, admin=make_admin().service)
    else:
        response = markets_handler(event, context, markets=exchange.markets)
    return response


def wsgi_app(exchange: "Exchange", tokens: Iterable[str]) -> Callable[..., Iterable[bytes]]:
    """A WSGI app in front of the handlers. Like API Gateway with its Cognito authorizer, an
    authorized route is a 401 unless the ``Authorization`` header is one of ``tokens`` (each
    token stands for the account of the same name)."""
    tokens = frozenset(tokens)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        matched = match_route(method, path)
        token = headers.pop("Authorization", None)
        if matched and matched[2] and token not in tokens:
            problem = from_error(Unauthorized("missing or invalid Authorization token"))
            start_response("401 Unauthorized", [("Content-Type", PROBLEM_CONTENT_TYPE)])
            return [problem.model_dump_json(exclude_none=True).encode()]
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        event = rest_event(
            method,
            path,
            headers=headers,
            query=query or None,
            account_id=token if matched and matched[2] else None,
            resource=matched[1] if matched else None,
            path_parameters=matched[3] if matched else None,
        )
        if body:
            try:
                event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        response = dispatch(exchange, event)
        status = int(response["statusCode"])
        out_headers = [
            (k, v) for k, values in response["multiValueHeaders"].items() for v in values
        ]
        start_response(f"{status} X", out_headers)
        text = response.get("body") or ""
        return [base64.b64decode(text) if response.get("isBase64Encoded") else text.encode()]

    return app
