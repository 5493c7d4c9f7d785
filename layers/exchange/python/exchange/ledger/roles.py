"""Each ledger function's own database role: what it may do to the ledger, and nothing more.

The migrations create the roles and their grants (``migrations/0003_roles.up.sql``,
``0004_operator_controls.up.sql`` for the admin, reconciliation and dividends functions, and
``0005_payouts_and_notices.up.sql`` for the payouts, payout sweeper, notices relay and emailer
functions); the roles they create are ``MIGRATED_ROLES``, one per function of ``lambdas.catalog``
that needs the ledger (the unit tests check both). The deploy step (``lambdas/migrate``) gives
each its login; the CDK app lets each function's IAM role connect through RDS Proxy as that
database role. The public deposits function, say, may credit a deposit but cannot alter a table or
drop the triggers that keep the journal append-only.

RDS Proxy logs in to the database with the password of each role's Secrets Manager secret ("Setting
up database credentials for RDS Proxy": the secret's credentials must match a database user), so
the deploy step sets that password on the role; clients authenticate to the proxy with IAM, and the
roles need no ``rds_iam``. Locally (trust authentication) a role needs only its login:
``grant_logins(conn, {role: None})``.

>>> database_role("dead_letters")
'exchange_dead_letters'
"""

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from exchange.ledger.errors import LedgerError
from exchange.settings import DATABASE_ROLE_PREFIX, database_role

if TYPE_CHECKING:  # lambdas.environment (and so the CDK app) imports this module: keep it light
    import psycopg

ROLE_PREFIX: Final = DATABASE_ROLE_PREFIX
_ROLE: Final = re.compile(rf"{ROLE_PREFIX}[a-z][a-z0-9_]{{0,40}}")
# Every role the migrations create, by the function it is for (``database_role``).
MIGRATED_ROLES: Final = frozenset(
    database_role(function)
    for function in (
        "orders",
        "account",
        "deposits",
        "settlement",
        "dead_letters",
        "health",
        "kyc",
        "onboarding",
        "admin",
        "reconciliation",
        "dividends",
        "payouts",
        "payout_sweeper",
        "notices_relay",
        "emailer",
    )
)


class UnknownRole(LedgerError):
    """A role name that is no function's, or a role the migrations have not created."""

    code = "unknown_role"


def grant_logins(
    conn: "psycopg.Connection[tuple[object, ...]]", passwords: Mapping[str, str | None]
) -> list[str]:
    """Let each role of ``passwords`` log in, with its password (None: no password, for trust
    authentication locally); returns the roles, sorted. Run as the admin, after the migrations.

    The password is hashed here, as the server's ``password_encryption`` asks (libpq's
    ``PQencryptPasswordConn``), so no statement and no server log ever holds it in clear text.
    Raises UnknownRole, before changing anything, for a name that is not a function's role or a
    role that does not exist.
    """
    from psycopg import sql  # noqa: PLC0415 - see the TYPE_CHECKING import

    roles = sorted(passwords)
    for role in roles:
        if not _ROLE.fullmatch(role) or role not in MIGRATED_ROLES:
            raise UnknownRole(f"{role!r} is not a function's database role")
    with conn.transaction():
        found = {
            str(row[0])
            for row in conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (roles,)
            ).fetchall()
        }
        missing = [role for role in roles if role not in found]
        if missing:
            raise UnknownRole(f"no such role(s): {', '.join(missing)}; run the migrations first")
        for role in roles:
            password = passwords[role]
            secret = sql.NULL if password is None else sql.Literal(_hashed(conn, role, password))
            conn.execute(
                sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(sql.Identifier(role), secret)
            )
    return roles


def _hashed(conn: "psycopg.Connection[tuple[object, ...]]", role: str, password: str) -> str:
    return conn.pgconn.encrypt_password(password.encode(), role.encode()).decode()


__all__ = [
    "MIGRATED_ROLES",
    "ROLE_PREFIX",
    "UnknownRole",
    "database_role",
    "grant_logins",
]
