"""Deposits and withdrawals: money between an account and the outside world."""

from collections.abc import Mapping
from decimal import Decimal

from psycopg import Cursor

from exchange.ledger.errors import (
    InvalidTransition,
    ReplayedWebhook,
    UnknownAccount,
    UnknownWithdrawal,
)
from exchange.ledger.model import Deposit, DepositNotice, Withdrawal, WithdrawalStatus
from exchange.ledger.money import check_amount, scale_of, show
from exchange.ledger.movements import EXTERNAL_ACCOUNT, Bucket, Pocket, move
from exchange.ledger.postgres.accounts import refuse_frozen, require_trading
from exchange.ledger.postgres.journal import hold_funds, post

Row = tuple[object, ...]

_SELECT_WITHDRAWAL = (
    "SELECT withdrawal_id, account_id, asset, amount, status FROM ledger.withdrawals "
    "WHERE withdrawal_id = %s"
)
_SELECT_WITHDRAWAL_FOR_UPDATE = _SELECT_WITHDRAWAL + " FOR UPDATE"


def checked_amount(scales: Mapping[str, int], asset: str, amount: Decimal) -> Decimal:
    return check_amount(amount, scale_of(scales, asset), asset=asset)


def credit_deposit(cur: Cursor[Row], notice: DepositNotice) -> Deposit:
    """Record the webhook event and the deposit, and credit it if it succeeded.

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
    return Deposit(
        deposit_id=notice.deposit_id,
        account_id=notice.account_id,
        asset=notice.asset,
        amount=notice.amount,
        status=notice.status,
    )


def request_withdrawal(
    cur: Cursor[Row], withdrawal_id: str, account_id: str, asset: str, amount: Decimal
) -> Withdrawal:
    require_trading(cur, account_id)
    inserted = cur.execute(
        "INSERT INTO ledger.withdrawals (withdrawal_id, account_id, asset, amount, status) "
        "VALUES (%s, %s, %s, %s, 'PENDING') ON CONFLICT (withdrawal_id) DO NOTHING RETURNING 1",
        (withdrawal_id, account_id, asset, amount),
    ).fetchone()
    if inserted is None:
        existing = _withdrawal(cur, withdrawal_id, lock=False)
        if (existing.account_id, existing.asset, existing.amount) != (account_id, asset, amount):
            raise InvalidTransition(
                f"withdrawal {withdrawal_id} exists with other terms: "
                f"{show(existing.amount)} {existing.asset} for {existing.account_id}"
            )
        return existing
    refuse_frozen(cur, account_id, what=f"withdrawal {withdrawal_id}")
    hold_funds(cur, account_id=account_id, asset=asset, amount=amount)
    post(
        cur,
        kind="WITHDRAWAL_HOLD",
        reference=withdrawal_id,
        movements=move(
            asset, amount, Pocket(account_id, Bucket.AVAILABLE), Pocket(account_id, Bucket.HELD)
        ),
        apply_balances=False,
    )
    return Withdrawal(withdrawal_id, account_id, asset, amount, WithdrawalStatus.PENDING)


def finish_withdrawal(cur: Cursor[Row], withdrawal_id: str, *, completed: bool) -> Withdrawal:
    """Pay a pending withdrawal out (completed) or give its hold back (failed). Repeating the
    same outcome is a no-op; the opposite outcome raises InvalidTransition."""
    current = _withdrawal(cur, withdrawal_id, lock=True)
    target = WithdrawalStatus.COMPLETED if completed else WithdrawalStatus.FAILED
    if current.status is target:
        return current
    if current.status is not WithdrawalStatus.PENDING:
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
    cur.execute(
        "UPDATE ledger.withdrawals SET status = %s, updated_at = now() WHERE withdrawal_id = %s",
        (target.value, withdrawal_id),
    )
    return Withdrawal(
        current.withdrawal_id, current.account_id, current.asset, current.amount, target
    )


def _withdrawal(cur: Cursor[Row], withdrawal_id: str, *, lock: bool) -> Withdrawal:
    query = _SELECT_WITHDRAWAL_FOR_UPDATE if lock else _SELECT_WITHDRAWAL
    row = cur.execute(query, (withdrawal_id,)).fetchone()
    if row is None:
        raise UnknownWithdrawal(f"no withdrawal {withdrawal_id!r}")
    amount = row[3]
    assert isinstance(amount, Decimal)  # noqa: S101
    return Withdrawal(str(row[0]), str(row[1]), str(row[2]), amount, WithdrawalStatus(str(row[4])))
