"""Connections fit for Lambda: a small pool per container, credentials resolved lazily.

Nothing here calls AWS at import. In AWS the credentials come from a Secrets Manager secret (the
RDS-managed JSON with ``username``, ``password``, ``host``, ``port``, ``dbname``), fetched on the
first connection and again after ``ttl_seconds`` so a rotated password is picked up by new
connections. The Secrets Manager client is injected (a factory, called on first use), so tests
pass a stub and no boto3 client is built at cold start unless it is needed.
"""

import json
import time
from collections.abc import Callable
from typing import Any

from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from exchange.aws import CachedSecret, SecretsClient
from exchange.domain.errors import ConfigurationError
from exchange.settings import LedgerDatabaseSettings

ConninfoProvider = Callable[[], str]


def rds_conninfo(secret_string: str, *, sslmode: str = "require") -> str:
    """A libpq conninfo from the RDS-managed secret JSON (``host``, ``username``, ``password``,
    optional ``port`` and ``dbname``)."""
    try:
        secret = json.loads(secret_string)
        return make_conninfo(
            host=secret["host"],
            port=str(secret.get("port", 5432)),
            dbname=secret.get("dbname", "postgres"),
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
) -> ConninfoProvider:
    """A conninfo read from a Secrets Manager secret, cached for ``ttl_seconds``."""
    return CachedSecret(
        secret_arn, client_factory, parse=rds_conninfo, ttl_seconds=ttl_seconds, clock=clock
    )


def conninfo_provider(
    settings: LedgerDatabaseSettings,
    secrets_client_factory: Callable[[], SecretsClient] | None = None,
) -> ConninfoProvider:
    """A URL from settings as it is, else the Secrets Manager secret."""
    url = settings.database_url
    if url:
        return lambda: url
    if settings.database_secret_arn is None:
        raise ConfigurationError("no database URL or secret ARN is configured")
    if secrets_client_factory is None:
        raise ConfigurationError("a database secret needs a Secrets Manager client factory")
    factory = secrets_client_factory
    return secrets_manager_conninfo(settings.database_secret_arn, factory)


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
) -> ConnectionPool:
    return open_pool(
        conninfo_provider(settings, secrets_client_factory),
        min_size=settings.ledger_pool_min,
        max_size=settings.ledger_pool_size,
        prepared_statements=settings.ledger_prepared_statements,
    )
