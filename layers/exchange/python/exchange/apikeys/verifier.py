"""Verifying a request signed with an API key: the REST authorizer's and the WebSocket
``$connect`` authorizer's one check.

In order, cheapest first, and nothing about the key is told apart before its signature holds:

1. the signature's fields parse and its timestamp is within its window (else ``KeyRejected``);
2. the key exists (a strongly consistent ``GetItem`` every time, so a revocation counts from the
   next request), is not revoked and not expired (else ``KeyRejected``);
3. the HMAC matches, with the secret decrypted by KMS under the key's encryption context, and
   cached in memory by key id and ciphertext (a rotated ciphertext is decrypted anew)
   (else ``KeyRejected``);
4. the key holds the route's scope and the caller's address is in its allow-list (else
   ``KeyForbidden``).

Each verified request is logged as one structured line, ``api_key_used`` (key id, account,
method, resource, path, source address): the record of a key's use.
"""

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from exchange.apikeys import signing
from exchange.apikeys.cipher import SecretCipher, encryption_context
from exchange.apikeys.errors import KeyForbidden, KeyRejected
from exchange.apikeys.model import ApiKey, ip_allowed
from exchange.apikeys.scopes import KeyScope, required_scope
from exchange.apikeys.store import ApiKeyStore
from exchange.observability import logger
from exchange.realtime.auth import Identity, InvalidToken, TokenVerifier
from exchange.settings import AuthorizerSettings

# The scope a key needs to open a private WebSocket stream (orders, fills, balances: reads).
CONNECT_SCOPE: Final[KeyScope] = "read"
_NS_PER_MS: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class VerifiedKey:
    key: ApiKey
    signed: signing.SignedAuthorization


class KeyVerifier:
    def __init__(
        self,
        *,
        store: ApiKeyStore,
        cipher: SecretCipher,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // _NS_PER_MS,
        cache_size: int = 1024,
    ) -> None:
        self._store = store
        self._cipher = cipher
        self._clock_ms = clock_ms
        self._cache_size = cache_size
        self._secrets: OrderedDict[tuple[str, bytes], str] = OrderedDict()

    def verify_request(
        self,
        authorization: str,
        *,
        method: str,
        path: str,
        resource: str,
        query: signing.QueryParameters | None,
        source_ip: str,
    ) -> VerifiedKey:
        """A REST request's ``Authorization`` header against the request it came with."""
        now_ms = self._clock_ms()
        try:
            signed = signing.parse_authorization(authorization)
            signing.check_timestamp(signed, now_ms)
            key, secret = self._usable(signed.key_id, now_ms)
            signing.verify(signed, secret, method, path, query, now_ms=now_ms)
        except signing.SignatureError as exc:
            raise KeyRejected(f"{exc.reason}: {exc}") from exc
        self._permit(key, required_scope(method, resource), source_ip)
        _log_use(key, method=method, resource=resource, path=path, source_ip=source_ip)
        return VerifiedKey(key, signed)

    def verify_connect(self, parameters: Mapping[str, str], source_ip: str) -> ApiKey:
        """A WebSocket ``$connect`` signed in its query string; the key needs ``read``."""
        now_ms = self._clock_ms()
        try:
            signed = signing.parse_ws_connect(parameters)
            signing.check_timestamp(signed, now_ms)
            key, secret = self._usable(signed.key_id, now_ms)
            signing.verify_ws_connect(signed, secret, now_ms=now_ms)
        except signing.SignatureError as exc:
            raise KeyRejected(f"{exc.reason}: {exc}") from exc
        self._permit(key, CONNECT_SCOPE, source_ip)
        path = signing.WS_CONNECT_PATH
        _log_use(key, method="GET", resource=path, path=path, source_ip=source_ip)
        return key

    def _usable(self, key_id: str, now_ms: int) -> tuple[ApiKey, str]:
        key = self._store.get(key_id)
        if key is None:
            raise KeyRejected(f"unknown API key {key_id}")
        if key.revoked_ns is not None:
            raise KeyRejected(f"API key {key_id} is revoked")
        if key.expired(now_ms * _NS_PER_MS):
            raise KeyRejected(f"API key {key_id} has expired")
        return key, self._secret(key)

    def _secret(self, key: ApiKey) -> str:
        cached = (key.key_id, key.secret_ciphertext)
        secret = self._secrets.get(cached)
        if secret is None:
            context = encryption_context(key.key_id, key.account_id)
            secret = self._cipher.decrypt(key.secret_ciphertext, context).decode()
            self._secrets[cached] = secret
            while len(self._secrets) > self._cache_size:
                self._secrets.popitem(last=False)
        else:
            self._secrets.move_to_end(cached)
        return secret

    @staticmethod
    def _permit(key: ApiKey, scope: KeyScope | None, source_ip: str) -> None:
        if scope is None or scope not in key.scopes:
            raise KeyForbidden(f"API key {key.key_id} lacks the scope this route needs ({scope})")
        if not ip_allowed(source_ip, key.allowed_ips):
            raise KeyForbidden(f"API key {key.key_id} may not be used from {source_ip}")


class ConnectKeys:
    """``exchange.realtime.auth.ConnectKeys`` over a ``KeyVerifier``: the WebSocket authorizer's
    API-key path, whose every refusal is a Deny (as a bad token's is)."""

    def __init__(self, verifier: KeyVerifier) -> None:
        self._verifier = verifier

    def verify_connect(self, parameters: Mapping[str, str], source_ip: str) -> Identity:
        try:
            key = self._verifier.verify_connect(parameters, source_ip)
        except (KeyRejected, KeyForbidden) as exc:
            raise InvalidToken(str(exc)) from exc
        return Identity(account_id=key.account_id, username=key.username, key_id=key.key_id)


def _log_use(key: ApiKey, *, method: str, resource: str, path: str, source_ip: str) -> None:
    logger.info(
        "api_key_used",
        extra={
            "key_id": key.key_id,
            "account_id": key.account_id,
            "method": method,
            "resource": resource,
            "path": path,
            "source_ip": source_ip,
        },
    )


def verifiers(
    settings: AuthorizerSettings,
    *,
    store: ApiKeyStore | None = None,
    cipher: SecretCipher | None = None,
) -> tuple[TokenVerifier, KeyVerifier]:
    """What both authorizers (REST and WebSocket ``$connect``) verify with: the pool's tokens and
    the account's keys, over the deployment's adapters unless tests pass their own."""
    from exchange.apikeys.cipher import KmsCipher  # noqa: PLC0415 - at first use
    from exchange.apikeys.store_dynamo import DynamoApiKeyStore  # noqa: PLC0415
    from exchange.tables import bind_tables  # noqa: PLC0415

    assert settings.app_client_id is not None  # noqa: S101 - checked by the settings
    bind_tables(settings)
    tokens = TokenVerifier.for_pool(
        issuer=settings.issuer_url,
        client_id=settings.app_client_id,
        jwks_url=settings.jwks_endpoint,
    )
    keys = KeyVerifier(
        store=store or DynamoApiKeyStore(), cipher=cipher or KmsCipher.from_settings(settings)
    )
    return tokens, keys
