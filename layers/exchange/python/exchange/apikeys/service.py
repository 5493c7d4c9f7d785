"""Creating, listing and revoking an account's API keys (``/v1/api-keys``, the owner's Cognito
access token only: a key never manages keys).

- ``create``: scopes a non-empty subset of read/trade/withdraw; an optional allow-list of CIDR
  blocks; an optional expiry, in the future; an optional rate limit up to the deployment's
  default (which a key without one gets). At most ``max_per_account`` active keys (neither
  revoked nor expired). The secret is generated here, encrypted with KMS under the key's
  encryption context, and returned once; only the ciphertext is stored.
- ``list``: every key of the account, revoked ones with their ``revoked_ns``; never a secret.
- ``revoke``: idempotent; a revoked key stays listed. Verification reads the key on every request
  (``verifier``), so a revocation takes effect on the next request.

Each creation and revocation is appended to the account's security log in the audit table, in
the same transaction as the key's write (``audit``, ``store_dynamo``). A creation is also told
to the owner: an ``api_key.created`` security notice is published once the key is stored, when
the service has a publisher (``notices``). A publish that fails does not fail the creation (the
key exists and its secret must reach the caller): it is logged and counted
(``SecurityNoticesNotPublished``). The use of a key is
recorded by the authorizers: one ``api_key_used`` log line per verified request.

The active-key cap is counted from the account's index (``by_account``), which DynamoDB updates
asynchronously: a burst of concurrent creations can pass it by the few the index has not shown
yet (the function's reserved concurrency bounds them).
"""

import time
from collections.abc import Callable
from dataclasses import replace

from aws_lambda_powertools.metrics import MetricUnit

from exchange.apikeys.audit import SecurityEvent, SecurityKind
from exchange.apikeys.cipher import SecretCipher, encryption_context
from exchange.apikeys.errors import ApiKeyNotFound, InvalidApiKeyRequest, TooManyApiKeys
from exchange.apikeys.model import (
    MAX_LABEL_LENGTH,
    ApiKey,
    CreatedKey,
    KeySpec,
    networks_of,
    new_key_id,
    new_secret,
    scopes_of,
)
from exchange.apikeys.store import ApiKeyStore
from exchange.notifications.publisher import NoticeNotPublished, NoticePublisher
from exchange.notifications.security import api_key_created
from exchange.observability import logger, metrics


class ApiKeyService:
    def __init__(
        self,
        *,
        store: ApiKeyStore,
        cipher: SecretCipher,
        default_rate_limit: int,
        max_per_account: int,
        clock_ns: Callable[[], int] = time.time_ns,
        notices: NoticePublisher | None = None,
    ) -> None:
        self._store = store
        self._notices = notices
        self._cipher = cipher
        self._default_rate_limit = default_rate_limit
        self._max_per_account = max_per_account
        self._clock_ns = clock_ns

    def create(self, account_id: str, username: str | None, spec: KeySpec) -> CreatedKey:
        now_ns = self._clock_ns()
        key = self._validated(account_id, username, spec, now_ns)
        active = [k for k in self._store.list_keys(account_id) if k.active(now_ns)]
        if len(active) >= self._max_per_account:
            raise TooManyApiKeys(
                f"the account has {len(active)} active API keys, the most allowed; revoke one"
            )
        secret = new_secret()
        ciphertext = self._cipher.encrypt(
            secret.encode(), encryption_context(key.key_id, account_id)
        )
        key = replace(key, secret_ciphertext=ciphertext)
        self._store.create(key, _event("api_key_created", key), now_ns=now_ns)
        self._notify_created(key, now_ns)
        return CreatedKey(key=key, secret=secret)

    def list_keys(self, account_id: str) -> list[ApiKey]:
        return self._store.list_keys(account_id)

    def revoke(self, account_id: str, key_id: str) -> ApiKey:
        key = self._owned(account_id, key_id)
        if key.revoked_ns is not None:
            return key
        revoked_ns = self._clock_ns()
        revoked = replace(key, revoked_ns=revoked_ns)
        event = _event("api_key_revoked", revoked)
        if self._store.revoke(key, revoked_ns=revoked_ns, event=event) is None:
            return self._owned(account_id, key_id)  # revoked meanwhile: that revocation stands
        return revoked

    def _notify_created(self, key: ApiKey, now_ns: int) -> None:
        if self._notices is None:
            return
        notice = api_key_created(
            key.account_id, key_id=key.key_id, label=key.label, scopes=list(key.scopes),
            at_ns=now_ns,
        )  # fmt: skip
        try:
            self._notices.publish(notice)
        except NoticeNotPublished as exc:
            metrics.add_metric(name="SecurityNoticesNotPublished", unit=MetricUnit.Count, value=1)
            logger.warning(
                "api_key.created notice not published",
                extra={"key_id": key.key_id, "error": str(exc)},
            )

    def _owned(self, account_id: str, key_id: str) -> ApiKey:
        key = self._store.get(key_id)
        if key is None or key.account_id != account_id:
            raise ApiKeyNotFound(f"no API key {key_id} on this account")
        return key

    def _validated(
        self, account_id: str, username: str | None, spec: KeySpec, now_ns: int
    ) -> ApiKey:
        label = spec.label.strip()
        if not label or len(label) > MAX_LABEL_LENGTH:
            raise InvalidApiKeyRequest(f"a label is 1 to {MAX_LABEL_LENGTH} characters")
        if spec.expires_ns is not None and spec.expires_ns <= now_ns:
            raise InvalidApiKeyRequest("expires_at must be in the future")
        if "withdraw" in spec.scopes and not spec.allowed_ips:
            # Money leaving the exchange: a leaked key must be useless from anywhere else (as
            # the major venues require an allow-list for withdrawal permission).
            raise InvalidApiKeyRequest("a key with the withdraw scope needs allowed_ips")
        limit = spec.rate_limit_per_second or self._default_rate_limit
        if not 1 <= limit <= self._default_rate_limit:
            raise InvalidApiKeyRequest(
                f"rate_limit_per_second is 1 to {self._default_rate_limit}, was {limit}"
            )
        return ApiKey(
            key_id=new_key_id(),
            account_id=account_id,
            username=username,
            label=label,
            scopes=scopes_of(spec.scopes),
            allowed_ips=None if spec.allowed_ips is None else networks_of(spec.allowed_ips),
            rate_limit_per_second=limit,
            created_ns=now_ns,
            expires_ns=spec.expires_ns,
            revoked_ns=None,
            secret_ciphertext=b"",
        )


def _event(kind: SecurityKind, key: ApiKey) -> SecurityEvent:
    """The audit entry's content: what the key may do and until when, never its secret."""
    details = {
        "key_id": key.key_id,
        "username": key.username,
        "label": key.label,
        "scopes": list(key.scopes),
        "allowed_ips": None if key.allowed_ips is None else list(key.allowed_ips),
        "rate_limit_per_second": key.rate_limit_per_second,
        "expires_ns": key.expires_ns,
        "revoked_ns": key.revoked_ns,
    }
    return SecurityEvent(kind, key.account_id, details)
