"""Signing requests with an API key: HMAC-SHA256 over the timestamp, the receive window, the
method, the path, the query and the body's SHA-256.

The client's own copy of the server's algorithm (the server's ``exchange.apikeys.signing``), so
the client installs without the server's code; a test signs with this copy and verifies with the
server's. A signed REST request carries one header::

    Authorization: EXCHANGE-HMAC-SHA256 Credential=<key id>, Timestamp=<unix ms>,
        Window=<ms>, ContentSha256=<hex>, Signature=<hex>

``Signature`` is ``hex(HMAC-SHA256(secret, string_to_sign))``, where ``string_to_sign`` joins
with ``\\n``: the scheme name, the timestamp, the window, the method (upper case), the path below
the API's stage (``/v1/orders``), the canonical query (pairs sorted by name then value, each part
percent-encoded except ``A-Z a-z 0-9 - _ . ~``, joined by ``&``) and the hex SHA-256 of the exact
body bytes sent (of the empty string when there is none). The server refuses a timestamp older
than ``Window`` ms (at most 60 s) or more than a second ahead of its clock.

A WebSocket ``$connect`` carries the same signature in its query (``api_key``, ``timestamp``,
``window``, ``signature``) over method ``GET``, path ``/$connect``, the other three parameters
and the empty body.

>>> authorization_header(
...     "ak_example1", "sk_test", "GET", "/v1/orders", {"symbol": ["BTC-USD"]}, body=b"",
...     timestamp_ms=1_700_000_000_000,
... ).split(", ")[:3]
['EXCHANGE-HMAC-SHA256 Credential=ak_example1', 'Timestamp=1700000000000', 'Window=5000']
>>> canonical_query({"b": ["2", "1"], "a b": ["x/y"]})
'a%20b=x%2Fy&b=1&b=2'
"""

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import quote

SCHEME: Final = "EXCHANGE-HMAC-SHA256"
DEFAULT_WINDOW_MS: Final = 5_000
MAX_WINDOW_MS: Final = 60_000
EMPTY_SHA256: Final = hashlib.sha256(b"").hexdigest()
WS_CONNECT_PATH: Final = "/$connect"

QueryParameters = Mapping[str, Iterable[str]]


def canonical_query(parameters: QueryParameters | None) -> str:
    pairs = sorted((name, value) for name, values in (parameters or {}).items() for value in values)
    return "&".join(f"{_encode(name)}={_encode(value)}" for name, value in pairs)


def content_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def string_to_sign(
    *,
    timestamp_ms: int,
    window_ms: int,
    method: str,
    path: str,
    query: QueryParameters | None,
    body_sha256: str,
) -> str:
    return "\n".join(
        (
            SCHEME,
            str(timestamp_ms),
            str(window_ms),
            method.upper(),
            path,
            canonical_query(query),
            body_sha256,
        )
    )


def signature(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def authorization_header(
    key_id: str,
    secret: str,
    method: str,
    path: str,
    query: QueryParameters | None,
    *,
    body: bytes,
    timestamp_ms: int,
    window_ms: int = DEFAULT_WINDOW_MS,
) -> str:
    """The ``Authorization`` value for one request: ``path`` below the stage, ``query`` and
    ``body`` exactly as sent."""
    digest = content_sha256(body)
    text = string_to_sign(
        timestamp_ms=timestamp_ms,
        window_ms=window_ms,
        method=method,
        path=path,
        query=query,
        body_sha256=digest,
    )
    return (
        f"{SCHEME} Credential={key_id}, Timestamp={timestamp_ms}, Window={window_ms}, "
        f"ContentSha256={digest}, Signature={signature(secret, text)}"
    )


def ws_connect_parameters(
    key_id: str, secret: str, *, timestamp_ms: int, window_ms: int = DEFAULT_WINDOW_MS
) -> dict[str, str]:
    """The query parameters that sign a WebSocket ``$connect`` with an API key."""
    unsigned = {"api_key": key_id, "timestamp": str(timestamp_ms), "window": str(window_ms)}
    text = string_to_sign(
        timestamp_ms=timestamp_ms,
        window_ms=window_ms,
        method="GET",
        path=WS_CONNECT_PATH,
        query={name: [value] for name, value in unsigned.items()},
        body_sha256=EMPTY_SHA256,
    )
    return {**unsigned, "signature": signature(secret, text)}


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")
