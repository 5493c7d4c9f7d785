"""The deploy-time runner (``lambdas/migrate``) on the real PostgreSQL, with the roles' secrets in
Secrets Manager (moto): it migrates, gives each role the password of its secret, opens the fee
account, does nothing more when run again, and fails whole, before changing anything, on a bad
secret. Passwords never reach the logs."""

import base64
import hashlib
import hmac
import io
import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from exchange import observability
from exchange.domain.errors import ConfigurationError
from exchange.ledger import migrations
from exchange.ledger.roles import grant_logins
from exchange.settings import MigrateSettings
from exchange.testing.lambda_events import LambdaContextStub
from lambdas.migrate.handler import compose, handler
from tests.integration.ledger.conftest import _create_database as create_database
from tests.integration.ledger.conftest import _drop_database as drop_database

ROLES = ("exchange_deposits", "exchange_kyc")


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    name = f"ledger_test_{secrets.token_hex(4)}_deploy"
    url = create_database(postgres_url, name)
    try:
        yield url
    finally:
        drop_database(postgres_url, name)


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """What the function's logger writes (its handler's stream, bound at import)."""
    handler = observability.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


@pytest.fixture
def secretsmanager() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


@pytest.fixture(autouse=True)
def no_passwords_left(postgres_url: str) -> Iterator[None]:
    """Roles are cluster-wide: leave them as local mode wants them (login, no password)."""
    yield
    with psycopg.connect(postgres_url) as conn:
        if conn.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)", (list(ROLES),)
        ).fetchone() == (2,):
            grant_logins(conn, dict.fromkeys(ROLES))


class NoSecrets:
    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:  # noqa: N803 - boto3's
        raise AssertionError(f"no secret should be read, not {SecretId}")


def role_secrets(client: Any, **overrides: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """A secret per role, as the CDK app makes them; returns (ARNs, passwords)."""
    arns, passwords = {}, {}
    for role in ROLES:
        passwords[role] = f"pw-{secrets.token_urlsafe(18)}"
        value = overrides.get(role, {"username": role, "password": passwords[role]})
        arns[role] = client.create_secret(
            Name=f"exchange/{role}-{secrets.token_hex(3)}", SecretString=json.dumps(value)
        )["ARN"]
    return arns, passwords


def scram_matches(verifier: str, password: str) -> bool:
    """Whether a SCRAM-SHA-256 verifier (``pg_authid.rolpassword``) is ``password``'s (RFC 5802)."""
    method, _, rest = verifier.partition("$")
    iterations_salt, _, keys = rest.partition("$")
    iterations, _, salt = iterations_salt.partition(":")
    stored_key = keys.partition(":")[0]
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    expected = base64.b64encode(hashlib.sha256(client_key).digest()).decode()
    return method == "SCRAM-SHA-256" and hmac.compare_digest(expected, stored_key)


def test_the_runner_migrates_gives_logins_and_opens_the_fee_account_once(
    database: str,
    secretsmanager: Any,
    logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    arns, passwords = role_secrets(secretsmanager)
    settings = MigrateSettings(
        database_url=database, database_role_secret_arns=arns, ledger_fee_account_id="fees-deploy"
    )
    deploy = compose(settings, secrets=lambda: secretsmanager)
    # When the deploy runs it (the trigger's event is not read), twice
    first = handler({"RequestType": "Create"}, LambdaContextStub(), deploy=deploy)
    again = handler({}, LambdaContextStub(), deploy=deploy)
    head = len(migrations.discover())
    assert first == {
        "applied": list(range(1, head + 1)),
        "version": head,
        "logins": sorted(ROLES),
        "fee_account_id": "fees-deploy",
        "instruments_seeded": None,  # no instruments table named: tests/integration/instruments
    }
    assert again == {**first, "applied": []}
    with psycopg.connect(database) as conn:
        # Then each role logs in with its secret's password, stored hashed
        for role in ROLES:
            row = conn.execute(
                "SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = %s", (role,)
            ).fetchone()
            assert row is not None
            assert row[0] is True
            assert scram_matches(str(row[1]), passwords[role])
        # And the fee account is open
        assert conn.execute(
            "SELECT kind, kyc_status FROM ledger.accounts WHERE account_id = 'fees-deploy'"
        ).fetchone() == ("FEE", "VERIFIED")
    # And the logs name the roles, never a password
    logged = logs.getvalue() + capsys.readouterr().out
    assert "exchange_kyc" in logs.getvalue()
    assert not any(password in logged for password in passwords.values())


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize(
    "bad",
    [
        {"username": "postgres", "password": "pw-x"},  # another user: the proxy would log in as it
        {"username": "exchange_kyc"},  # no password
        {"user": "exchange_kyc", "password": "pw-x"},
    ],
)
def test_a_bad_secret_fails_the_deploy_before_anything_changes(
    bad: dict[str, str], database: str, secretsmanager: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    arns, _ = role_secrets(secretsmanager, exchange_kyc=bad)
    deploy = compose(
        MigrateSettings(database_url=database, database_role_secret_arns=arns),
        secrets=lambda: secretsmanager,
    )
    with pytest.raises(ConfigurationError, match="exchange_kyc") as raised:
        handler({}, LambdaContextStub(), deploy=deploy)
    assert "pw-x" not in str(raised.value)
    with psycopg.connect(database) as conn:
        assert migrations.current(conn) == 0
    capsys.readouterr()


def test_without_role_secrets_it_only_migrates(database: str) -> None:
    # Locally (make run): no proxy, so no passwords; the database URL is the admin's
    deploy = compose(MigrateSettings(database_url=database), secrets=NoSecrets)
    report = deploy.run()
    assert report.ledger.logins == []
    assert report.ledger.version == len(migrations.discover())
