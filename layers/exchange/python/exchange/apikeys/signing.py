"""The API-key request signature: HMAC-SHA256 over the timestamp, the receive window, the method,
the path, the query and the body's SHA-256, as the major venues sign (Coinbase, Binance, Kraken)
and as AWS Signature V4 binds the body (``x-amz-content-sha256``).

A signed REST request carries one header::

    Authorization: EXCHANGE-HMAC-SHA256 Credential=<key id>, Timestamp=<unix ms>,
        Window=<ms>, ContentSha256=<hex>, Signature=<hex>

``Signature`` is ``hex(HMAC-SHA256(secret, string_to_sign))`` where ``string_to_sign`` joins with
``\\n``: the scheme name, the timestamp, the window, the method (upper case), the path below the
API's stage (``/v1/orders``), the canonical query (pairs sorted by name then value, each part
percent-encoded except ``A-Z a-z 0-9 - _ . ~``, joined by ``&``) and the hex SHA-256 of the body
(of the empty string when there is none).

Everything signed sits in the one ``Authorization`` header because API Gateway hands a Lambda
REQUEST authorizer the headers but never the body, and caches its answer by the identity source
(the ``Authorization`` header): the header names the body's digest, the handler checks the body
against it (``exchange.http.identity``), and a cached answer only ever serves the exact request
it was signed for. ``Window`` (default 5 s, at most 60 s) bounds how stale the timestamp may be;
a timestamp more than a second in the future is refused too.

The WebSocket ``$connect`` takes the same signature in its query string (``api_key``,
``timestamp``, ``window``, ``signature``) over method ``GET``, path ``/$connect``, the canonical
query of the other three parameters and the empty body.

The client package (``exchange_client.signing``) carries its own copy of this algorithm, so it
installs without the server's code; a test signs with one and verifies with the other.

>>> secret = "sk_test"
>>> header = authorization_header(
...     "ak_example1", secret, "POST", "/v1/orders", {}, b'{"a":1}', timestamp_ms=1_700_000_000_000
... )
>>> parsed = parse_authorization(header)
>>> parsed.key_id, parsed.timestamp_ms, parsed.window_ms
('ak_example1', 1700000000000, 5000)
>>> verify(parsed, secret, "POST", "/v1/orders", {}, now_ms=1_700_000_001_000)
>>> canonical_query({"b": ["2", "1"], "a b": ["x/y"]})
'a%20b=x%2Fy&b=1&b=2'
"""

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

SCHEME: Final = "EXCHANGE-HMAC-SHA256"
DEFAULT_WINDOW_MS: Final = 5_000
MAX_WINDOW_MS: Final = 60_000
# How far ahead of the server's clock a timestamp may be (clock skew).
MAX_AHEAD_MS: Final = 1_000
EMPTY_SHA256: Final = hashlib.sha256(b"").hexdigest()
WS_CONNECT_PATH: Final = "/$connect"

_FIELD = re.compile(r"\s*([A-Za-z0-9]+)=([^,\s]*)\s*")
_HEX64 = re.compile(r"[0-9a-f]{64}")
# One spelling per number (no sign, no "_", no leading zero), so one request has one header.
_NUMBER = re.compile(r"[1-9][0-9]{0,15}")
_KEY_ID = re.compile(r"ak_[A-Za-z0-9]{8,64}")

QueryParameters = Mapping[str, Iterable[str]]


class SignatureError(Exception):
    """The request's signature cannot be accepted; ``reason`` says why (for the 401's body)."""

    reason = "invalid_signature"


class MalformedSignature(SignatureError):
    reason = "malformed_signature"


class StaleRequest(SignatureError):
    reason = "stale_request"


class BadSignature(SignatureError):
    reason = "bad_signature"


@dataclass(frozen=True, slots=True)
class SignedAuthorization:
    key_id: str
    timestamp_ms: int
    window_ms: int
    content_sha256: str
    signature: str


def is_signed(authorization: str | None) -> bool:
    """Whether an ``Authorization`` value uses this scheme (else it is a bearer token)."""
    return bool(authorization) and authorization.split(" ", 1)[0] == SCHEME  # type: ignore[union-attr]


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


