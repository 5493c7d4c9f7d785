"""Cognito access tokens (and, through a port, API keys) for the WebSocket ``$connect``
authorizer.

A token is accepted when its RS256 signature verifies against a key of the pool's JWKS (fetched
from ``jwks_url`` and cached; moto serves its own, so the URL is configurable), its ``iss`` is the
pool, its ``client_id`` is our app client (access tokens carry ``client_id``, not ``aud``), it has
not expired, and its ``token_use`` is ``access`` (an ID token is refused). The account is ``sub``.

Anonymous connections (no ``token`` parameter at all) are allowed when configured, and may only
subscribe to public channels; a token that is present but bad is always refused, never treated as
anonymous, so a client with an expired token learns it at once instead of silently losing its
private stream.

A program may connect with an API key instead: ``?api_key=&timestamp=&window=&signature=``
(``exchange.apikeys.signing.ws_connect_parameters``), verified by the ``ConnectKeys`` port
(``exchange.apikeys.verifier.ConnectKeys``: the key's signature, window, revocation, expiry,
allow-list and its ``read`` scope). A connect naming both a token and a key is refused.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import jwt
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponseWebSocket,
)

from exchange.domain.errors import ExchangeError
from exchange.observability import logger, metrics

TOKEN_PARAMETER: Final = "token"  # noqa: S105 - the query parameter's name
API_KEY_PARAMETER: Final = "api_key"
ANONYMOUS: Final = "anonymous"
ALGORITHMS: Final = ["RS256"]


class InvalidToken(ExchangeError):
    code = "invalid_token"


class AuthUnavailable(ExchangeError):
    """The JWKS could not be fetched: an outage, not a bad token."""

    code = "auth_unavailable"


@dataclass(frozen=True, slots=True)
class Identity:
    account_id: str
    username: str | None = None
    key_id: str | None = None  # the API key it connected with, if any


class ConnectKeys(Protocol):
    def verify_connect(self, parameters: Mapping[str, str], source_ip: str) -> Identity:
        """The key's owner, from a ``$connect`` signed with an API key; InvalidToken if not."""
        ...


class TokenVerifier:
    def __init__(self, *, issuer: str, client_id: str, jwks: jwt.PyJWKClient) -> None:
        self._issuer = issuer
        self._client_id = client_id
        self._jwks = jwks

    @classmethod
    def for_pool(cls, *, issuer: str, client_id: str, jwks_url: str) -> "TokenVerifier":
        # Keys are cached for the container's life and refetched when a token names a new kid.
        return cls(
            issuer=issuer,
            client_id=client_id,
            jwks=jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=5),
        )

    def claims(self, token: str) -> dict[str, Any]:
        """The claims of a token the pool signed (RS256, a key of its JWKS), issued by the pool
        and not expired, whichever kind it is (``token_use`` access or id): what any Cognito
        token check starts from. InvalidToken, or AuthUnavailable when the JWKS is away."""
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthUnavailable(f"JWKS unavailable: {exc}") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"no signing key for the token: {exc}") from exc
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=ALGORITHMS,
                issuer=self._issuer,
                options={
                    "require": ["exp", "iss", "sub", "token_use"],
                    # Access tokens have no aud: each check names the app client its own way.
                    "verify_aud": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        return claims

    def verify(self, token: str) -> Identity:
        claims = self.claims(token)
        if claims["token_use"] != "access":  # noqa: S105 - a claim value, not a secret
            raise InvalidToken(f"token_use is {claims['token_use']!r}, an access token is needed")
        if claims.get("client_id") != self._client_id:
            raise InvalidToken("token was issued to another app client")
        username = claims.get("username")
        return Identity(account_id=str(claims["sub"]), username=username)


@dataclass(frozen=True, slots=True)
class Authorizer:
    verifier: TokenVerifier
    allow_anonymous: bool = True
    keys: ConnectKeys | None = None  # None: API keys are refused

    def authorize(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The REQUEST authorizer's policy: Allow with ``context.account_id`` (``""`` when
        anonymous), or Deny (API Gateway answers 403 and never opens the socket)."""
        method_arn = str(event["methodArn"])
        query = event.get("queryStringParameters") or {}
        token = query.get(TOKEN_PARAMETER)
        if API_KEY_PARAMETER in query:
            if token:
                return _refuse(method_arn, "both a token and an API key")
            return self._with_key(method_arn, query, event)
        if not token:
            if self.allow_anonymous:
                metrics.add_metric(
                    name="WebSocketAnonymousConnects", unit=MetricUnit.Count, value=1
                )
                return _policy(method_arn, ANONYMOUS, "", allow=True)
            return _refuse(method_arn, "missing token")
        try:
            identity = self.verifier.verify(str(token))
        except InvalidToken as exc:
            return _refuse(method_arn, str(exc))
        metrics.add_metric(name="WebSocketAuthorizedConnects", unit=MetricUnit.Count, value=1)
        return _policy(method_arn, identity.account_id, identity.account_id, allow=True)

    def _with_key(
        self, method_arn: str, query: Mapping[str, str], event: Mapping[str, Any]
    ) -> dict[str, Any]:
        if self.keys is None:
            return _refuse(method_arn, "API keys are not accepted here")
        identity_of = (event.get("requestContext") or {}).get("identity") or {}
        source_ip = str(identity_of.get("sourceIp") or "")
        try:
            identity = self.keys.verify_connect(query, source_ip)
        except InvalidToken as exc:
            return _refuse(method_arn, str(exc))
        metrics.add_metric(name="WebSocketApiKeyConnects", unit=MetricUnit.Count, value=1)
        extra = {"key_id": identity.key_id or ""}
        return _policy(
            method_arn, identity.account_id, identity.account_id, allow=True, extra=extra
        )


def _refuse(method_arn: str, reason: str) -> dict[str, Any]:
    metrics.add_metric(name="WebSocketRefusedConnects", unit=MetricUnit.Count, value=1)
    logger.info("WebSocket connect refused", extra={"reason": reason})
    return _policy(method_arn, ANONYMOUS, "", allow=False)


def _policy(
    method_arn: str,
    principal: str,
    account_id: str,
    *,
    allow: bool,
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    policy = APIGatewayAuthorizerResponseWebSocket.from_route_arn(
        method_arn, principal_id=principal, context={"account_id": account_id, **(extra or {})}
    )
    if allow:
        policy.allow_all_routes()
    else:
        policy.deny_all_routes()
    result: dict[str, Any] = policy.asdict()
    return result
