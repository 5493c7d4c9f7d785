"""The account directory on the ledger's PostgreSQL database (same pool as the ledger)."""

from psycopg_pool import ConnectionPool

from exchange.ledger.accounts import AccountDirectory, AccountRecord
from exchange.ledger.model import KycStatus


class PostgresAccountDirectory(AccountDirectory):
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def kyc_status(self, account_id: str) -> KycStatus | None:
        record = self.account(account_id)
        return None if record is None else record.kyc_status

    def account(self, account_id: str) -> AccountRecord | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT kyc_status, email FROM ledger.accounts "
                "WHERE account_id = %s AND kind = 'USER'",
                (account_id,),
            ).fetchone()
        if row is None:
            return None
        status, email = row
        return AccountRecord(
            account_id, KycStatus(str(status)), None if email is None else str(email)
        )
