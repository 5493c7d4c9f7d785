"""Account checks shared by orders and withdrawals, and account freezes.

A freeze and a new hold never interleave. ``refuse_frozen`` runs right after the statement that
inserted the hold's row (a reservation, an amend hold, a withdrawal): that row's foreign key on
``ledger.accounts`` has locked the account's row in KEY SHARE mode until commit, and ``set_frozen``
locks it FOR UPDATE, which conflicts (a plain UPDATE of ``frozen`` would not: it takes the weaker
NO KEY UPDATE lock). So either the hold commits first and the freeze waits for it (the engine then
cancels the order it placed), or the freeze committed first and ``refuse_frozen``, a new statement
at READ COMMITTED, sees it and the transaction rolls back: nothing is written. The functions'
roles need no lock privilege for it, only SELECT on ``frozen``. (PostgreSQL's "Explicit Locking",
row-level lock modes: FOR KEY SHARE, the mode foreign key checks take, blocks FOR UPDATE but not
FOR NO KEY UPDATE; pinned by tests/integration/ledger/test_freeze.py's two race tests.)
"""

from psycopg import Cursor

from exchange.ledger.errors import AccountFrozen, KycNotAllowed, UnknownAccount
from exchange.ledger.model import KycStatus

Row = tuple[object, ...]


def require_trading(cur: Cursor[Row], account_id: str) -> None:
    """UnknownAccount or KycNotAllowed unless the account may trade and withdraw."""
    row = cur.execute(
        "SELECT kyc_status FROM ledger.accounts WHERE account_id = %s AND kind = 'USER'",
        (account_id,),
    ).fetchone()
    if row is None:
        raise UnknownAccount(f"no user account {account_id!r}")
    status = KycStatus(str(row[0]))
    if not status.may_trade:
        raise KycNotAllowed(f"account {account_id} has KYC status {status}; VERIFIED is required")


def refuse_frozen(cur: Cursor[Row], account_id: str, *, what: str) -> None:
    """AccountFrozen when the account is frozen. Call it after inserting the row that references
    the account (see the module's docstring), in the same transaction."""
    row = cur.execute(
        "SELECT frozen FROM ledger.accounts WHERE account_id = %s", (account_id,)
    ).fetchone()
    if row is not None and row[0] is True:
        raise AccountFrozen(f"account {account_id} is frozen by an operator: {what} refused")


def set_frozen(cur: Cursor[Row], account_id: str, frozen: bool, *, actor: str, reason: str) -> bool:
    """Freeze or unfreeze a user account, keeping the request; True when the flag changed."""
    row = cur.execute(
        "SELECT frozen FROM ledger.accounts WHERE account_id = %s AND kind = 'USER' FOR UPDATE",
        (account_id,),
    ).fetchone()
    if row is None:
        raise UnknownAccount(f"no user account {account_id!r}")
    changed = bool(row[0]) != frozen
    cur.execute(
        "INSERT INTO ledger.account_freeze_events (account_id, frozen, changed, actor, reason) "
        "VALUES (%s, %s, %s, %s, %s)",
        (account_id, frozen, changed, actor, reason),
    )
    if changed:
        cur.execute(
            "UPDATE ledger.accounts SET frozen = %(frozen)s, "
            "frozen_at = CASE WHEN %(frozen)s THEN now() END, "
            "frozen_by = CASE WHEN %(frozen)s THEN %(actor)s END "
            "WHERE account_id = %(account)s",
            {"frozen": frozen, "actor": actor, "account": account_id},
        )
    return changed


def is_frozen(cur: Cursor[Row], account_id: str) -> bool:
    row = cur.execute(
        "SELECT frozen FROM ledger.accounts WHERE account_id = %s AND kind = 'USER'",
        (account_id,),
    ).fetchone()
    if row is None:
        raise UnknownAccount(f"no user account {account_id!r}")
    return row[0] is True
