"""Connections fit for Lambda: a small pool per container, credentials resolved lazily.

Nothing here calls AWS at import. Three ways to the database (``DatabaseSettings``):

- a URL as it is (local mode, tests);
- a function in AWS: through RDS Proxy as its own database role, authenticated with IAM. Each new
  connection gets a fresh authentication token as its password (``generate_db_auth_token``: a
  local SigV4 signing, no API call; a token is good for 15 minutes and is only checked when the
  connection opens: "Connecting to your DB cluster using IAM authentication", Aurora User Guide),
  over TLS verified against the proxy's name (``sslmode=verify-full``). The proxy presents an ACM
  certificate that chains to Amazon Root CA 1 (Amazon Trust Services), not to the RDS CA bundle
  ("Connecting to a database through RDS Proxy"; AWS Knowledge Center "connect to RDS Proxy ...
  TLS": "the proxy uses a wildcard certificate", verified with the Amazon Root CA 1 trust store);
  the trust store is the Mozilla bundle boto3 itself trusts (certifi, else botocore's copy), which
  holds Amazon's roots and ships with the Lambda runtime's boto3. Server-side prepared statements
  are off there: they pin a client to one database connection ("Avoiding pinning an RDS Proxy").
- the RDS-managed admin secret (JSON with ``username``, ``password``, ``host``, ``port``,
  ``dbname``) for the migrations and operators' tools, fetched on the first connection and again
  after ``ttl_seconds`` so a rotated password is picked up by new connections.

The AWS clients are injected as factories (called on first use), so tests pass stubs and no boto3
client is built at cold start unless it is needed.
"""

import json
import time
from collections.abc import Callable
from typing import Any, Protocol, cast

from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from exchange.aws import (
    AwsLocation,
    CachedSecret,
    SecretsClient,
    aws_client,
    secrets_client_factory,
)
from exchange.domain.errors import ConfigurationError
from exchange.settings import LedgerDatabaseSettings, LedgerSettings

ConninfoProvider = Callable[[], str]


class RdsAuthClient(Protocol):
    """The one call of boto3's RDS client used here (a local signing)."""

    def generate_db_auth_token(
        self,
        DBHostname: str,  # noqa: N803 - boto3's names
        Port: int,  # noqa: N803
        DBUsername: str,  # noqa: N803
        Region: str | None = None,  # noqa: N803
    ) -> str: ...


def rds_conninfo(secret_string: str, *, sslmode: str = "require", dbname: str | None = None) -> str:
    """A libpq conninfo from the RDS-managed secret JSON (``host``, ``username``, ``password``,
    optional ``port`` and ``dbname``); ``dbname`` names the database instead of the secret."""
    try:
        secret = json.loads(secret_string)
        return make_conninfo(
            host=secret["host"],
            port=str(secret.get("port", 5432)),
            dbname=dbname or secret.get("dbname", "postgres"),
            user=secret["username"],
            password=secret["password"],
            sslmode=sslmode,
        )
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        # Never echo the secret: name the problem only.
        raise ConfigurationError(
            f"database secret is not RDS JSON (host, username, password): {type(exc).__name__}"
        ) from exc


def secrets_manager_conninfo(
    secret_arn: str,
    client_factory: Callable[[], SecretsClient],
    *,
    ttl_seconds: float = 300.0,
    clock: Callable[[], float] = time.monotonic,
    dbname: str | None = None,
) -> ConninfoProvider:
    """A conninfo read from a Secrets Manager secret, cached for ``ttl_seconds``."""

    def parse(secret_string: str) -> str:
        return rds_conninfo(secret_string, dbname=dbname)

    return CachedSecret(
        secret_arn, client_factory, parse=parse, ttl_seconds=ttl_seconds, clock=clock
    )


def trust_store() -> str:
    """The CA bundle boto3 verifies AWS endpoints with: certifi's, else botocore's own copy."""
    from botocore.httpsession import get_cert_path  # noqa: PLC0415 - only the proxy path needs it

    path: str = get_cert_path(True)
    return path


def proxy_conninfo(
    *,
    host: str,
    port: int,
    dbname: str,
    user: str,
    token: Callable[[], str] | None,
    sslrootcert: str | None = None,
) -> ConninfoProvider:
    """A conninfo per new connection to RDS Proxy as ``user``: with a fresh IAM token from
    ``token`` as its password each time (never reused: a pool may open a connection long after
    the last one), over TLS that verifies the proxy's certificate and name. ``token`` None
    connects without a password (a local stand-in with trust authentication)."""

    def conninfo() -> str:
        return make_conninfo(
            host=host,
            port=str(port),
            dbname=dbname,
            user=user,
            password=None if token is None else token(),
            sslmode="verify-full",
            sslrootcert=sslrootcert or trust_store(),
        )

    return conninfo


