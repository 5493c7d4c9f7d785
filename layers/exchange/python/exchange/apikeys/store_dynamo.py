"""API keys on DynamoDB: the ``api_keys`` table, and their security log in the ``audit`` table.

A key's creation (or revocation) and its audit entry are one ``TransactWriteItems``: the key's
put (or update) under its condition and the entry's put under ``attribute_not_exists(seq)``.
When another change of the same account took that seq first, the transaction is cancelled and
retried on the new head, so the chain never forks and never skips; when the key's own condition
fails, nothing was written.
"""

import random
import time
from collections.abc import Callable
from typing import Final

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from exchange.apikeys.audit import SecurityEvent, next_entry, security_partition
from exchange.apikeys.model import ApiKey
from exchange.apikeys.scopes import KEY_SCOPES
from exchange.journal.audit import AuditEntry, AuditLink
from exchange.journal.audit_log import audit_entries, audit_row
from exchange.orders.errors import StoreUnavailable
from exchange.tables import ApiKeyRecord, AuditRecord, transaction_connection

_ATTEMPTS: Final = 8
_BACKOFF_S: Final = 0.01
_CONDITION_FAILED: Final = "ConditionalCheckFailed"
_CONFLICTS: Final = frozenset({"TransactionConflict", "TransactionConflictException"})


class DynamoApiKeyStore:
    def __init__(self, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sleep = sleep

    def get(self, key_id: str) -> ApiKey | None:
        try:
            return _key(ApiKeyRecord.get(key_id, consistent_read=True))
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise StoreUnavailable(f"reading API key {key_id}: {exc}") from exc

    def list_keys(self, account_id: str) -> list[ApiKey]:
        try:
            rows = ApiKeyRecord.by_account.query(account_id, scan_index_forward=False)
            return [_key(row) for row in rows]
        except PynamoDBException as exc:
            raise StoreUnavailable(f"listing API keys: {exc}") from exc

    def create(self, key: ApiKey, event: SecurityEvent, *, now_ns: int) -> AuditEntry:
        def write(transaction: TransactWrite) -> None:
            transaction.save(_row(key), condition=ApiKeyRecord.key_id.does_not_exist())

        entry = self._append(event, now_ns, write)
        if entry is None:
            raise StoreUnavailable(f"API key id {key.key_id} exists already")  # 24 random chars
        return entry

    def revoke(self, key: ApiKey, *, revoked_ns: int, event: SecurityEvent) -> AuditEntry | None:
        def write(transaction: TransactWrite) -> None:
            transaction.update(
                ApiKeyRecord(key.key_id),
                actions=[ApiKeyRecord.revoked_ns.set(revoked_ns)],
                condition=ApiKeyRecord.key_id.exists()
                & ApiKeyRecord.revoked_ns.does_not_exist()
                & (ApiKeyRecord.account_id == key.account_id),
            )

        return self._append(event, revoked_ns, write)

    def security_log(self, account_id: str) -> list[AuditEntry]:
        return list(audit_entries(security_partition(account_id)))

    def _append(
        self,
        event: SecurityEvent,
        now_ns: int,
        write: Callable[[TransactWrite], None],
    ) -> AuditEntry | None:
        """Commit the entry that appends ``event`` with the key's write (``write``); None when
        the key's own condition failed (nothing was written)."""
        for attempt in range(_ATTEMPTS):
            try:
                entry = next_entry(self._head(event.account_id), event, now_ns=now_ns)
                with TransactWrite(connection=_connection()) as transaction:
                    # The entry goes first: pynamodb sends a transaction's puts before its
                    # updates whatever the order they were added in, and the cancellation
                    # reasons follow the request's order, so the entry's reason is always the
                    # first and the key's the second.
                    transaction.save(audit_row(entry), condition=AuditRecord.seq.does_not_exist())
                    write(transaction)
                return entry
            except TransactWriteError as exc:
                codes = [reason.code if reason else None for reason in exc.cancellation_reasons]
                if codes[1:2] == [_CONDITION_FAILED]:
                    return None
                raced = _CONDITION_FAILED in codes or any(code in _CONFLICTS for code in codes)
                if not raced:
                    raise StoreUnavailable(f"writing an API key: {exc}") from exc
            except PynamoDBException as exc:
                raise StoreUnavailable(f"writing an API key: {exc}") from exc
            self._sleep(_BACKOFF_S * 2**attempt * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
        raise StoreUnavailable(f"the security log of {event.account_id} kept changing; retry")

    @staticmethod
    def _head(account_id: str) -> AuditLink | None:
        rows = AuditRecord.query(
            security_partition(account_id),
            scan_index_forward=False,
            limit=1,
            consistent_read=True,
        )
        for row in rows:
            return AuditLink(int(row.seq), row.hash)
        return None


def _connection() -> Connection:
    # Both tables are in one region (and, locally, behind one endpoint).
    return transaction_connection(ApiKeyRecord)


def _row(key: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(
        key.key_id,
        account_id=key.account_id,
        username=key.username,
        label=key.label,
        scopes=list(key.scopes),
        allowed_ips=None if key.allowed_ips is None else list(key.allowed_ips),
        secret_ciphertext=key.secret_ciphertext,
        rate_limit_per_second=key.rate_limit_per_second,
        created_ns=key.created_ns,
        expires_ns=key.expires_ns,
        revoked_ns=key.revoked_ns,
    )


def _key(row: ApiKeyRecord) -> ApiKey:
    return ApiKey(
        key_id=row.key_id,
        account_id=row.account_id,
        username=row.username,
        label=row.label,
        scopes=tuple(scope for scope in KEY_SCOPES if scope in row.scopes),
        allowed_ips=None if row.allowed_ips is None else tuple(str(ip) for ip in row.allowed_ips),
        rate_limit_per_second=int(row.rate_limit_per_second),
        created_ns=int(row.created_ns),
        expires_ns=None if row.expires_ns is None else int(row.expires_ns),
        revoked_ns=None if row.revoked_ns is None else int(row.revoked_ns),
        secret_ciphertext=bytes(row.secret_ciphertext),
    )