def authorization_header(  # noqa: PLR0917 - the parts of one request
    key_id: str,
    secret: str,
    method: str,
    path: str,
    query: QueryParameters | None,
    body: bytes,
    *,
    timestamp_ms: int,
    window_ms: int = DEFAULT_WINDOW_MS,
) -> str:
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


def parse_authorization(value: str) -> SignedAuthorization:
    """The header's fields; MalformedSignature when it is not this scheme or a field is
    missing, repeated or out of range."""
    scheme, _, rest = value.partition(" ")
    if scheme != SCHEME:
        raise MalformedSignature(f"the Authorization scheme is not {SCHEME}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        found = _FIELD.fullmatch(part)
        if not found or found[1] in fields:
            raise MalformedSignature("the Authorization header's fields are malformed")
        fields[found[1]] = found[2]
    try:
        key_id = fields["Credential"]
        timestamp = _number(fields["Timestamp"])
        window = _number(fields.get("Window", str(DEFAULT_WINDOW_MS)))
        digest = fields["ContentSha256"]
        mac = fields["Signature"]
    except (KeyError, ValueError) as exc:
        raise MalformedSignature(
            "Credential, Timestamp, ContentSha256 and Signature are required"
        ) from exc
    if not _KEY_ID.fullmatch(key_id):
        raise MalformedSignature("the Credential is not an API key id")
    if not 0 < window <= MAX_WINDOW_MS:
        raise MalformedSignature(f"the Window must be 1 to {MAX_WINDOW_MS} ms")
    if not _HEX64.fullmatch(digest) or not _HEX64.fullmatch(mac):
        raise MalformedSignature("ContentSha256 and Signature are 64 lower-case hex digits")
    return SignedAuthorization(key_id, timestamp, window, digest, mac)


def check_timestamp(signed: SignedAuthorization, now_ms: int) -> None:
    age = now_ms - signed.timestamp_ms
    if age > signed.window_ms or age < -MAX_AHEAD_MS:
        raise StaleRequest(
            f"the request's timestamp is {age} ms from the server's clock, outside its"
            f" {signed.window_ms} ms window"
        )


def verify(
    signed: SignedAuthorization,
    secret: str,
    method: str,
    path: str,
    query: QueryParameters | None,
    *,
    now_ms: int,
) -> None:
    """Raises StaleRequest or BadSignature. The body is not here (a Lambda authorizer never sees
    it): ``signed.content_sha256`` is what the handler checks it against."""
    check_timestamp(signed, now_ms)
    text = string_to_sign(
        timestamp_ms=signed.timestamp_ms,
        window_ms=signed.window_ms,
        method=method,
        path=path,
        query=query,
        body_sha256=signed.content_sha256,
    )
    if not hmac.compare_digest(signature(secret, text), signed.signature):
        raise BadSignature("the signature does not match the request")


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


def parse_ws_connect(parameters: Mapping[str, str]) -> SignedAuthorization:
    """The signed fields of a ``$connect``'s query; MalformedSignature when incomplete."""
    try:
        key_id = parameters["api_key"]
        timestamp = _number(parameters["timestamp"])
        window = _number(parameters.get("window", str(DEFAULT_WINDOW_MS)))
        mac = parameters["signature"]
    except (KeyError, ValueError) as exc:
        raise MalformedSignature("api_key, timestamp and signature are required") from exc
    if not _KEY_ID.fullmatch(key_id) or not _HEX64.fullmatch(mac):
        raise MalformedSignature("the api_key or signature is malformed")
    if not 0 < window <= MAX_WINDOW_MS:
        raise MalformedSignature(f"the window must be 1 to {MAX_WINDOW_MS} ms")
    return SignedAuthorization(key_id, timestamp, window, EMPTY_SHA256, mac)


def verify_ws_connect(signed: SignedAuthorization, secret: str, *, now_ms: int) -> None:
    query = {
        "api_key": [signed.key_id],
        "timestamp": [str(signed.timestamp_ms)],
        "window": [str(signed.window_ms)],
    }
    verify(signed, secret, "GET", WS_CONNECT_PATH, query, now_ms=now_ms)


def _number(text: str) -> int:
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{text!r} is not a plain decimal number")
    return int(text)


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")
