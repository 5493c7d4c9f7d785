"""The operator's KYC command: override an account's KYC status, or show it with its history;
and open a confirmed user's account when the post-confirmation trigger could not.

    python -m exchange.ledger.kyc set --account <id> --status VERIFIED|REJECTED|SUSPENDED|PENDING \\
        --reason "..." [--operator <name>] [--url <database URL>]
    python -m exchange.ledger.kyc show --account <id> [--url <database URL>]
    python -m exchange.ledger.kyc open --account <sub> [--email <email>] [--url <database URL>]

``open`` does what the onboarding trigger does (``exchange.ledger.onboarding``): it opens the user's
account with KYC pending, or leaves an existing one as it is. Cognito runs the trigger after it
has confirmed the user, so a trigger that failed (a timeout, the database away) leaves a
confirmed user without an account: every order and deposit then answers ``unknown_account``,
and confirming again is refused (the user is confirmed). This is the remedy. It prints
``{"account_id", "opened"}``.

``set`` records the decision with the operator's name (``--operator``, default the login name)
and reason in ``ledger.kyc_events`` and applies it: an operator's decision always applies, and
stands against the KYC provider's webhooks until an operator changes it again (PENDING hands the
account back to the provider, for verdicts signed after it; ``exchange.ledger.verification``). It
prints one JSON line (``{"account_id", "result", "kyc_status"}``) and exits 1 for an unknown
account. ``show`` prints the status in force, who decided it, and every decision received.

It connects as the admin: ``--url``, else ``EXCHANGE_DATABASE_URL`` or the admin's Secrets Manager
secret ``EXCHANGE_DATABASE_SECRET_ARN`` (as ``python -m exchange.ledger.migrations``).
"""

import argparse
import getpass
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from exchange.aws import secrets_client_factory
from exchange.ledger.connection import ConninfoProvider, admin_conninfo, open_pool
from exchange.ledger.errors import UnknownAccount
from exchange.ledger.model import KycStatus
from exchange.ledger.postgres.kyc import PostgresAccountOpener, PostgresKycRegistry
from exchange.ledger.verification import MAX_ID, MAX_REASON, KycDecision, KycSource
from exchange.settings import LedgerSettings, load_settings


def _bounded(limit: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        text = value.strip()
        if not 1 <= len(text) <= limit:
            raise argparse.ArgumentTypeError(f"must be 1 to {limit} characters")
        return text

    return check


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m exchange.ledger.kyc",
        description="Override an account's KYC status (recorded with who and why), or show it.",
    )
    parser.add_argument("action", choices=("set", "show", "open"))
    parser.add_argument("--account", required=True, type=_bounded(MAX_ID))
    parser.add_argument("--status", choices=[s.value for s in KycStatus], help="set: the status")
    parser.add_argument("--reason", type=_bounded(MAX_REASON), help="set: why (required)")
    parser.add_argument("--operator", type=_bounded(MAX_ID), help="set: who (default: login)")
    parser.add_argument("--email", type=_bounded(MAX_ID), help="open: the user's email")
    parser.add_argument("--url", help="database URL (default: from settings, as the admin)")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    clock: Callable[[], float] = time.time,
) -> int:
    """The command (``out`` and ``err`` default to the process's streams)."""
    out, err = out or sys.stdout, err or sys.stderr
    parser = _parser()
    args = parser.parse_args(argv)
    if args.action == "set" and (args.status is None or args.reason is None):
        parser.error("set needs --status and --reason")
    conninfo: ConninfoProvider = (lambda: args.url) if args.url else _conninfo_from_settings()
    with open_pool(conninfo, min_size=0, max_size=1, name="kyc-operator") as pool:
        registry = PostgresKycRegistry(pool)
        if args.action == "show":
            return _show(registry, args.account, out, err)
        if args.action == "open":
            opened = PostgresAccountOpener(pool).open_user(args.account, email=args.email)
            out.write(json.dumps({"account_id": args.account, "opened": opened}) + "\n")
            return 0
        decision = KycDecision(
            account_id=args.account,
            status=KycStatus(args.status),
            source=KycSource.OPERATOR,
            actor=args.operator or getpass.getuser(),
            decided_at=int(clock()),
            reason=args.reason,
        )
        try:
            outcome = registry.decide(decision)
        except UnknownAccount as exc:
            err.write(f"{exc}\n")
            return 1
    line = {
        "account_id": outcome.account_id,
        "result": outcome.result.value,
        "kyc_status": outcome.kyc_status.value,
    }
    out.write(json.dumps(line) + "\n")
    return 0


def _show(registry: PostgresKycRegistry, account_id: str, out: TextIO, err: TextIO) -> int:
    state = registry.state(account_id)
    if state is None:
        err.write(f"no user account {account_id!r}\n")
        return 1
    summary = {
        "account_id": account_id,
        "kyc_status": state.status.value,
        "decided_by": None if state.decided_by is None else state.decided_by.value,
        "decided_at": state.decided_at,
        "history": registry.history(account_id),
    }
    out.write(json.dumps(summary) + "\n")
    return 0


def _conninfo_from_settings() -> ConninfoProvider:
    settings = load_settings(LedgerSettings)
    return admin_conninfo(settings, secrets_client_factory(settings))


if __name__ == "__main__":
    sys.exit(main())
