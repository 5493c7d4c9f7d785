"""``PostgresWithdrawals``: ``exchange.ledger.payouts_port.WithdrawalsPort`` on PostgreSQL,
mixed into ``PostgresLedger``.

Every step of a withdrawal locks its row (``FOR UPDATE``) before it reads the status, so a cancel,
a claim and the provider's outcome never interleave: whichever comes second sees what the first
committed (a claim after a cancel sends nothing; a cancel after a claim is refused). The hold's
money moves in the same transaction as the status, through ``journal.post``, with its notice in
the outbox; the request and the provider's outcome share ``postgres.funding`` with the port's
``request_withdrawal``, ``complete_withdrawal`` and ``fail_withdrawal``.

The destination's waiting period runs on the database's clock (``now()``), the one clock every
function shares, so no function's clock can shorten it.
"""

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from psycopg import Cursor

from exchange.ledger.errors import (
    DestinationConflict,
    InvalidWebhook,
    ReplayedWebhook,
    UnknownAccount,
    UnknownDestination,
    WithdrawalNotCancellable,
)
from exchange.ledger.model import Withdrawal, WithdrawalStatus
from exchange.ledger.money import scale_of, show
from exchange.ledger.movements import Bucket, Pocket, move
from exchange.ledger.payouts_port import (
    Destination,
    DestinationKind,
    NewDestination,
    PayoutNotice,
    PayoutOrder,
    WithdrawalsPort,
)
from exchange.ledger.postgres import funding
from exchange.ledger.postgres.accounts import refuse_frozen
from exchange.ledger.postgres.journal import post
from exchange.ledger.postgres.notices import write_notice
from exchange.notices import NoticeKind

Row = tuple[object, ...]

_DESTINATION_COLUMNS = (
    "destination_id, account_id, asset, kind, address, label, created_at, usable_at, removed_at"
)
_SELECT_DESTINATION = (
    f"SELECT {_DESTINATION_COLUMNS} FROM ledger.withdrawal_destinations WHERE destination_id = %s"  # noqa: S608 - fixed columns
)


