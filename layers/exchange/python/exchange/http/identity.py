"""Who is calling, from what API Gateway's authorizer put in the event
(``requestContext.authorizer``): the same ``Caller`` whichever credential was used.

- **The Cognito authorizer's claims** (``claims``; the ``/v1/api-keys`` methods). Authorized
  methods name an OAuth scope, so the authorizer takes the client's *access* token ("Control
  access to REST APIs using Amazon Cognito user pools as an authorizer"). An access token carries
  ``sub``, ``username``, ``client_id``, ``scope`` and ``token_use``, but no ``email`` and no
  ``cognito:username`` ("Understanding the access token", Amazon Cognito): the account is the
  ``sub``, the username the ``username`` claim; the email comes from the ledger.
- **The REST Lambda authorizer's context** (``exchange.apikeys.authorizer``; the routes a key may
  call): ``auth`` is ``token`` (an access token it verified) or ``api_key`` (a signed request).

API Gateway reuses an authorizer's answer for 300 s for any request with the same
``Authorization`` header, so for a key the handler checks that *this* request is the one that
was verified: its method, path and canonical query are the context's ``signed_request``, the
SHA-256 of its body is ``content_sha256`` (the header's ``ContentSha256``, which the signature
covers), its timestamp is still within its window at the time API Gateway received it (a replay
after the window is refused even when the answer is cached), its address is in the key's
allow-list and the key holds the route's scope. A changed or stale request is a 401, an address
or scope the key does not allow a 403. An answer cached for a token is refused once the token's
``exp`` has passed.

The account is never taken from the body. A request that reaches an authorized route without a
usable identity (a misconfigured route, a local call without a token) is refused with 401.
"""

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final, Literal

from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import (
    APIGatewayProxyEvent,
)
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from exchange.apikeys import signing
from exchange.apikeys.binding import body_of, header_of, query_of, request_line, source_ip_of
from exchange.apikeys.model import ip_allowed
from exchange.apikeys.scopes import required_scope
from exchange.http.problems import HttpProblem, Unauthorized

# Cognito subs are UUIDs; local mode's are short names. Either way: a plain token, since it
# becomes part of table keys and idempotency keys.
_ACCOUNT_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_NO_IDENTITY: Final = "the request carries no valid identity"


class KeyNotAllowed(HttpProblem):
    """A genuine API key used for what it may not do: a route outside its scopes, or from an
    address outside its allow-list."""

    code = "forbidden"
    status = HTTPStatus.FORBIDDEN


@dataclass(frozen=True, slots=True)
class Caller:
    account_id: str
    username: str | None = None
    via: Literal["token", "api_key"] = "token"
    key_id: str | None = None  # the API key that signed the request
    scopes: tuple[str, ...] = ()  # the key's scopes
    rate_limit: int | None = None  # the key's requests per second
    signature: str | None = None  # the request's signature (one use per write)
    signature_valid_until_ms: int | None = None  # its timestamp plus its window


def caller(event: BaseProxyEvent) -> Caller:
    if not isinstance(event, APIGatewayProxyEvent):
        raise Unauthorized(_NO_IDENTITY)
    authorizer = event.request_context.authorizer
    claims = authorizer.claims
    if claims:
        return _from_claims(claims)
    context = authorizer.get_context()
    if context.get("auth") == "token":
        _check_expiry(context, received_ms(event))
        return Caller(account_id=_account(context.get("account_id")), username=_name(context))
    if context.get("auth") == "api_key":
        return _from_key(event, context)
    raise Unauthorized(_NO_IDENTITY)


def account_id(event: BaseProxyEvent) -> str:
    return caller(event).account_id


def _from_claims(claims: Mapping[str, Any]) -> Caller:
    if claims.get("token_use", "access") != "access":
        # API Gateway takes only access tokens on a scoped method; an ID token is refused here too.
        raise Unauthorized(_NO_IDENTITY)
    username = claims.get("username")
    return Caller(
        account_id=_account(claims.get("sub")),
        username=username if isinstance(username, str) else None,
    )


def _from_key(event: APIGatewayProxyEvent, context: Mapping[str, Any]) -> Caller:
    raw = event.raw_event
    received = received_ms(event)
    try:
        signed = signing.parse_authorization(header_of(raw, "Authorization") or "")
        signing.check_timestamp(signed, received)
    except signing.SignatureError as exc:
        raise Unauthorized(f"the request's signature is no longer valid ({exc.reason})") from exc
    digest = str(context.get("content_sha256", ""))
    if signed.key_id != context.get("key_id") or signed.content_sha256 != digest:
        raise Unauthorized("the request is not the one its signature was verified for")
    _check_expiry(context, received)
    line = request_line(event.http_method, event.path, query_of(raw))
    if line != context.get("signed_request"):
        raise Unauthorized("the method, path or query is not what the request's signature covers")
    if signing.content_sha256(body_of(raw)) != digest:
        raise Unauthorized("the body is not what the request's signature covers")
    allowed = str(context.get("allowed_ips") or "")
    networks = allowed.split(",") if allowed else None
    if not ip_allowed(source_ip_of(raw), networks):
        raise KeyNotAllowed(f"API key {signed.key_id} may not be used from this address")
    scopes = tuple(str(context.get("scopes", "")).split())
    needed = required_scope(event.http_method, event.resource)
    if needed is None or needed not in scopes:
        raise KeyNotAllowed(f"API key {signed.key_id} lacks the scope this route needs")
    try:
        rate_limit = int(str(context.get("rate_limit")))
    except ValueError as exc:
        raise Unauthorized(_NO_IDENTITY) from exc
    return Caller(
        account_id=_account(context.get("account_id")),
        username=_name(context),
        via="api_key",
        key_id=signed.key_id,
        scopes=scopes,
        rate_limit=rate_limit,
        signature=signed.signature,
        signature_valid_until_ms=signed.timestamp_ms + signed.window_ms,
    )


def _account(value: object) -> str:
    if not isinstance(value, str) or not _ACCOUNT_ID.fullmatch(value):
        raise Unauthorized(_NO_IDENTITY)
    return value


def _name(context: Mapping[str, Any]) -> str | None:
    username = context.get("username")
    return username if isinstance(username, str) and username else None


def _check_expiry(context: Mapping[str, Any], received: int) -> None:
    expires_at = str(context.get("expires_at") or "")
    if expires_at and (not expires_at.isdigit() or received >= int(expires_at) * 1000):
        raise Unauthorized("the credential has expired")


def received_ms(event: APIGatewayProxyEvent) -> int:
    """When API Gateway received the request (``requestContext.requestTimeEpoch``, set by API
    Gateway, not the client): the time its authorizer judged it by."""
    context = event.raw_event.get("requestContext") or {}
    received = context.get("requestTimeEpoch")
    return int(received) if isinstance(received, int) else time.time_ns() // 1_000_000
