"""The account directory on the ledger's PostgreSQL database (same pool as the ledger)."""

from psycopg_pool import ConnectionPool

from exchange.ledger.accounts import AccountDirectory
from exchange.ledger.model import KycStatus


class PostgresAccountDirectory(AccountDirectory):
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def kyc_status(self, account_id: str) -> KycStatus | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT kyc_status FROM ledger.accounts WHERE account_id = %s AND kind = 'USER'",
                (account_id,),
            ).fetchone()
        return None if row is None else KycStatus(str(row[0]))