class PostgresWithdrawals(WithdrawalsPort):
    _scales: dict[str, int]  # set by PostgresLedger

    def _run[T](self, work: Callable[[Cursor[Row]], T]) -> T:
        """One transaction (PostgresLedger._run, which overrides this)."""
        raise NotImplementedError

    # -- destinations ---------------------------------------------------------------------------
    def add_destination(self, new: NewDestination, *, delay: timedelta) -> Destination:
        scale_of(self._scales, new.asset)  # UnknownAsset before anything is written
        if delay < timedelta(0):
            raise ValueError(f"a destination's waiting period cannot be negative, was {delay}")

        def work(cur: Cursor[Row]) -> Destination:
            found = cur.execute(
                "SELECT 1 FROM ledger.accounts WHERE account_id = %s AND kind = 'USER'",
                (new.account_id,),
            ).fetchone()
            if found is None:
                raise UnknownAccount(f"no user account {new.account_id!r}")
            inserted = cur.execute(
                "INSERT INTO ledger.withdrawal_destinations "  # noqa: S608 - fixed columns
                "(destination_id, account_id, asset, kind, address, label, usable_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, now() + %s) "
                f"ON CONFLICT (destination_id) DO NOTHING RETURNING {_DESTINATION_COLUMNS}",
                (
                    new.destination_id,
                    new.account_id,
                    new.asset,
                    new.kind.value,
                    new.address,
                    new.label,
                    delay,
                ),
            ).fetchone()
            if inserted is None:
                return _same_destination(cur, new)
            refuse_frozen(cur, new.account_id, what=f"destination {new.destination_id}")
            added = _destination(inserted)
            write_notice(
                cur,
                kind=NoticeKind.SECURITY,
                event="destination.added",
                account_id=added.account_id,
                data={
                    "asset": added.asset,
                    "destination_id": added.destination_id,
                    "kind": added.kind.value,
                    "address": added.address,
                    "label": added.label,
                    "usable_at": added.usable_at.isoformat(),
                },
            )
            return added

        return self._run(work)

    def destinations(self, account_id: str) -> list[Destination]:
        rows = self._run(
            lambda cur: cur.execute(
                f"SELECT {_DESTINATION_COLUMNS} FROM ledger.withdrawal_destinations "  # noqa: S608 - fixed columns
                "WHERE account_id = %s AND removed_at IS NULL "
                "ORDER BY created_at DESC, destination_id DESC",
                (account_id,),
            ).fetchall()
        )
        return [_destination(row) for row in rows]

    def remove_destination(self, account_id: str, destination_id: str) -> Destination:
        """Removing it again keeps the first removal's time."""

        def work(cur: Cursor[Row]) -> Destination:
            row = cur.execute(
                "UPDATE ledger.withdrawal_destinations "  # noqa: S608 - fixed columns
                "SET removed_at = coalesce(removed_at, now()) "
                f"WHERE destination_id = %s AND account_id = %s RETURNING {_DESTINATION_COLUMNS}",
                (destination_id, account_id),
            ).fetchone()
            if row is None:
                raise UnknownDestination(f"no destination {destination_id!r}")
            return _destination(row)

        return self._run(work)

    # -- the withdrawal's life ------------------------------------------------------------------
    def withdrawal(self, account_id: str, withdrawal_id: str) -> Withdrawal:
        return self._run(
            lambda cur: funding.read_withdrawal(
                cur, self._scales, withdrawal_id, lock=False, account_id=account_id
            )
        )

    def withdrawals(self, account_id: str, *, limit: int = 100) -> list[Withdrawal]:
        rows = self._run(
            lambda cur: cur.execute(
                f"SELECT {funding.WITHDRAWAL_COLUMNS} FROM ledger.withdrawals "  # noqa: S608 - fixed columns
                "WHERE account_id = %s ORDER BY created_at DESC, withdrawal_id DESC LIMIT %s",
                (account_id, limit),
            ).fetchall()
        )
        return [funding.withdrawal_from_row(row, self._scales) for row in rows]

    def cancel_withdrawal(self, account_id: str, withdrawal_id: str) -> Withdrawal:
        def work(cur: Cursor[Row]) -> Withdrawal:
            current = funding.read_withdrawal(
                cur, self._scales, withdrawal_id, lock=True, account_id=account_id
            )
            if current.status is WithdrawalStatus.CANCELLED:
                return current
            if current.status is not WithdrawalStatus.PENDING:
                raise WithdrawalNotCancellable(
                    f"withdrawal {withdrawal_id} is {current.status}: only a PENDING one "
                    "(not yet sent) can be cancelled"
                )
            post(
                cur,
                kind="WITHDRAWAL_CANCEL",
                reference=withdrawal_id,
                movements=move(
                    current.asset,
                    current.amount,
                    Pocket(account_id, Bucket.HELD),
                    Pocket(account_id, Bucket.AVAILABLE),
                ),
            )
            cancelled = _set_status(cur, self._scales, withdrawal_id, "status = 'CANCELLED'")
            funding.withdrawal_notice(cur, self._scales, cancelled, "withdrawal.cancelled")
            return cancelled

        return self._run(work)

    def claim_payout(self, withdrawal_id: str) -> PayoutOrder | None:
        """A withdrawal requested before destinations existed has none to send to: it raises
        UnknownDestination, stays PENDING and is counted stuck, for an operator to fail."""

        def work(cur: Cursor[Row]) -> PayoutOrder | None:
            current = funding.read_withdrawal(cur, self._scales, withdrawal_id, lock=True)
            if current.status.final:
                return None
            refuse_frozen(cur, current.account_id, what=f"payout of withdrawal {withdrawal_id}")
            row = None
            if current.destination_id is not None:
                row = cur.execute(_SELECT_DESTINATION, (current.destination_id,)).fetchone()
            if row is None:
                raise UnknownDestination(f"withdrawal {withdrawal_id} has no destination")
            claimed = _set_status(
                cur, self._scales, withdrawal_id, "status = 'SENDING', attempts = attempts + 1"
            )
            return PayoutOrder(claimed, _destination(row), claimed.attempts)

        return self._run(work)

    def record_payout_outcome(self, notice: PayoutNotice) -> Withdrawal:
        def work(cur: Cursor[Row]) -> Withdrawal:
            seen = cur.execute(
                "INSERT INTO ledger.webhook_events (event_id, signed_at) VALUES (%s, %s) "
                "ON CONFLICT (event_id) DO NOTHING RETURNING 1",
                (notice.event_id, notice.signed_at),
            ).fetchone()
            if seen is None:
                raise ReplayedWebhook(f"webhook event {notice.event_id} was already processed")
            current = funding.read_withdrawal(cur, self._scales, notice.withdrawal_id, lock=True)
            if (current.asset, current.amount) != (notice.asset, notice.amount):
                raise InvalidWebhook(
                    f"payout of withdrawal {notice.withdrawal_id} reported as "
                    f"{show(notice.amount)} {notice.asset}; it is "
                    f"{show(current.amount)} {current.asset}"
                )
            return funding.finish_withdrawal(
                cur,
                self._scales,
                notice.withdrawal_id,
                completed=notice.status == "COMPLETED",
                provider_reference=notice.provider_reference,
                failure_reason=notice.failure_reason if notice.status == "FAILED" else None,
                outcome_event_id=notice.event_id,
            )

        return self._run(work)

    def stuck_payouts(self, older_than: timedelta, *, limit: int) -> list[Withdrawal]:
        rows = self._run(
            lambda cur: cur.execute(
                # A frozen account's withdrawals are held on purpose, not stuck: left out, they
                # cannot fill the sweep's limit (its claims refuse them and never touch the row,
                # so they would stay the oldest for ever). Unfrozen, they are swept again.
                f"SELECT {funding.WITHDRAWAL_COLUMNS} FROM ledger.withdrawals "  # noqa: S608 - fixed columns
                "WHERE status IN ('PENDING', 'SENDING') AND updated_at < now() - %s "
                "AND NOT EXISTS (SELECT 1 FROM ledger.accounts a "
                "WHERE a.account_id = ledger.withdrawals.account_id AND a.frozen) "
                "ORDER BY updated_at, withdrawal_id LIMIT %s",
                (older_than, limit),
            ).fetchall()
        )
        return [funding.withdrawal_from_row(row, self._scales) for row in rows]


