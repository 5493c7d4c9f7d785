"""Deposits and withdrawals: money between an account and the outside world.

Each change writes its notice to the outbox in its own transaction (``notices.write_notice``): a
deposit credited, a withdrawal requested, completed or failed (cancels: ``postgres.withdrawals``).
A withdrawal is requested PENDING, claimed SENDING by the payout worker, and completed, or
failed by the provider, from SENDING only: a payout never sent cannot have been paid or refused by
the provider. Only our own side may fail a PENDING one (``fail_withdrawal``: given up before it
was sent).
"""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from psycopg import Cursor

from exchange.ledger.errors import (
    DestinationNotUsable,
    InvalidTransition,
    ReplayedWebhook,
    UnknownAccount,
    UnknownWithdrawal,
)
from exchange.ledger.model import Deposit, DepositNotice, Withdrawal, WithdrawalStatus
from exchange.ledger.money import amount_text, check_amount, scale_of, show, to_scale
from exchange.ledger.movements import EXTERNAL_ACCOUNT, Bucket, Pocket, move
from exchange.ledger.postgres.accounts import refuse_frozen, require_trading
from exchange.ledger.postgres.journal import hold_funds, post
from exchange.ledger.postgres.notices import write_notice
from exchange.notices import NoticeKind

Row = tuple[object, ...]
Scales = Mapping[str, int]

WITHDRAWAL_COLUMNS = (
    "withdrawal_id, account_id, asset, amount, status, destination_id, attempts, "
    "provider_reference, failure_reason, created_at, updated_at"
)
_SELECT_WITHDRAWAL = f"SELECT {WITHDRAWAL_COLUMNS} FROM ledger.withdrawals WHERE withdrawal_id = %s"  # noqa: S608 - fixed columns
_SELECT_WITHDRAWAL_FOR_UPDATE = _SELECT_WITHDRAWAL + " FOR UPDATE"


def checked_amount(scales: Mapping[str, int], asset: str, amount: Decimal) -> Decimal:
    return check_amount(amount, scale_of(scales, asset), asset=asset)


def credit_deposit(cur: Cursor[Row], scales: Scales, notice: DepositNotice) -> Deposit:
    """Record the webhook event and the deposit, and credit it if it succeeded (with a
    ``deposit.credited`` notice).

    A seen event id or deposit id raises ReplayedWebhook and the transaction writes nothing.
    """
    seen = cur.execute(
        "INSERT INTO ledger.webhook_events (event_id, signed_at) VALUES (%s, %s) "
        "ON CONFLICT (event_id) DO NOTHING RETURNING 1",
        (notice.event_id, notice.signed_at),
    ).fetchone()
    if seen is None:
        raise ReplayedWebhook(f"webhook event {notice.event_id} was already processed")
    account = cur.execute(
        "SELECT 1 FROM ledger.accounts WHERE account_id = %s AND kind = 'USER'",
        (notice.account_id,),
    ).fetchone()
    if account is None:
        raise UnknownAccount(
            f"deposit {notice.deposit_id} names unknown account {notice.account_id!r}"
        )
    inserted = cur.execute(
        "INSERT INTO ledger.deposits (deposit_id, event_id, account_id, asset, amount, status) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (deposit_id) DO NOTHING RETURNING 1",
        (
            notice.deposit_id,
            notice.event_id,
            notice.account_id,
            notice.asset,
            notice.amount,
            notice.status,
        ),
    ).fetchone()
    if inserted is None:
        raise ReplayedWebhook(f"deposit {notice.deposit_id} was already recorded")
    if notice.status == "CREDITED":
        tx_id = post(
            cur,
            kind="DEPOSIT",
            reference=notice.deposit_id,
            movements=move(
                notice.asset,
                notice.amount,
                Pocket(EXTERNAL_ACCOUNT, Bucket.AVAILABLE),
                Pocket(notice.account_id, Bucket.AVAILABLE),
            ),
        )
        cur.execute(
            "UPDATE ledger.deposits SET tx_id = %s WHERE deposit_id = %s",
            (tx_id, notice.deposit_id),
        )
        write_notice(
            cur,
            kind=NoticeKind.DEPOSIT,
            event="deposit.credited",
            account_id=notice.account_id,
            data={
                "asset": notice.asset,
                "amount": amount_text(scales, notice.asset, notice.amount),
                "deposit_id": notice.deposit_id,
            },
        )
    return Deposit(
        deposit_id=notice.deposit_id,
        account_id=notice.account_id,
        asset=notice.asset,
        amount=notice.amount,
        status=notice.status,
    )


