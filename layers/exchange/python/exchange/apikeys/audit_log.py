"""``python -m exchange.apikeys.audit_log verify --account <id>`` walks an account's chain of
security events (API keys created and revoked) in the ``audit`` table, with the deployment's
``EXCHANGE_AUDIT_TABLE``, ``AWS_REGION`` and ``EXCHANGE_AWS_ENDPOINT_URL``; it exits 0 when the
chain is whole and 1 at the first break, printing the report as JSON either way. (The journal's
``python -m exchange.journal.audit_log verify --symbol`` walks a symbol's chain of engine
events.)"""

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict

from exchange.apikeys.audit import security_partition, verify_security_log
from exchange.journal.audit_log import audit_entries
from exchange.settings import ConsumerSettings, load_settings
from exchange.tables import bind_tables


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exchange.apikeys.audit_log")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="walk an account's chain of security events")
    check.add_argument("--account", required=True)
    args = parser.parse_args(argv)
    bind_tables(load_settings(ConsumerSettings))
    entries = audit_entries(security_partition(args.account))
    report = verify_security_log(args.account, entries)
    sys.stdout.write(json.dumps({**asdict(report), "ok": report.ok}) + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
