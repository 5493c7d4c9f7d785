"""The REST API's Cognito user-pool authorizer, locally, with API Gateway's rules.

A ``COGNITO_USER_POOLS`` method reads the token from its identity source (the ``Authorization``
header; a missing one is 401 before anything runs). The token must verify against the pool (RS256
signature from the pool's JWKS, ``iss``, ``exp``). Then, as API Gateway does:

- a method WITH authorization scopes takes only an **access** token whose ``scope`` claim holds at
  least one of them;
- a method WITHOUT scopes takes only an **ID** token issued to an app client of the pool.

("Control access to REST APIs using Amazon Cognito user pools as an authorizer", API Gateway
developer guide; "How do I troubleshoot 401 Unauthorized errors ... Cognito user pool", AWS
Knowledge Center: "If there are no additional scopes configured on the API Gateway method, make
sure that you're using a valid ID token. If additional scopes are configured ..., make sure that
you use a valid access token.") The token's claims go to the integration as API Gateway passes
them: the proxy event (``local.gateway.events.rest_event``) makes each one a string, an array
claim such as ``cognito:groups`` (the admin API's check) its items joined by a comma.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import jwt

from exchange.realtime.auth import AuthUnavailable, InvalidToken, TokenVerifier


class Unauthorized(Exception):
    """The token is missing, malformed, expired, not from this pool, or not the kind (ID or
    access) or scope the method asks for."""


class ClaimsVerifier(Protocol):
    def verify(self, token: str, scopes: Sequence[str] = ()) -> Mapping[str, Any]:
        """The token's claims for a method with ``scopes``; raises Unauthorized."""


class CognitoAuthorizer:
    def __init__(self, *, issuer: str, app_client_id: str, jwks: jwt.PyJWKClient) -> None:
        # The pool's signature, issuer and expiry are checked as the WebSocket authorizer does.
        self._tokens = TokenVerifier(issuer=issuer, client_id=app_client_id, jwks=jwks)
        self._client_id = app_client_id

    @classmethod
    def for_pool(cls, *, jwks_url: str, issuer: str, app_client_id: str) -> "CognitoAuthorizer":
        return cls(
            issuer=issuer,
            app_client_id=app_client_id,
            jwks=jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=5),
        )

    def verify(self, token: str, scopes: Sequence[str] = ()) -> Mapping[str, Any]:
        if token[:7].lower() == "bearer ":
            token = token[7:]
        try:
            claims = self._tokens.claims(token)
        except (InvalidToken, AuthUnavailable) as exc:
            raise Unauthorized(str(exc)) from exc
        if scopes:
            if claims["token_use"] != "access":  # noqa: S105 - a claim value
                raise Unauthorized("this method has scopes: it takes an access token")
            granted = set(str(claims.get("scope", "")).split())
            if not granted & set(scopes):
                raise Unauthorized(f"the token has none of the scopes {sorted(scopes)}")
            if claims.get("client_id") != self._client_id:
                raise Unauthorized("the token was issued to another app client")
        else:
            if claims["token_use"] != "id":  # noqa: S105 - a claim value
                raise Unauthorized("this method has no scopes: it takes an ID token")
            if claims.get("aud") != self._client_id:
                raise Unauthorized("the token was issued to another app client")
        return claims
