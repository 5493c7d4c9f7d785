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
from typing import Any, Protocol

from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from exchange.domain.errors import ConfigurationError
from exchange.ledger.settings import LedgerSettings
from exchange.secrets import secrets_client_factory as boto3_secrets_client

ConninfoProvider = Callable[[], str]


class SecretsClient(Protocol):
    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]: ...  # noqa: N803 - boto3's


class SecretsManagerConninfo:
    """A conninfo read from a Secrets Manager secret, cached for ``ttl_seconds``."""

    def __init__(
        self,
        secret_arn: str,
        client_factory: Callable[[], SecretsClient],
        *,
        ttl_seconds: float = 300.0,
        sslmode: str = "require",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_arn = secret_arn
        self._client_factory = client_factory
        self._client: SecretsClient | None = None
        self._ttl = ttl_seconds
        self._sslmode = sslmode
        self._clock = clock
        self._cached: tuple[float, str] | None = None

    def __call__(self) -> str:
        now = self._clock()
        if self._cached is not None and now - self._cached[0] < self._ttl:
            return self._cached[1]
        if self._client is None:
            self._client = self._client_factory()
        response = self._client.get_secret_value(SecretId=self._secret_arn)
        try:
            secret = json.loads(response["SecretString"])
            conninfo = make_conninfo(
                host=secret["host"],
                port=str(secret.get("port", 5432)),
                dbname=secret.get("dbname", "postgres"),
                user=secret["username"],
                password=secret["password"],
                sslmode=self._sslmode,
            )
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            # Never echo the secret: name the problem only.
            raise ConfigurationError(
                f"database secret is not RDS JSON (host, username, password): {type(exc).__name__}"
            ) from exc
        self._cached = (now, conninfo)
        return conninfo


def conninfo_provider(
    settings: LedgerSettings,
    secrets_client_factory: Callable[[], SecretsClient] | None = None,
) -> ConninfoProvider:
    """A URL from settings as it is, else the Secrets Manager secret."""
    url = settings.database_url
    if url:
        return lambda: url
    if settings.database_secret_arn is None:
        raise ConfigurationError("no database URL or secret ARN is configured")
    factory = secrets_client_factory or boto3_secrets_client(settings)
    return SecretsManagerConninfo(settings.database_secret_arn, factory)


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
    settings: LedgerSettings,
    secrets_client_factory: Callable[[], SecretsClient] | None = None,
) -> ConnectionPool:
    return open_pool(
        conninfo_provider(settings, secrets_client_factory),
        min_size=settings.ledger_pool_min,
        max_size=settings.ledger_pool_size,
        prepared_statements=settings.ledger_prepared_statements,
    )
