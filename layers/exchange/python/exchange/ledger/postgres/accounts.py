"""Account checks shared by orders and withdrawals."""

from psycopg import Cursor

from exchange.ledger.errors import KycNotAllowed, UnknownAccount
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
