"""API keys over in-memory fakes and a controlled clock; signed requests as the REST
authorizer (REQUEST event) and the handler (proxy event) receive them; Cognito-shaped access
tokens signed with a key of our own, behind a JWKS client that never goes to the network."""

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from exchange.apikeys import signing
from exchange.apikeys.authorizer import RestAuthorizer
from exchange.apikeys.model import CreatedKey, KeySpec
from exchange.apikeys.service import ApiKeyService
from exchange.apikeys.verifier import KeyVerifier
from exchange.realtime.auth import TokenVerifier
from exchange.testing.apikeys import FakeCipher, InMemoryApiKeyStore, rest_authorizer_event
from exchange.testing.lambda_events import rest_proxy_event

START_MS = 1_700_000_000_000
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST"
CLIENT_ID = "app-client"
SIGN_IN_SCOPE = "aws.cognito.signin.user.admin"
KEY_ADDRESS = "203.0.113.7"


@dataclass
class Clock:
    now_ms: int = START_MS

    def ms(self) -> int:
        return self.now_ms

    def ns(self) -> int:
        return self.now_ms * 1_000_000


class LocalJwks(jwt.PyJWKClient):
    """The pool's JWKS, served from memory: one RSA key, kid ``test``."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        super().__init__("https://unused.invalid/jwks.json")
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        self._signing_key = jwt.PyJWK({**public, "kid": "test", "alg": "RS256", "use": "sig"})

    def get_signing_key_from_jwt(self, token: str | bytes) -> jwt.PyJWK:
        if jwt.get_unverified_header(token).get("kid") != "test":
            raise jwt.PyJWKClientError("unknown kid")
        return self._signing_key


@dataclass
class Keys:
    clock: Clock = field(default_factory=Clock)
    store: InMemoryApiKeyStore = field(default_factory=InMemoryApiKeyStore)
    cipher: FakeCipher = field(default_factory=FakeCipher)
    signing_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @property
    def service(self) -> ApiKeyService:
        return ApiKeyService(
            store=self.store,
            cipher=self.cipher,
            default_rate_limit=20,
            max_per_account=5,
            clock_ns=self.clock.ns,
        )

    @property
    def verifier(self) -> KeyVerifier:
        return self.shared_verifier

    @property
    def authorizer(self) -> RestAuthorizer:
        tokens = TokenVerifier(issuer=ISSUER, client_id=CLIENT_ID, jwks=LocalJwks(self.signing_key))
        return RestAuthorizer(
            tokens=tokens, client_id=CLIENT_ID, token_scope=SIGN_IN_SCOPE, keys=self.verifier
        )

    def __post_init__(self) -> None:
        self.shared_verifier = KeyVerifier(
            store=self.store, cipher=self.cipher, clock_ms=self.clock.ms
        )

    def create(
        self,
        scopes: Sequence[str] = ("read", "trade"),
        *,
        account_id: str = "alice",
        allowed_ips: Sequence[str] | None = None,
        expires_ns: int | None = None,
        rate_limit: int | None = None,
    ) -> CreatedKey:
        spec = KeySpec(
            label="bot",
            scopes=tuple(scopes),
            allowed_ips=None if allowed_ips is None else tuple(allowed_ips),
            expires_ns=expires_ns,
            rate_limit_per_second=rate_limit,
        )
        return self.service.create(account_id, f"{account_id}-name", spec)

    def token(self, **claims: Any) -> str:
        """An access token as the pool issues it (overridable claim by claim). PyJWT checks
        ``exp`` against the real clock, so the token's times are real ones."""
        now = int(time.time())
        payload = {
            "sub": "alice",
            "iss": ISSUER,
            "client_id": CLIENT_ID,
            "token_use": "access",
            "scope": SIGN_IN_SCOPE,
            "username": "alice-name",
            "iat": now,
            "exp": now + 3600,
            **claims,
        }
        return jwt.encode(payload, self.signing_key, algorithm="RS256", headers={"kid": "test"})


@pytest.fixture
def keys() -> Keys:
    return Keys()


@dataclass(frozen=True)
class Signed:
    """One request signed with a key: its ``Authorization`` header and its parts."""

    method: str
    path: str
    resource: str
    query: Mapping[str, Sequence[str]]
    body: bytes
    authorization: str
    source_ip: str = KEY_ADDRESS

    def authorizer_event(self, **changes: Any) -> dict[str, Any]:
        return rest_authorizer_event(
            changes.get("method", self.method),
            changes.get("path", self.path),
            resource=changes.get("resource", self.resource),
            headers={"Authorization": changes.get("authorization", self.authorization)},
            query=changes.get("query", self.query),
            source_ip=changes.get("source_ip", self.source_ip),
        )

    def proxy_event(self, *, received_ms: int | None = None, **changes: Any) -> dict[str, Any]:
        """The proxy event of the same request (or of one with ``changes``)."""
        body: bytes = changes.get("body", self.body)
        headers = [("Authorization", self.authorization)]
        if body:
            headers.append(("Content-Type", "application/json"))
        query = changes.get("query", self.query)
        event = rest_proxy_event(
            changes.get("method", self.method),
            changes.get("path", self.path),
            resource=changes.get("resource", self.resource),
            stage="prod",
            headers=headers,
            query=[(name, value) for name, values in query.items() for value in values],
            body=body.decode() if body else None,
            source_ip=changes.get("source_ip", self.source_ip),
        )
        if received_ms is not None:
            event["requestContext"]["requestTimeEpoch"] = received_ms
        return event


def sign(
    created: CreatedKey,
    method: str,
    path: str,
    *,
    resource: str | None = None,
    query: Mapping[str, Sequence[str]] | None = None,
    body: bytes = b"",
    at_ms: int = START_MS,
    window_ms: int = signing.DEFAULT_WINDOW_MS,
    secret: str | None = None,
    source_ip: str = KEY_ADDRESS,
) -> Signed:
    header = signing.authorization_header(
        created.key.key_id,
        secret or created.secret,
        method,
        path,
        query or {},
        body,
        timestamp_ms=at_ms,
        window_ms=window_ms,
    )
    return Signed(method, path, resource or path, dict(query or {}), body, header, source_ip)


def effect(policy: Mapping[str, Any]) -> str:
    return str(policy["policyDocument"]["Statement"][0]["Effect"])


def resource_of(policy: Mapping[str, Any]) -> str:
    return str(policy["policyDocument"]["Statement"][0]["Resource"])


def now_ms() -> int:
    return time.time_ns() // 1_000_000
