"""The REST Lambda authorizer's own time per request (part of ``make bench-api``).

Warm, in-process, the real ``RestAuthorizer`` over in-memory adapters (the key store, a cipher
that is not KMS, the pool's JWKS from memory), so only our code, PyJWT and hashlib are timed:

- a request signed with an API key (``EXCHANGE-HMAC-SHA256``): parse, key lookup, the decrypted
  secret from the verifier's cache, the signature, the window, the scope, the policy;
- a request with a Cognito access token: RS256 verification, the claims, the policy.

In AWS a signed request also costs one DynamoDB ``GetItem`` (the key is read on every request,
so a revocation counts at once), and a token's answer is cached by API Gateway for 300 s, so most
token requests never reach the authorizer; a signed request's header is unique to it, so every
one does. Each request is signed before its timer starts.
"""

import contextlib
import io
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_BENCH"
CLIENT_ID = "bench-client"
SCOPE = "aws.cognito.signin.user.admin"
BATCH = 1_000  # requests signed at once, well inside their 60 s window


class _MemoryJwks(jwt.PyJWKClient):
    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        super().__init__("https://unused.invalid/jwks.json")
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        self._key = jwt.PyJWK({**public, "kid": "bench", "alg": "RS256", "use": "sig"})

    def get_signing_key_from_jwt(self, token: str | bytes) -> jwt.PyJWK:
        return self._key


def _timed(call: Callable[[dict[str, Any]], Any], events: list[dict[str, Any]]) -> list[float]:
    samples = []
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):  # the metrics' EMF lines go to CloudWatch in AWS
        for event in events:
            start = time.perf_counter_ns()
            answer = call(event)
            samples.append((time.perf_counter_ns() - start) / 1_000)
            if answer["policyDocument"]["Statement"][0]["Effect"] != "Allow":
                raise SystemExit(f"unexpected answer: {answer}")
            if sink.tell() > 1 << 20:
                sink.seek(0)
                sink.truncate()
    return samples


def warm_authorizer(iterations: int, warmup: int) -> dict[str, list[float]]:
    """Microseconds per ``authorize`` call, for signed requests and for tokens."""
    from exchange.apikeys import signing  # noqa: PLC0415
    from exchange.apikeys.authorizer import RestAuthorizer  # noqa: PLC0415
    from exchange.apikeys.model import KeySpec  # noqa: PLC0415
    from exchange.apikeys.service import ApiKeyService  # noqa: PLC0415
    from exchange.apikeys.verifier import KeyVerifier  # noqa: PLC0415
    from exchange.realtime.auth import TokenVerifier  # noqa: PLC0415
    from exchange.testing.apikeys import (  # noqa: PLC0415
        FakeCipher,
        InMemoryApiKeyStore,
        rest_authorizer_event,
    )

    store, cipher = InMemoryApiKeyStore(), FakeCipher()
    keys = ApiKeyService(store=store, cipher=cipher, default_rate_limit=20, max_per_account=5)
    created = keys.create("bench", "bench", KeySpec(label="bench", scopes=("read", "trade")))
    signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    authorizer = RestAuthorizer(
        tokens=TokenVerifier(issuer=ISSUER, client_id=CLIENT_ID, jwks=_MemoryJwks(signing_key)),
        client_id=CLIENT_ID,
        token_scope=SCOPE,
        keys=KeyVerifier(store=store, cipher=cipher),
    )
    query = {"symbol": ["BTC-USD"], "limit": ["50"]}

    def signed_events(count: int) -> list[dict[str, Any]]:
        now_ms = time.time_ns() // 1_000_000
        header = signing.authorization_header(
            created.key.key_id,
            created.secret,
            "GET",
            "/v1/orders",
            query,
            b"",
            timestamp_ms=now_ms,
            window_ms=signing.MAX_WINDOW_MS,
        )
        return [
            rest_authorizer_event(
                "GET",
                "/v1/orders",
                resource="/v1/orders",
                headers={"Authorization": header},
                query=query,
            )
            for _ in range(count)
        ]

    now = int(time.time())
    claims = {
        "sub": "bench",
        "iss": ISSUER,
        "client_id": CLIENT_ID,
        "token_use": "access",
        "scope": SCOPE,
        "username": "bench",
        "iat": now,
        "exp": now + 3600,
    }
    token = jwt.encode(claims, signing_key, algorithm="RS256", headers={"kid": "bench"})
    token_event = rest_authorizer_event(
        "GET", "/v1/orders", resource="/v1/orders", headers={"Authorization": f"Bearer {token}"}
    )
    results: dict[str, list[float]] = {"api_key": [], "token": []}
    total = warmup + iterations
    done = 0
    while done < total:
        count = min(BATCH, total - done)
        key_samples = _timed(authorizer.authorize, signed_events(count))
        token_samples = _timed(authorizer.authorize, [token_event] * count)
        if done + count > warmup:
            keep = slice(max(0, warmup - done), None)
            results["api_key"].extend(key_samples[keep])
            results["token"].extend(token_samples[keep])
        done += count
    return results
