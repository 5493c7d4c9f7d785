"""Connecting through RDS Proxy with IAM authentication, with a stub RDS client.

What AWS documents and this pins: an authentication token is made by ``generate_db_auth_token``
(a local SigV4 signing, no API call), is good for 15 minutes and is checked only when a
connection opens ("Connecting to your DB cluster using IAM authentication", Aurora User Guide),
so each new connection gets its own, never one kept from before; the connection to the proxy
uses TLS and checks the proxy's ACM certificate against Amazon's roots ("Connecting to a database
through RDS Proxy"); server-side prepared statements pin a client to one database connection
("Avoiding pinning an RDS Proxy"), so the proxy path turns them off.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from exchange.domain import ConfigurationError
from exchange.ledger.connection import (
    admin_conninfo,
    conninfo_provider,
    pool_from_settings,
    trust_store,
)
from exchange.settings import (
    LedgerDatabaseSettings,
    LedgerSettings,
    MigrateSettings,
    load_settings,
)

PROXY = "exchange.proxy-abc123.us-east-1.rds.amazonaws.com"


class StubRds:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def generate_db_auth_token(
        self,
        DBHostname: str,  # noqa: N803 - boto3's names
        Port: int,  # noqa: N803
        DBUsername: str,  # noqa: N803
        Region: str | None = None,  # noqa: N803
    ) -> str:
        self.calls.append(
            {"DBHostname": DBHostname, "Port": Port, "DBUsername": DBUsername, "Region": Region}
        )
        return f"{DBHostname}:{Port}/?Action=connect&DBUser={DBUsername}&n={len(self.calls)}"


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    load_settings.cache_clear()
    yield
    load_settings.cache_clear()


def proxy_settings(**overrides: Any) -> LedgerSettings:
    values: dict[str, Any] = {
        "database_host": PROXY,
        "database_user": "exchange_orders",
        "database_name": "exchange",
        "database_port": 5432,
    }
    return LedgerSettings(**(values | overrides))


def test_each_connection_gets_a_fresh_token_over_verified_tls() -> None:
    # Given a function's settings in AWS and an RDS client built only when first needed
    stub, built = StubRds(), []

    def factory() -> StubRds:
        built.append(stub)
        return stub

    provider = conninfo_provider(proxy_settings(), rds_client_factory=factory, region="us-east-1")
    assert built == []
    # When three connections are opened, Then each has its own token as its password
    opened = [conninfo_to_dict(provider()) for _ in range(3)]
    assert [c["password"] for c in opened] == [
        f"{PROXY}:5432/?Action=connect&DBUser=exchange_orders&n={n}" for n in (1, 2, 3)
    ]
    assert stub.calls[0] == {
        "DBHostname": PROXY,
        "Port": 5432,
        "DBUsername": "exchange_orders",
        "Region": "us-east-1",
    }
    assert len(built) == 1
    # And TLS verifies the proxy's name against a CA bundle that holds Amazon's roots
    first = opened[0]
    assert (first["host"], first["port"], first["dbname"], first["user"]) == (
        PROXY,
        "5432",
        "exchange",
        "exchange_orders",
    )
    assert first["sslmode"] == "verify-full"
    assert first["sslrootcert"] == trust_store()
    assert "Amazon Root CA 1" in Path(trust_store()).read_text()


def test_a_url_wins_and_the_admin_path_never_uses_the_proxy() -> None:
    url = "postgresql://exchange_orders@127.0.0.1:5432/exchange"
    assert conninfo_provider(proxy_settings(database_url=url))() == url
    settings = MigrateSettings(
        database_host=PROXY,
        database_user="x",
        database_secret_arn="arn:s",  # noqa: S106 - an ARN, not a secret
    )

    class Secrets:
        def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:  # noqa: N803
            assert SecretId == "arn:s"
            return {
                "SecretString": '{"host": "cluster", "username": "admin", "password": "p", '
                '"dbname": "postgres"}'
            }

    admin = conninfo_to_dict(admin_conninfo(settings, Secrets)())
    # The admin connects to the cluster, into the functions' database whatever the secret names
    assert (admin["host"], admin["user"], admin["dbname"]) == ("cluster", "admin", "exchange")


def test_iam_auth_needs_an_rds_client_and_can_be_off_for_a_local_stand_in() -> None:
    bare = LedgerDatabaseSettings(database_host=PROXY, database_user="exchange_orders")
    with pytest.raises(ConfigurationError, match="RDS client"):
        conninfo_provider(bare)  # settings without a region
    local = conninfo_to_dict(conninfo_provider(proxy_settings(database_iam_auth=False))())
    assert "password" not in local
    assert local["sslmode"] == "verify-full"


def test_the_proxy_path_turns_prepared_statements_off(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings as the CDK app sets them for a function (prepared statements left at their default)
    monkeypatch.setenv("EXCHANGE_DATABASE_HOST", PROXY)
    monkeypatch.setenv("EXCHANGE_DATABASE_USER", "exchange_account")
    settings = load_settings(LedgerSettings)
    assert settings.ledger_prepared_statements
    pool = pool_from_settings(settings, rds_client_factory=StubRds, region="us-east-1")
    try:
        assert isinstance(pool.kwargs, dict)
        assert pool.kwargs["prepare_threshold"] is None
    finally:
        pool.close()
    local = pool_from_settings(LedgerSettings(database_url="postgresql://u@127.0.0.1:1/db"))
    try:
        assert isinstance(local.kwargs, dict)
        assert "prepare_threshold" not in local.kwargs
    finally:
        local.close()


def test_a_functions_settings_bring_their_own_rds_client(monkeypatch: pytest.MonkeyPatch) -> None:
    # As the health function calls it: settings only; the client is built, lazily, for their region
    built: list[tuple[str, str]] = []

    def client(service: str, settings: Any, **_: Any) -> StubRds:
        built.append((service, settings.aws_region))
        return StubRds()

    monkeypatch.setattr("exchange.ledger.connection.aws_client", client)
    provider = conninfo_provider(proxy_settings(aws_region="eu-west-1"))
    assert built == []
    assert "DBUser=exchange_orders" in str(conninfo_to_dict(provider())["password"])
    assert built == [("rds", "eu-west-1")]
