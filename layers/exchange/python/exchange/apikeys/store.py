"""The port the key service and the authorizers store keys through. The DynamoDB adapter is
``store_dynamo``; the in-memory fake, with the same rules, ``exchange.testing.apikeys``."""

from typing import Protocol

from exchange.apikeys.audit import SecurityEvent
from exchange.apikeys.model import ApiKey
from exchange.journal.audit import AuditEntry


class ApiKeyStore(Protocol):
    def get(self, key_id: str) -> ApiKey | None:
        """The key as last written (a strongly consistent read: a revocation counts at once)."""
        ...

    def list_keys(self, account_id: str) -> list[ApiKey]:
        """The account's keys, revoked ones included, newest first."""
        ...

    def create(self, key: ApiKey, event: SecurityEvent, *, now_ns: int) -> AuditEntry:
        """Write a new key and append ``event`` to its account's security log, together."""
        ...

    def revoke(self, key: ApiKey, *, revoked_ns: int, event: SecurityEvent) -> AuditEntry | None:
        """Mark ``key`` revoked and append ``event``, together; None (nothing written) when it
        was revoked already."""
        ...

    def security_log(self, account_id: str) -> list[AuditEntry]:
        """The account's security entries in seq order."""
        ...
