"""The settings mixins (one per external system or concern) and ``load_settings``.

Every field is an environment variable ``EXCHANGE_<FIELD>`` (upper case), except the ones AWS and
Powertools name themselves (``AWS_REGION``, ``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_LOG_LEVEL``).
Maps and lists are JSON, e.g. ``EXCHANGE_SHARDS='{"s1": ["BTC-USD", "ETH-USD"]}'``; decimals
inside them are strings. The mixins share no base but ``_Settings``, so a deployable's model
combines them without diamonds.
"""

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from exchange.domain.errors import ConfigurationError
from exchange.domain.instruments import InstrumentCatalog

# Decimal places per asset. A notional (tick x lot) must fit the quote's scale: BTC-USD's is
# 0.000001 and SOL-USD's 0.00001, so USD keeps 8 places.
DEFAULT_ASSET_SCALES: Final[dict[str, int]] = {"USD": 8, "BTC": 8, "ETH": 18, "SOL": 9, "ACME": 0}


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXCHANGE_", extra="ignore", frozen=True)


class ObservabilitySettings(_Settings):
    service_name: str = Field(default="exchange", validation_alias="POWERTOOLS_SERVICE_NAME")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias="POWERTOOLS_LOG_LEVEL"
    )
    environment: Literal["local", "test", "dev", "staging", "prod"] = "local"


class AwsSettings(_Settings):
    aws_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    # Set only in local mode and tests, where moto serves the AWS APIs.
    aws_endpoint_url: str | None = None


class BrokerSettings(_Settings):
    """RabbitMQ: a URL locally; in AWS, Amazon MQ's AMQPS endpoint plus a Secrets Manager secret
    holding ``username`` and ``password``. Neither means the in-process broker of local mode."""

    broker_url: str | None = None
    broker_endpoint: str | None = None  # amqps://b-....mq.<region>.amazonaws.com:5671
    broker_secret_arn: str | None = None


class RedisSettings(_Settings):
    redis_url: str | None = None


class DatabaseSettings(_Settings):
    """PostgreSQL, one of three ways:

    - ``database_url``: a libpq URL as it is (local mode, tests; locally each function's URL names
      its own role);
    - ``database_host`` + ``database_user`` (+ port, name): a function in AWS, through RDS Proxy
      as its own database role, with an IAM authentication token made per connection
      (``database_iam_auth``) and TLS;
    - ``database_secret_arn``: the RDS-managed admin secret (migrations and operators' tools,
      which connect to the cluster itself).
    """

    database_url: str | None = None
    database_secret_arn: str | None = None
    database_host: str | None = None
    database_port: Annotated[int, Field(ge=1, le=65535)] = 5432
    database_name: str = "exchange"
    database_user: str | None = None
    database_iam_auth: bool = True


# Each ledger function connects as its own database role (``exchange.ledger.roles`` says what each
# may do); the CDK app, the functions' environment and local mode all name it this way.
DATABASE_ROLE_PREFIX: Final = "exchange_"


def database_role(function_name: str) -> str:
    """The database role of the catalog function ``function_name``, e.g. ``exchange_orders``."""
    return f"{DATABASE_ROLE_PREFIX}{function_name}"


def cognito_issuer(region: str, user_pool_id: str) -> str:
    """The ``iss`` claim of a Cognito user pool's tokens (and the base of its public JWKS)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def jwks_url_of(issuer: str) -> str:
    return f"{issuer}/.well-known/jwks.json"


class AuthSettings(_Settings):
    """The Cognito user pool whose JWTs the WebSocket authorizer and the local gateway verify.

    ``jwks_url`` defaults to the pool's public JWKS; moto serves its own, so it is configurable.
    """

    user_pool_id: str | None = None
    # The pool's region, when it is not the function's (the DR region uses the primary's pool).
    user_pool_region: str | None = None
    app_client_id: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None


class ApiKeySettings(_Settings):
    """API keys: the KMS key their secrets are encrypted under (its id or ARN; unset locally only
    when the local KMS has made one and named it), and the defaults a new key gets."""

    api_key_kms_key_id: str | None = None
    # Requests per second a key may make unless it was created with a lower limit.
    api_key_default_rate_limit: Annotated[int, Field(ge=1, le=10_000)] = 20
    api_key_max_per_account: Annotated[int, Field(ge=1, le=1_000)] = 20


DEFAULT_MAX_OPEN_ORDERS: Final = 200


class OpenOrderCapSettings(_Settings):
    """The open-order cap per account: placing refuses past it, and a mass cancel (cancel-all,
    the dead man's switch) reads at most this many open orders of an account."""

    max_open_orders: Annotated[int, Field(ge=1, le=100_000)] = DEFAULT_MAX_OPEN_ORDERS


class CancelAfterQueueSettings(_Settings):
    """The dead man's switch (``POST /v1/orders/cancel-after``): the SQS queue whose delayed
    messages are its timers, and the timeouts a caller may ask for."""

    cancel_after_queue_url: str | None = None
    cancel_after_min_seconds: Annotated[int, Field(ge=1, le=900)] = 5
    # SQS delays a message at most 15 minutes; a longer timeout would need a second hop.
    cancel_after_max_seconds: Annotated[int, Field(ge=1, le=900)] = 900


class WebSocketSettings(_Settings):
    """The API Gateway Management API endpoint, ``https://{api}.execute-api.{region}.amazonaws.com/{stage}``."""

    ws_management_endpoint: str | None = None


class InstrumentSettings(_Settings):
    """``EXCHANGE_INSTRUMENTS_FILE``: a JSON array of instruments, the same file for the engine,
    the API and the consumers; unset means the catalog shipped in the layer."""

    instruments_file: Path | None = None

    def catalog(self) -> InstrumentCatalog:
        if self.instruments_file is None:
            return InstrumentCatalog.demo()
        return InstrumentCatalog.from_json(self.instruments_file.read_bytes())


# The Cognito group of operators: the CDK app creates it, the catalog's admin routes name it.
OPERATORS_GROUP: Final = "operators"


class OperatorSettings(_Settings):
    """The Cognito group whose members may call ``/v1/admin`` (``exchange.admin``)."""

    operators_group: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,128}$")] = OPERATORS_GROUP