def request_withdrawal(
    cur: Cursor[Row],
    scales: Scales,
    withdrawal: Withdrawal,
) -> Withdrawal:
    """Hold a PENDING withdrawal's amount, once per id (the same id with other terms raises
    InvalidTransition), if its destination is usable; with a ``withdrawal.requested`` notice.

    A retry is answered before the destination is checked again: it may have been removed since,
    and withdrawals already requested to it go on.
    """
    withdrawal_id, account_id = withdrawal.withdrawal_id, withdrawal.account_id
    require_trading(cur, account_id)
    existing = cur.execute(_SELECT_WITHDRAWAL, (withdrawal_id,)).fetchone()
    if existing is not None:
        return _same_withdrawal(withdrawal_from_row(existing, scales), withdrawal)
    _require_usable_destination(cur, withdrawal)
    inserted = cur.execute(
        "INSERT INTO ledger.withdrawals "  # noqa: S608 - fixed columns
        "(withdrawal_id, account_id, asset, amount, status, destination_id) "
        "VALUES (%s, %s, %s, %s, 'PENDING', %s) "
        f"ON CONFLICT (withdrawal_id) DO NOTHING RETURNING {WITHDRAWAL_COLUMNS}",
        (withdrawal_id, account_id, withdrawal.asset, withdrawal.amount, withdrawal.destination_id),
    ).fetchone()
    if inserted is None:  # requested meanwhile by a concurrent retry
        return _same_withdrawal(read_withdrawal(cur, scales, withdrawal_id, lock=False), withdrawal)
    refuse_frozen(cur, account_id, what=f"withdrawal {withdrawal_id}")
    hold_funds(cur, account_id=account_id, asset=withdrawal.asset, amount=withdrawal.amount)
    post(
        cur,
        kind="WITHDRAWAL_HOLD",
        reference=withdrawal_id,
        movements=move(
            withdrawal.asset,
            withdrawal.amount,
            Pocket(account_id, Bucket.AVAILABLE),
            Pocket(account_id, Bucket.HELD),
        ),
        apply_balances=False,
    )
    requested = withdrawal_from_row(inserted, scales)
    withdrawal_notice(cur, scales, requested, "withdrawal.requested")
    return requested


def finish_withdrawal(
    cur: Cursor[Row],
    scales: Scales,
    withdrawal_id: str,
    *,
    completed: bool,
    provider_reference: str | None = None,
    failure_reason: str | None = None,
    outcome_event_id: str | None = None,
) -> Withdrawal:
    """Pay a SENDING withdrawal out (completed: the hold debited to the outside world) or give
    its hold back (failed: from SENDING, or from PENDING when it is given up before it is sent),
    with its notice. Repeating the same outcome is a no-op; any other status raises
    InvalidTransition. ``outcome_event_id``: the provider's webhook event that said so."""
    current = read_withdrawal(cur, scales, withdrawal_id, lock=True)
    target = WithdrawalStatus.COMPLETED if completed else WithdrawalStatus.FAILED
    if current.status is target:
        return current
    allowed = {WithdrawalStatus.SENDING}
    if not completed and outcome_event_id is None:
        allowed.add(WithdrawalStatus.PENDING)
    if current.status not in allowed:
        raise InvalidTransition(
            f"withdrawal {withdrawal_id} is {current.status}; it cannot become {target}"
        )
    held = Pocket(current.account_id, Bucket.HELD)
    to = (
        Pocket(EXTERNAL_ACCOUNT, Bucket.AVAILABLE)
        if completed
        else Pocket(current.account_id, Bucket.AVAILABLE)
    )
    post(
        cur,
        kind="WITHDRAWAL_COMPLETE" if completed else "WITHDRAWAL_FAIL",
        reference=withdrawal_id,
        movements=move(current.asset, current.amount, held, to),
    )
    row = cur.execute(
        "UPDATE ledger.withdrawals SET status = %s, updated_at = now(), "  # noqa: S608 - fixed columns
        "provider_reference = coalesce(%s, provider_reference), failure_reason = %s, "
        "outcome_event_id = %s "
        f"WHERE withdrawal_id = %s RETURNING {WITHDRAWAL_COLUMNS}",
        (target.value, provider_reference, failure_reason, outcome_event_id, withdrawal_id),
    ).fetchone()
    assert row is not None  # noqa: S101 - the row is locked above
    finished = withdrawal_from_row(row, scales)
    withdrawal_notice(cur, scales, finished, f"withdrawal.{target.value.lower()}")
    return finished


