"""``PostgresNotices``: ``exchange.ledger.notices_port.NoticesPort`` on PostgreSQL, mixed into
``PostgresLedger``; and ``write_notice``, which every change of money outside trading calls in its
own transaction (``postgres.funding``, ``postgres.withdrawals``).

A notice is written without its ``notice_id`` and ``at_ns``: the outbox's trigger stamps them from
the row (``ledger#<id>`` and the transaction's time), so the id is the row's, known only once it is
inserted (migration 0005). The relay reads the unpublished notices oldest first and marks them;
two relays racing may both publish one notice, which the emailer's dedup on ``notice_id`` absorbs.
"""

import re
from collections.abc import Callable, Mapping, Sequence

from psycopg import Cursor
from psycopg.types.json import Jsonb

from exchange.ledger.errors import UnknownAccount
from exchange.ledger.notices_port import NoticesPort
from exchange.notices import ALWAYS_EMAILED, Notice, NoticeKind, NotificationPreferences

Row = tuple[object, ...]

_LEDGER_NOTICE_ID = re.compile(r"ledger#([1-9][0-9]{0,18})")


def write_notice(
    cur: Cursor[Row],
    *,
    kind: NoticeKind,
    event: str,
    account_id: str,
    data: Mapping[str, str],
) -> None:
    """Add a notice to the outbox, in the caller's transaction (so it commits, or not, with the
    change it tells of)."""
    cur.execute(
        "INSERT INTO ledger.outbox (notice) VALUES (%s)",
        (Jsonb({"kind": kind.value, "event": event, "account_id": account_id, "data": data}),),
    )


class PostgresNotices(NoticesPort):
    def _run[T](self, work: Callable[[Cursor[Row]], T]) -> T:
        """One transaction (PostgresLedger._run, which overrides this)."""
        raise NotImplementedError

    def unpublished_notices(self, *, limit: int) -> list[Notice]:
        rows = self._run(
            lambda cur: cur.execute(
                "SELECT notice::text FROM ledger.outbox WHERE published_at IS NULL "
                "ORDER BY id LIMIT %s",
                (limit,),
            ).fetchall()
        )
        return [Notice.decode(str(row[0])) for row in rows]

    def mark_published(self, notice_ids: Sequence[str]) -> None:
        """Mark them published; marking one again keeps its first time. Raises ValueError, and
        marks nothing, for an id that is not the ledger's (``ledger#<outbox id>``)."""
        ids: list[int] = []
        for notice_id in notice_ids:
            match = _LEDGER_NOTICE_ID.fullmatch(notice_id)
            if match is None:
                raise ValueError(f"{notice_id!r} is not a ledger notice id (ledger#<n>)")
            ids.append(int(match[1]))
        if not ids:
            return
        self._run(
            lambda cur: cur.execute(
                "UPDATE ledger.outbox SET published_at = now() "
                "WHERE id = ANY(%s) AND published_at IS NULL",
                (ids,),
            )
        )

    def notification_preferences(self, account_id: str) -> NotificationPreferences:
        rows = self._run(
            lambda cur: cur.execute(
                "SELECT p.kind, p.email FROM ledger.accounts a "
                "LEFT JOIN ledger.notification_preferences p ON p.account_id = a.account_id "
                "WHERE a.account_id = %s AND a.kind = 'USER'",
                (account_id,),
            ).fetchall()
        )
        if not rows:
            raise UnknownAccount(f"no user account {account_id!r}")
        chosen = {NoticeKind(str(kind)): email is True for kind, email in rows if kind is not None}
        defaults = NotificationPreferences.defaults(account_id)
        return NotificationPreferences(account_id, {**defaults.email, **chosen})

    def set_notification_preferences(
        self, preferences: NotificationPreferences
    ) -> NotificationPreferences:
        """Store every kind's choice (a kind not given: its default), so what is read back is
        what was set."""
        refused = [kind for kind in ALWAYS_EMAILED if preferences.email.get(kind) is False]
        if refused:
            raise ValueError(f"{', '.join(sorted(refused))} notices cannot be switched off")
        account_id = preferences.account_id
        email = {kind: preferences.wants(kind) for kind in NoticeKind}

        def work(cur: Cursor[Row]) -> None:
            found = cur.execute(
                "SELECT 1 FROM ledger.accounts WHERE account_id = %s AND kind = 'USER'",
                (account_id,),
            ).fetchone()
            if found is None:
                raise UnknownAccount(f"no user account {account_id!r}")
            cur.executemany(
                "INSERT INTO ledger.notification_preferences AS p (account_id, kind, email) "
                "VALUES (%s, %s, %s) ON CONFLICT (account_id, kind) "
                "DO UPDATE SET email = EXCLUDED.email, updated_at = now()",
                [(account_id, kind.value, wanted) for kind, wanted in email.items()],
            )

        self._run(work)
        return NotificationPreferences(account_id, email)
