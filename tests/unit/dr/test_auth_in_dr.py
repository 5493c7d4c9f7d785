"""Authentication in DR (docs/deploy.md, "Authentication in DR"): the DR region keeps trusting the
us-east-1 user pool. A token issued before the failover keeps verifying in DR while the pool's
JWKS cannot be fetched, as long as the container fetched its keys before (``PyJWKClient`` with
``cache_keys``, ``lifespan=3600``); a container that never fetched them answers
``AuthUnavailable`` (an outage), never ``InvalidToken`` (a 401 that would log the user out)."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from exchange.realtime.auth import AuthUnavailable, TokenVerifier

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST"
CLIENT = "client-1"


class Jwks:
    """The pool's JWKS endpoint, which can go down (us-east-1's outage)."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        body = json.dumps({"keys": [{**public, "kid": "k1", "alg": "RS256", "use": "sig"}]})

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                payload = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def down(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def token(self) -> str:
        now = int(time.time())
        claims = {"sub": "acct-1", "iss": ISSUER, "token_use": "access", "client_id": CLIENT,
                  "exp": now + 3600, "iat": now, "username": "u"}  # fmt: skip
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def pool() -> Iterator[Jwks]:
    jwks = Jwks()
    yield jwks
    jwks.down()


def test_a_token_from_before_the_failover_still_verifies_while_the_pool_is_down(
    pool: Jwks,
) -> None:
    verifier = TokenVerifier.for_pool(issuer=ISSUER, client_id=CLIENT, jwks_url=pool.url)
    token = pool.token()
    assert verifier.verify(token).account_id == "acct-1"  # the keys are fetched once
    pool.down()  # us-east-1's Cognito is out
    assert verifier.verify(token).account_id == "acct-1"


def test_a_container_that_never_fetched_the_keys_reports_an_outage_not_a_bad_token() -> None:
    dead = Jwks()
    token = dead.token()
    url = dead.url
    dead.down()
    verifier = TokenVerifier.for_pool(issuer=ISSUER, client_id=CLIENT, jwks_url=url)
    with pytest.raises(AuthUnavailable):
        verifier.verify(token)
