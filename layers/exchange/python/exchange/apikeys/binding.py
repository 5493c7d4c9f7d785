"""The parts of an API Gateway event that a signature binds, read the same way by the REST
authorizer (from its REQUEST event) and by the handler (from its proxy event), so the two agree
on what was signed.

Both events carry ``httpMethod``, ``path`` (below the stage: ``/v1/orders``), the headers, the
query string (``multiValueQueryStringParameters`` beside the single-value map) and
``requestContext.identity.sourceIp``; only the proxy event carries the body.

>>> event = {"httpMethod": "GET", "path": "/v1/orders",
...          "multiValueQueryStringParameters": {"symbol": ["BTC-USD"], "limit": ["5"]}}
>>> request_line(event["httpMethod"], event["path"], query_of(event))
'GET /v1/orders?limit=5&symbol=BTC-USD'
>>> header_of({"headers": {"authorization": "x"}}, "Authorization")
'x'
"""

import base64
from collections.abc import Mapping
from typing import Any

from exchange.apikeys.signing import QueryParameters, canonical_query


def request_line(method: str, path: str, query: QueryParameters | None) -> str:
    """``<METHOD> <path>?<canonical query>``: the authorizer's ``signed_request`` context."""
    return f"{method.upper()} {path}?{canonical_query(query)}"


def query_of(event: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every value of every query parameter (the multi-value map when API Gateway gives one)."""
    multi = event.get("multiValueQueryStringParameters")
    if isinstance(multi, Mapping):
        return {str(name): [str(value) for value in values] for name, values in multi.items()}
    single = event.get("queryStringParameters") or {}
    return {str(name): [str(value)] for name, value in single.items()}


def header_of(event: Mapping[str, Any], name: str) -> str | None:
    """A header's value, its name matched without regard to case (HTTP header names are)."""
    wanted = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if str(key).lower() == wanted and value is not None:
            return str(value)
    return None


def source_ip_of(event: Mapping[str, Any]) -> str:
    """The caller's address as API Gateway saw it (``requestContext.identity.sourceIp``)."""
    context = event.get("requestContext") or {}
    identity = context.get("identity") if isinstance(context, Mapping) else None
    address = identity.get("sourceIp") if isinstance(identity, Mapping) else None
    return str(address or "")


def body_of(event: Mapping[str, Any]) -> bytes:
    """The proxy event's body exactly as the client sent it (base64-decoded when API Gateway
    encoded it)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return str(body).encode("utf-8", "surrogatepass")