class SnapshotStoreSettings(_Settings):
    """Where the engine keeps its snapshots: S3 (``snapshot_bucket``) and, signed with the HMAC
    key (``snapshot_hmac_key`` locally, the ``snapshot_hmac_secret_arn`` secret in AWS), Redis.
    The engine writes them; the reconciliation reads them."""

    snapshot_bucket: str | None = None
    snapshot_hmac_key: SecretStr | None = None
    snapshot_hmac_secret_arn: str | None = None


class ReportSettings(_Settings):
    """The S3 bucket the reconciliation writes its dated reports to (None: logged only)."""

    reports_bucket: str | None = None


class JournalSettings(_Settings):
    journal_stream: str = "exchange-events"


class TableSettings(_Settings):
    """Table names, e.g. ``EXCHANGE_ORDERS_TABLE``: one field per table in
    ``exchange.tables.TABLE_SPECS`` (``<logical name>_table``; a test checks they match)."""

    orders_table: str = Field(default="exchange-orders", min_length=3)
    fills_table: str = Field(default="exchange-fills", min_length=3)
    trades_table: str = Field(default="exchange-trades", min_length=3)
    events_table: str = Field(default="exchange-events", min_length=3)
    audit_table: str = Field(default="exchange-audit", min_length=3)
    candles_table: str = Field(default="exchange-candles", min_length=3)
    connections_table: str = Field(default="exchange-connections", min_length=3)
    idempotency_table: str = Field(default="exchange-idempotency", min_length=3)
    cursors_table: str = Field(default="exchange-cursors", min_length=3)
    quarantine_table: str = Field(default="exchange-quarantine", min_length=3)
    order_keys_table: str = Field(default="exchange-order-keys", min_length=3)
    api_keys_table: str = Field(default="exchange-api-keys", min_length=3)
    rate_limits_table: str = Field(default="exchange-rate-limits", min_length=3)
    instruments_table: str = Field(default="exchange-instruments", min_length=3)
    notifications_table: str = Field(default="exchange-notifications", min_length=3)
    failover_table: str = Field(default="exchange-failover", min_length=3)


class FailoverSettings(_Settings):
    """The failover fence and promotion (``engine_service.fence``, the ``failover`` table)."""

    # With ``fence`` (the ECS task sets it), the task waits as a standby until the fence names its
    # region (``aws_region``), takes the fence's epoch, promotes from the events table when its
    # newest snapshot is of an older epoch, and stops journaling once the fence moves away.
    fence: bool = False
    primary_region: str = "us-east-1"  # who holds the fence while the table has no item
    fence_ttl_ms: Annotated[int, Field(gt=0, le=60_000)] = 1_000  # a fence read is reused this long
    # Promotion waits until the events table's tail has not moved for this long (replication
    # drained; DynamoDB global tables replicate within about a second), at most the timeout.
    promotion_quiet_ms: Annotated[int, Field(ge=0, le=60_000)] = 2_000
    promotion_timeout_ms: Annotated[int, Field(gt=0, le=600_000)] = 30_000
    # The consumers that keep a cursor (``exchange.journal.cursors.CursoredSink``; a test checks
    # the list), JSON: '["settlement", "fanout", "candles"]'. Promotion journals again from the
    # lowest of their cursors, and one with no cursor in this region yet (never written, or not
    # replicated) stands at 0 (found by the DR drill in CI: settlement's first cursor had not
    # replicated when the primary died, promotion began at the recorder's audit head, and DR's
    # settlement met a gap). Settlement is always among them: the ledger must not miss a trade.
    promotion_consumers: Annotated[
        tuple[Literal["settlement", "fanout", "candles"], ...], Field(min_length=1)
    ] = ("settlement", "fanout", "candles")

    @field_validator("promotion_consumers")
    @classmethod
    def _settlement_counts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "settlement" not in value:
            raise ValueError("promotion_consumers must name settlement")
        return value