def _set_status(
    cur: Cursor[Row], scales: Mapping[str, int], withdrawal_id: str, assignments: str
) -> Withdrawal:
    """Update the (locked) withdrawal's row with ``assignments``, a constant of this module."""
    row = cur.execute(
        f"UPDATE ledger.withdrawals SET {assignments}, updated_at = now() "  # noqa: S608
        f"WHERE withdrawal_id = %s RETURNING {funding.WITHDRAWAL_COLUMNS}",
        (withdrawal_id,),
    ).fetchone()
    assert row is not None  # noqa: S101 - the caller locked the row
    return funding.withdrawal_from_row(row, scales)


def _same_destination(cur: Cursor[Row], new: NewDestination) -> Destination:
    row = cur.execute(_SELECT_DESTINATION, (new.destination_id,)).fetchone()
    assert row is not None  # noqa: S101 - the insert just conflicted on it
    existing = _destination(row)
    terms = ("account_id", "asset", "kind", "address", "label")
    different = [t for t in terms if getattr(existing, t) != getattr(new, t)]
    if different:
        raise DestinationConflict(
            f"destination {new.destination_id} was added with other terms ({', '.join(different)})"
        )
    return existing


def _destination(row: Row) -> Destination:
    created, usable, removed = row[6], row[7], row[8]
    assert isinstance(created, datetime)  # noqa: S101 - timestamptz reads as datetime
    assert isinstance(usable, datetime)  # noqa: S101
    assert removed is None or isinstance(removed, datetime)  # noqa: S101
    return Destination(
        destination_id=str(row[0]),
        account_id=str(row[1]),
        asset=str(row[2]),
        kind=DestinationKind(str(row[3])),
        address=str(row[4]),
        label=str(row[5]),
        created_at=created,
        usable_at=usable,
        removed_at=removed,
    )
