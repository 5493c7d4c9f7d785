"""Onboarding and KYC decisions on PostgreSQL: ``ledger.accounts`` and ``ledger.kyc_events``.

Each runs as its function's own role (``exchange_onboarding``, ``exchange_kyc``; the operator's
command as the admin): onboarding can open an account and fill its email, never write a KYC status
(new rows take the column defaults: kind USER, KYC PENDING); the KYC function can change only the
KYC columns.
"""

from datetime import datetime

from psycopg import Cursor
from psycopg.errors import DeadlockDetected, SerializationFailure
from psycopg_pool import ConnectionPool

from exchange.ledger.errors import UnknownAccount
from exchange.ledger.model import KycStatus
from exchange.ledger.onboarding import AccountOpener
from exchange.ledger.verification import (
    KycDecision,
    KycOutcome,
    KycRegistry,
    KycResult,
    KycSource,
    KycState,
    supersedes,
)

Row = tuple[object, ...]
_RETRYABLE = (DeadlockDetected, SerializationFailure)
_SELECT_STATE = (
    "SELECT kyc_status, kyc_decided_by, kyc_decided_at FROM ledger.accounts "
    "WHERE account_id = %s AND kind = 'USER'"
)
_SELECT_STATE_FOR_UPDATE = _SELECT_STATE + " FOR UPDATE"


class PostgresAccountOpener(AccountOpener):
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def open_user(self, account_id: str, *, email: str | None) -> bool:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            opened = cur.execute(
                "INSERT INTO ledger.accounts (account_id, email) VALUES (%s, %s) "
                "ON CONFLICT (account_id) DO NOTHING RETURNING 1",
                (account_id, email),
            ).fetchone()
            if opened is None and email is not None:
                cur.execute(
                    "UPDATE ledger.accounts SET email = %s "
                    "WHERE account_id = %s AND kind = 'USER' AND email IS NULL",
                    (email, account_id),
                )
        return opened is not None


class PostgresKycRegistry(KycRegistry):
    def __init__(self, pool: ConnectionPool, *, retries: int = 3) -> None:
        self._pool = pool
        self._retries = retries

    def decide(self, decision: KycDecision) -> KycOutcome:
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                    return _decide(cur, decision)
            except _RETRYABLE:
                if attempt >= self._retries:
                    raise

    def state(self, account_id: str) -> KycState | None:
        """The account's KYC status in force and who decided it (None: no such user account)."""
        with self._pool.connection() as conn, conn.cursor() as cur:
            return _state(cur, account_id, lock=False)

    def history(self, account_id: str) -> list[dict[str, object]]:
        """Every KYC decision received for the account, oldest first (the operator's view)."""
        with self._pool.connection() as conn, conn.cursor() as cur:
            rows = cur.execute(
                "SELECT event_no, source, actor, event_id, decided_at, status_before, "
                "status_after, applied, reason, created_at FROM ledger.kyc_events "
                "WHERE account_id = %s ORDER BY event_no",
                (account_id,),
            ).fetchall()
        return [_event(row) for row in rows]


def _event(row: Row) -> dict[str, object]:
    event_no, source, actor, event_id, decided_at, before, after, applied, reason, created = row
    assert isinstance(created, datetime)  # noqa: S101 - timestamptz reads as datetime
    return {
        "event_no": event_no,
        "source": source,
        "actor": actor,
        "event_id": event_id,
        "decided_at": decided_at,
        "status_before": before,
        "status_after": after,
        "applied": applied,
        "reason": reason,
        "created_at": created.isoformat(),
    }


def _state(cur: Cursor[Row], account_id: str, *, lock: bool) -> KycState | None:
    row = cur.execute(_SELECT_STATE_FOR_UPDATE if lock else _SELECT_STATE, (account_id,)).fetchone()
    if row is None:
        return None
    status, decided_by, decided_at = row
    return KycState(
        status=KycStatus(str(status)),
        decided_by=None if decided_by is None else KycSource(str(decided_by)),
        decided_at=None if decided_at is None else int(str(decided_at)),
    )


def _decide(cur: Cursor[Row], decision: KycDecision) -> KycOutcome:
    # The account's row lock orders every decision on it: a webhook and an override never
    # interleave, and each sees the one before.
    current = _state(cur, decision.account_id, lock=True)
    if current is None:
        raise UnknownAccount(f"no user account {decision.account_id!r}")
    applied = supersedes(decision, current)
    recorded = cur.execute(
        "INSERT INTO ledger.kyc_events (account_id, source, actor, event_id, decided_at, "
        "status_before, status_after, applied, reason) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (event_id) DO NOTHING RETURNING event_no",
        (
            decision.account_id,
            decision.source.value,
            decision.actor,
            decision.event_id,
            decision.decided_at,
            current.status.value,
            decision.status.value,
            applied,
            decision.reason,
        ),
    ).fetchone()
    if recorded is None:
        return KycOutcome(decision.account_id, KycResult.DUPLICATE, current.status)
    if not applied:
        return KycOutcome(decision.account_id, KycResult.SUPERSEDED, current.status)
    cur.execute(
        "UPDATE ledger.accounts SET kyc_status = %s, kyc_decided_by = %s, kyc_decided_at = %s, "
        "kyc_updated_at = now() WHERE account_id = %s",
        (decision.status.value, decision.source.value, decision.decided_at, decision.account_id),
    )
    return KycOutcome(decision.account_id, KycResult.APPLIED, decision.status)