class ReplicationGateSettings(_Settings):
    """Settlement in the primary region settles a journal record only once the DR region's events
    table holds it (``exchange.journal.gate``): ``settle_after_replica_region`` names that region
    (the primary's settlement sets it; unset: no gate, as in DR and locally)."""

    settle_after_replica_region: str | None = None
    settle_replica_timeout_ms: Annotated[int, Field(gt=0, le=600_000)] = 20_000


class AssetScaleSettings(_Settings):
    """``EXCHANGE_LEDGER_ASSET_SCALES``: decimal places per asset. The ledger keeps balances and
    charges fees at these scales; the recorder reads the same variable so the fee a fill shows is
    the one settlement charges."""

    ledger_asset_scales: dict[str, Annotated[int, Field(ge=0, le=18)]] = Field(
        default_factory=lambda: dict(DEFAULT_ASSET_SCALES)
    )


class LedgerDatabaseSettings(DatabaseSettings, AssetScaleSettings):
    """The ledger's database, pool, fee account and webhook rules."""

    # One request at a time per Lambda container: a pool of 1-2 is enough; more only for threads.
    ledger_pool_min: Annotated[int, Field(ge=0, le=50)] = 0
    ledger_pool_size: Annotated[int, Field(ge=1, le=50)] = 2
    # False behind RDS Proxy: prepared statements pin a proxy connection to the client.
    ledger_prepared_statements: bool = True
    ledger_fee_account_id: Annotated[str, Field(min_length=1, max_length=128)] = "fees"
    ledger_webhook_secret_arn: str | None = None
    ledger_webhook_tolerance_seconds: Annotated[int, Field(gt=0, le=3600)] = 300


@cache
def load_settings[S: BaseSettings](model: type[S]) -> S:
    """Read ``model`` from the environment, once per process.

    Raises ConfigurationError naming each bad or missing variable (never its value, which may be
    a secret).
    """
    try:
        return model()
    except ValidationError as exc:
        problems = "; ".join(
            f"{_variable(model, error['loc'])}: {error['msg']}"
            for error in exc.errors(include_input=False)
        )
        raise ConfigurationError(f"invalid {model.__name__} environment: {problems}") from exc


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' own environment source (aliases, prefixes, JSON for maps and lists),
    reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environment: Mapping[str, str]) -> None:
        self._environment = dict(environment)
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environment, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def settings_from_environment[S: BaseSettings](model: type[S], environment: Mapping[str, str]) -> S:
    """``model`` read from exactly ``environment`` (variable -> value), as ``load_settings`` reads
    ``os.environ``: what a function sees when its environment is the one given (local mode gives
    each hosted function its own; tests check a template's environment against the model).

    Raises ConfigurationError like ``load_settings``.
    """

    class _Only(model):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (_MappingEnvSource(settings_cls, environment),)

    _Only.__name__ = _Only.__qualname__ = model.__name__
    try:
        settings: S = _Only()
    except ValidationError as exc:
        problems = "; ".join(
            f"{_variable(model, error['loc'])}: {error['msg']}"
            for error in exc.errors(include_input=False)
        )
        raise ConfigurationError(f"invalid {model.__name__} environment: {problems}") from exc
    return settings


def env_var(model: type[BaseSettings], field: str) -> str:
    """The environment variable that sets ``field`` of ``model``, e.g. ``EXCHANGE_SHARD_ID``."""
    info = model.model_fields[field]
    if isinstance(info.validation_alias, str):
        return info.validation_alias
    prefix = model.model_config.get("env_prefix", "")
    return f"{prefix}{field}".upper()


def _variable(model: type[BaseSettings], loc: tuple[int | str, ...]) -> str:
    """The environment variable behind an error location, e.g. ``EXCHANGE_SHARD_ID``."""
    if not loc:
        return model.__name__
    name = str(loc[0])
    if name not in model.model_fields:
        return name  # already the variable's own name (an alias)
    return env_var(model, name)


__all__ = [
    "DATABASE_ROLE_PREFIX",
    "DEFAULT_ASSET_SCALES",
    "DEFAULT_MAX_OPEN_ORDERS",
    "OPERATORS_GROUP",
    "ApiKeySettings",
    "AssetScaleSettings",
    "AuthSettings",
    "AwsSettings",
    "BrokerSettings",
    "CancelAfterQueueSettings",
    "DatabaseSettings",
    "InstrumentSettings",
    "JournalSettings",
    "LedgerDatabaseSettings",
    "ObservabilitySettings",
    "OpenOrderCapSettings",
    "OperatorSettings",
    "RedisSettings",
    "ReportSettings",
    "SnapshotStoreSettings",
    "TableSettings",
    "WebSocketSettings",
    "cognito_issuer",
    "database_role",
    "env_var",
    "jwks_url_of",
    "load_settings",
    "settings_from_environment",
]
