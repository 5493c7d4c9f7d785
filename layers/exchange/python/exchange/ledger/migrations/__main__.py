"""The migration command: ``python -m exchange.ledger.migrations upgrade|downgrade|current``.

The database comes from ``--url`` or, as in Lambda, from ``LedgerSettings``
(``EXCHANGE_DATABASE_URL``, or the admin's Secrets Manager secret
``EXCHANGE_DATABASE_SECRET_ARN``): migrations run as the admin, never as a function's role.
"""

import argparse
import sys

import psycopg

from exchange.aws import secrets_client_factory
from exchange.ledger import migrations
from exchange.ledger.connection import admin_conninfo
from exchange.settings import LedgerSettings, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exchange.ledger.migrations")
    parser.add_argument("action", choices=["upgrade", "downgrade", "current"])
    parser.add_argument("--to", type=int, default=None, help="target version (downgrade: 0)")
    parser.add_argument("--url", default=None, help="database URL (default: from settings)")
    args = parser.parse_args(argv)
    conninfo = args.url or _conninfo_from_settings()
    with psycopg.connect(conninfo) as conn:
        if args.action == "upgrade":
            print(f"applied: {migrations.upgrade(conn, to=args.to)}")
        elif args.action == "downgrade":
            print(f"reverted: {migrations.downgrade(conn, to=args.to or 0)}")
        print(f"current: {migrations.current(conn)}")
    return 0


def _conninfo_from_settings() -> str:
    settings = load_settings(LedgerSettings)
    return admin_conninfo(settings, secrets_client_factory(settings))()


if __name__ == "__main__":
    sys.exit(main())
