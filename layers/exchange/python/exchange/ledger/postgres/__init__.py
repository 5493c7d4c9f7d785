"""The ledger on PostgreSQL (Aurora in AWS): psycopg 3, SQL written here, row locks.

Transactions run at READ COMMITTED with explicit row locks, always taken in one order
(reservations by order id, then balances by account and asset; an order's amend holds only under
its reservation's lock), and every balance change is an ``UPDATE ... SET x = x + delta`` on a
locked row, so no read-modify-write race can lose an update.
A deadlock or serialization failure is retried a few times.

Modules: ``ledger`` (the port: accounts, holds, funding, reads), ``events`` (engine events),
``amends`` (amend holds), ``holds_sql``, ``journal`` (posting movements), ``funding``, ``reads``.
"""

from exchange.ledger.postgres.ledger import PostgresLedger

__all__ = ["PostgresLedger"]