def withdrawal_notice(cur: Cursor[Row], scales: Scales, withdrawal: Withdrawal, event: str) -> None:
    data = {
        "asset": withdrawal.asset,
        "amount": amount_text(scales, withdrawal.asset, withdrawal.amount),
        "withdrawal_id": withdrawal.withdrawal_id,
    }
    if withdrawal.destination_id is not None:
        data["destination_id"] = withdrawal.destination_id
    if withdrawal.failure_reason is not None:
        data["reason"] = withdrawal.failure_reason
    write_notice(
        cur, kind=NoticeKind.WITHDRAWAL, event=event, account_id=withdrawal.account_id, data=data
    )


def read_withdrawal(
    cur: Cursor[Row],
    scales: Scales,
    withdrawal_id: str,
    *,
    lock: bool,
    account_id: str | None = None,
) -> Withdrawal:
    """The withdrawal (its row locked FOR UPDATE if ``lock``); UnknownWithdrawal when there is
    none, or when it is not ``account_id``'s."""
    query = _SELECT_WITHDRAWAL_FOR_UPDATE if lock else _SELECT_WITHDRAWAL
    row = cur.execute(query, (withdrawal_id,)).fetchone()
    if row is None or (account_id is not None and row[1] != account_id):
        raise UnknownWithdrawal(f"no withdrawal {withdrawal_id!r}")
    return withdrawal_from_row(row, scales)


def withdrawal_from_row(row: Row, scales: Scales) -> Withdrawal:
    """A row of ``WITHDRAWAL_COLUMNS``, its amount at the asset's scale."""
    asset, amount, created, updated = str(row[2]), row[3], row[9], row[10]
    assert isinstance(amount, Decimal)  # noqa: S101 - NUMERIC reads as Decimal
    assert isinstance(created, datetime)  # noqa: S101
    assert isinstance(updated, datetime)  # noqa: S101
    return Withdrawal(
        withdrawal_id=str(row[0]),
        account_id=str(row[1]),
        asset=asset,
        amount=to_scale(amount, scale_of(scales, asset)),
        status=WithdrawalStatus(str(row[4])),
        destination_id=None if row[5] is None else str(row[5]),
        attempts=int(str(row[6])),
        provider_reference=None if row[7] is None else str(row[7]),
        failure_reason=None if row[8] is None else str(row[8]),
        created_at=created,
        updated_at=updated,
    )


def _same_withdrawal(existing: Withdrawal, wanted: Withdrawal) -> Withdrawal:
    terms = ("account_id", "asset", "amount", "destination_id")
    if any(getattr(existing, t) != getattr(wanted, t) for t in terms):
        raise InvalidTransition(
            f"withdrawal {wanted.withdrawal_id} exists with other terms: "
            f"{show(existing.amount)} {existing.asset} for {existing.account_id} "
            f"to {existing.destination_id}"
        )
    return existing


def _require_usable_destination(cur: Cursor[Row], withdrawal: Withdrawal) -> None:
    """DestinationNotUsable unless the destination is the account's, for the asset, not removed
    and past its waiting period (on the database's clock).

    The row is read FOR SHARE: a removal in flight (an UPDATE of ``removed_at``, which takes FOR
    NO KEY UPDATE) and this check then never interleave. Either the removal committed first and
    this reads the removed row (READ COMMITTED re-reads a locked row's newest version) and
    refuses, or this withdrawal commits first and the removal waits for it. The foreign key's
    own FOR KEY SHARE would not do: it does not conflict with NO KEY UPDATE. (The account role's
    UPDATE on ``removed_at`` is the privilege a row lock needs.)"""
    row = cur.execute(
        "SELECT account_id, asset, removed_at IS NULL, usable_at <= now() "
        "FROM ledger.withdrawal_destinations WHERE destination_id = %s FOR SHARE",
        (withdrawal.destination_id,),
    ).fetchone()
    name = f"destination {withdrawal.destination_id!r}"
    if row is None or row[0] != withdrawal.account_id:
        raise DestinationNotUsable(f"no {name} for account {withdrawal.account_id}")
    if row[1] != withdrawal.asset:
        raise DestinationNotUsable(f"{name} is for {row[1]}, not {withdrawal.asset}")
    if row[2] is not True:
        raise DestinationNotUsable(f"{name} was removed")
    if row[3] is not True:
        raise DestinationNotUsable(f"{name} is not usable yet (its waiting period runs)")
