"""What a deploy does to the ledger (``lambdas/migrate``, run once per deploy by a CDK trigger; and
``make run`` locally): as the admin, migrate to head, give each function's role its login, and open
the fee account. Every step is idempotent, so a repeated deploy changes nothing; a failure raises,
so the deploy fails.

Each role's password is the one RDS Proxy presents for it: its Secrets Manager secret
(``{"username", "password"}``, the username being the role) is what the proxy logs in with
("Setting up database credentials for RDS Proxy": the secret's credentials must match a database
user). The functions themselves connect to the proxy with IAM tokens, so no role needs
``rds_iam``. Passwords are never logged or echoed in an error.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import psycopg

from exchange.aws import SecretsClient
from exchange.domain.errors import ConfigurationError
from exchange.ledger import migrations
from exchange.ledger.connection import ConninfoProvider
from exchange.ledger.roles import grant_logins

PasswordsProvider = Callable[[], Mapping[str, str | None]]


@dataclass(frozen=True, slots=True)
class DeployReport:
    applied: list[int]  # migration versions applied now (none on a repeated deploy)
    version: int  # the schema's version afterwards
    logins: list[str]  # the roles given their login and password
    fee_account_id: str

    def as_dict(self) -> dict[str, object]:
        return {
            "applied": self.applied,
            "version": self.version,
            "logins": self.logins,
            "fee_account_id": self.fee_account_id,
        }


def role_passwords(
    secret_arns: Mapping[str, str], client_factory: Callable[[], SecretsClient]
) -> PasswordsProvider:
    """Each role's password from its secret (read when called). ConfigurationError, naming the
    role but never the secret's value, when a secret is not ``{"username": <the role>,
    "password": ...}``."""

    def read() -> dict[str, str | None]:
        if not secret_arns:
            return {}
        client = client_factory()
        passwords: dict[str, str | None] = {}
        for role, arn in sorted(secret_arns.items()):
            text = str(client.get_secret_value(SecretId=arn)["SecretString"])
            try:
                secret = json.loads(text)
                username, password = secret["username"], secret["password"]
            except (KeyError, TypeError, json.JSONDecodeError) as exc:
                raise ConfigurationError(
                    f"{role}'s secret is not JSON with username and password: {type(exc).__name__}"
                ) from exc
            if username != role or not isinstance(password, str) or not password:
                raise ConfigurationError(
                    f"{role}'s secret must name the user {role} and hold a password"
                )
            passwords[role] = password
        return passwords

    return read


class LedgerDeploy:
    def __init__(
        self,
        *,
        conninfo: ConninfoProvider,
        passwords: PasswordsProvider,
        fee_account_id: str,
    ) -> None:
        self._conninfo = conninfo
        self._passwords = passwords
        self._fee_account_id = fee_account_id

    def run(self) -> DeployReport:
        passwords = self._passwords()  # every secret read before the database changes
        with psycopg.connect(self._conninfo()) as conn:
            applied = migrations.upgrade(conn)
            logins = grant_logins(conn, passwords)
            with conn.transaction():
                conn.execute(
                    "INSERT INTO ledger.accounts (account_id, kind, kyc_status) "
                    "VALUES (%s, 'FEE', 'VERIFIED') ON CONFLICT (account_id) DO NOTHING",
                    (self._fee_account_id,),
                )
            version = migrations.current(conn)
        return DeployReport(applied, version, logins, self._fee_account_id)
