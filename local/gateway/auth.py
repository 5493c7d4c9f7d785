"""The REST API's Cognito authorizer, locally. The token is verified by the same code as the
WebSocket authorizer (``exchange.realtime.auth.TokenVerifier``: RS256 against the pool's JWKS,
issuer, expiry, ``token_use`` access, app client), and its claims go to the integration, as API
Gateway's Cognito authorizer passes them. A bad or missing token gets 401 before any Lambda runs.
"""

from collections.abc import Mapping
from typing import Any, Protocol

import jwt

from exchange.realtime.auth import AuthUnavailable, InvalidToken, TokenVerifier


class Unauthorized(Exception):
    """The token is missing, malformed, expired or not from this pool and client."""


class ClaimsVerifier(Protocol):
    def verify(self, token: str) -> Mapping[str, Any]:
        """The token's claims; raises Unauthorized."""


class CognitoAuthorizer:
    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    @classmethod
    def for_pool(cls, *, jwks_url: str, issuer: str, app_client_id: str) -> "CognitoAuthorizer":
        return cls(
            TokenVerifier.for_pool(issuer=issuer, client_id=app_client_id, jwks_url=jwks_url)
        )

    def verify(self, token: str) -> Mapping[str, Any]:
        if token[:7].lower() == "bearer ":
            token = token[7:]
        try:
            self._verifier.verify(token)
        except (InvalidToken, AuthUnavailable) as exc:
            raise Unauthorized(str(exc)) from exc
        # Verified above; read the claims to hand them on.
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        return claims
