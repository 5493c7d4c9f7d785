"""The ledger on PostgreSQL (Aurora in AWS): psycopg 3, SQL written here, row locks.

Transactions run at READ COMMITTED with explicit row locks, always taken in one order
(reservations by order id, then balances by account and asset; an order's amend holds only under
its reservation's lock), and every balance change is an ``UPDATE ... SET x = x + delta`` on a
locked row, so no read-modify-write race can lose an update. An account's row is locked only by
a freeze (which locks nothing else) and, in KEY SHARE mode, by inserting a hold that references it
(before its balance); a dividend's row before the balances it pays.
A deadlock or serialization failure is retried a few times.

Modules: ``ledger`` (the port: accounts, holds, funding, reads), ``events`` (engine events and
listings' fees), ``amends`` (amend holds), ``accounts`` (trading checks and freezes),
``dividends``, ``holds_sql``, ``journal`` (posting movements), ``funding``, ``reads``;
``withdrawals`` (destinations and payouts), ``notices`` (the outbox and notification
preferences) and ``statements``, mixed into ``PostgresLedger``.
"""

from exchange.ledger.postgres.ledger import PostgresLedger

__all__ = ["PostgresLedger"]