def iam_token(
    client_factory: Callable[[], RdsAuthClient], *, host: str, port: int, user: str, region: str
) -> Callable[[], str]:
    """A new IAM authentication token per call; the client is built on the first call."""
    clients: list[RdsAuthClient] = []

    def token() -> str:
        if not clients:
            clients.append(client_factory())
        return clients[0].generate_db_auth_token(
            DBHostname=host, Port=port, DBUsername=user, Region=region
        )

    return token


def through_proxy(settings: LedgerDatabaseSettings) -> bool:
    """A function in AWS: RDS Proxy as its own role (and no URL that would take precedence)."""
    return not settings.database_url and bool(settings.database_host and settings.database_user)


def rds_clients(settings: AwsLocation) -> Callable[[], RdsAuthClient]:
    """A factory of the RDS client in the settings' region (built when a token is first needed)."""

    def build() -> RdsAuthClient:
        client: RdsAuthClient = aws_client("rds", settings)
        return client

    return build


def conninfo_provider(
    settings: LedgerDatabaseSettings,
    secrets_client_factory: Callable[[], SecretsClient] | None = None,
    *,
    rds_client_factory: Callable[[], RdsAuthClient] | None = None,
    region: str | None = None,
) -> ConninfoProvider:
    """A URL from settings as it is; else RDS Proxy as ``database_user`` (IAM tokens from
    ``rds_client_factory`` in ``region`` when ``database_iam_auth``; by default the RDS client of
    the settings' own region, when they have one); else the admin secret."""
    url = settings.database_url
    if url:
        return lambda: url
    if through_proxy(settings):
        assert settings.database_host  # noqa: S101 - through_proxy checked both
        assert settings.database_user  # noqa: S101
        token: Callable[[], str] | None = None
        if settings.database_iam_auth:
            own_region = getattr(settings, "aws_region", None)  # a function's AwsSettings
            if rds_client_factory is None and isinstance(own_region, str):
                rds_client_factory = rds_clients(cast("AwsLocation", settings))
                region = region or own_region
            if rds_client_factory is None or region is None:
                raise ConfigurationError("IAM database authentication needs an RDS client")
            token = iam_token(
                rds_client_factory,
                host=settings.database_host,
                port=settings.database_port,
                user=settings.database_user,
                region=region,
            )
        return proxy_conninfo(
            host=settings.database_host,
            port=settings.database_port,
            dbname=settings.database_name,
            user=settings.database_user,
            token=token,
        )
    return admin_conninfo(settings, secrets_client_factory)


def admin_conninfo(
    settings: LedgerDatabaseSettings,
    secrets_client_factory: Callable[[], SecretsClient] | None = None,
) -> ConninfoProvider:
    """The admin's connection (migrations, operators' tools): the URL, else the RDS secret, to
    the functions' database (``database_name``) whatever database the secret names."""
    url = settings.database_url
    if url:
        return lambda: url
    if settings.database_secret_arn is None:
        raise ConfigurationError("no database URL or secret ARN is configured")
    if secrets_client_factory is None:
        raise ConfigurationError("a database secret needs a Secrets Manager client factory")
    return secrets_manager_conninfo(
        settings.database_secret_arn, secrets_client_factory, dbname=settings.database_name
    )


def open_pool(
    conninfo: ConninfoProvider,
    *,
    min_size: int = 0,
    max_size: int = 2,
    prepared_statements: bool = True,
    name: str = "ledger",
) -> ConnectionPool:
    """An open pool; connections are made on demand (``min_size`` 0 keeps cold starts cheap).

    Close it with ``pool.close()`` (or use it as a context manager); Lambda containers just let it
    die with the process.
    """
    kwargs: dict[str, Any] = {"autocommit": False}
    if not prepared_statements:
        kwargs["prepare_threshold"] = None
    pool: ConnectionPool = ConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        kwargs=kwargs,
        open=True,
        name=name,
        # A connection the proxy or a failover has dropped is noticed before it is handed out.
        check=ConnectionPool.check_connection,
        max_idle=300.0,
        timeout=10.0,
    )
    return pool


def pool_from_settings(
    settings: LedgerDatabaseSettings,
    secrets_client_factory: Callable[[], SecretsClient] | None = None,
    *,
    rds_client_factory: Callable[[], RdsAuthClient] | None = None,
    region: str | None = None,
) -> ConnectionPool:
    """The function's pool; behind RDS Proxy without server-side prepared statements."""
    return open_pool(
        conninfo_provider(
            settings, secrets_client_factory, rds_client_factory=rds_client_factory, region=region
        ),
        min_size=settings.ledger_pool_min,
        max_size=settings.ledger_pool_size,
        prepared_statements=settings.ledger_prepared_statements and not through_proxy(settings),
    )


def function_pool(settings: LedgerSettings) -> ConnectionPool:
    """A ledger function's pool as configured in AWS or locally (``conninfo_provider``), with
    the AWS clients it may need built on first use."""
    return pool_from_settings(
        settings,
        secrets_client_factory(settings),
        rds_client_factory=rds_clients(settings),
        region=settings.aws_region,
    )
