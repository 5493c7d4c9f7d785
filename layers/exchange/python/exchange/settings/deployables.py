"""One settings model per deployable, each combined from the mixins in ``base`` and read once at
cold start with ``load_settings``. ``lambdas.catalog`` names each function's model, and the CDK
app and local mode derive the function's environment from it (``lambdas.environment``)."""

from typing import Annotated, Final, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from exchange.settings.base import (
    DEFAULT_MAX_OPEN_ORDERS,
    ApiKeySettings,
    AssetScaleSettings,
    AuthSettings,
    AwsSettings,
    BrokerSettings,
    CancelAfterQueueSettings,
    FailoverSettings,
    InstrumentSettings,
    JournalSettings,
    LedgerDatabaseSettings,
    ObservabilitySettings,
    OpenOrderCapSettings,
    OperatorSettings,
    RedisSettings,
    ReplicationGateSettings,
    ReportSettings,
    SnapshotStoreSettings,
    TableSettings,
    WebSocketSettings,
    cognito_issuer,
    jwks_url_of,
)

# API Gateway accepts 10 MB; no request of ours comes near a few hundred bytes.
DEFAULT_MAX_BODY_BYTES: Final = 16 * 1024
DEFAULT_PUBLISH_TIMEOUT_SECONDS: Final = 3.0
# A retry with the same key within a day returns the first answer.
DEFAULT_IDEMPOTENCY_TTL_SECONDS: Final = 24 * 3600
# API Gateway closes a WebSocket after 2 hours whatever happens; the connection row lives a little
# longer, so a $disconnect that never ran leaves nothing behind for long.
DEFAULT_WS_TTL_SECONDS: Final = 2 * 3600 + 300
DEFAULT_WS_MAX_SUBSCRIPTIONS: Final = 50


# --- the ledger, alone (migrations, operators' tools) ------------------------------------------


class LedgerSettings(ObservabilitySettings, AwsSettings, LedgerDatabaseSettings):
    @model_validator(mode="after")
    def _database(self) -> Self:
        through_proxy = bool(self.database_host and self.database_user)
        if not self.database_url and not self.database_secret_arn and not through_proxy:
            raise ValueError(
                "set EXCHANGE_DATABASE_URL, EXCHANGE_DATABASE_HOST with EXCHANGE_DATABASE_USER,"
                " or EXCHANGE_DATABASE_SECRET_ARN"
            )
        if self.ledger_pool_min > self.ledger_pool_size:
            raise ValueError("ledger_pool_min must not exceed ledger_pool_size")
        return self


# --- REST functions ----------------------------------------------------------------------------


class RestSettings(InstrumentSettings):
    """What every REST function reads besides observability and AWS."""

    api_max_body_bytes: Annotated[int, Field(ge=256, le=10 * 1024 * 1024)] = DEFAULT_MAX_BODY_BYTES


class CommandSettings(BrokerSettings):
    """The broker, where each symbol's commands go, and how long one publish may take: what a
    function that publishes engine commands (``RabbitCommandSink``) reads."""

    # Which engine shard trades each symbol; None means the map shipped in the layer.
    shards: dict[str, list[str]] | None = None
    # The deadline of one publish (connect, channel, confirm). The orders function may publish
    # twice (an unconfirmed order, then its cancel), so twice this must fit well inside its
    # timeout (``lambdas.catalog``; a test checks).
    publish_timeout_seconds: Annotated[float, Field(gt=0, le=10)] = DEFAULT_PUBLISH_TIMEOUT_SECONDS


class RateLimitedSettings(TableSettings, ApiKeySettings):
    """A REST function whose routes take API keys: it counts each key's requests (the
    ``rate_limits`` table) and answers 429 past the key's limit."""


class OrdersSettings(
    LedgerSettings,
    RestSettings,
    RateLimitedSettings,
    CommandSettings,
    CancelAfterQueueSettings,
    OpenOrderCapSettings,
):
    idempotency_ttl_seconds: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] = (
        DEFAULT_IDEMPOTENCY_TTL_SECONDS
    )
    # Accounts that may send ``stp: NONE`` (self-trades allowed); everyone else gets a 422, or one
    # account could print trades at the prices it likes and walk the band's reference.
    market_maker_accounts: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list
    )


class AccountSettings(LedgerSettings, RestSettings, RateLimitedSettings, WebSocketSettings):
    """The Management API endpoint pushes ``balances`` frames after a withdrawal's hold."""


class ApiKeysSettings(
    ObservabilitySettings, AwsSettings, RestSettings, TableSettings, ApiKeySettings
):
    """Creates, lists and revokes API keys: the api_keys table, the KMS key their secrets are
    encrypted under, and the audit table where each creation and revocation is chained."""


class MarketsSettings(
    ObservabilitySettings,
    AwsSettings,
    RestSettings,
    TableSettings,
    RedisSettings,
    AssetScaleSettings,
):
    """``ledger_asset_scales``: each asset's precision in ``GET /v1/assets``."""


class DepositsSettings(LedgerSettings, RestSettings, TableSettings, WebSocketSettings):
    """The webhook's signing secret: ``ledger_webhook_secret_arn`` (Secrets Manager) in AWS, or
    ``webhook_secret`` locally; either holds one secret, or a JSON array during a rotation."""

    webhook_secret: SecretStr | None = None


class KycSettings(LedgerSettings, RestSettings):
    """The KYC provider's webhook: the same signing scheme as deposits, its own secret
    (``kyc_webhook_secret_arn`` in AWS, ``kyc_webhook_secret`` locally)."""

    kyc_webhook_secret_arn: str | None = None
    kyc_webhook_secret: SecretStr | None = None


class HealthSettings(
    ObservabilitySettings,
    AwsSettings,
    LedgerDatabaseSettings,
    BrokerSettings,
    RedisSettings,
    TableSettings,
    InstrumentSettings,
):
    """``GET /v1/health``: every dependency trading needs (the ledger, the broker, Redis, each
    engine shard's heartbeat, the journal consumers' progress)."""

    # Which engine shard trades each symbol; None means the map shipped in the layer.
    shards: dict[str, list[str]] | None = None
    # A shard whose heartbeat is older than this cannot be trading.
    health_heartbeat_max_age_seconds: Annotated[float, Field(gt=0, le=3600)] = 15.0
    # Each check's own deadline: under Route 53's 2 s response window ("How Amazon Route 53
    # determines whether a health check is healthy"), so a hung dependency still gets our 503.
    health_check_timeout_seconds: Annotated[float, Field(gt=0, le=10)] = 1.5
    # Answers are reused for this long: Route 53's checkers and the public poll it.
    health_cache_seconds: Annotated[float, Field(ge=0, le=60)] = 5.0


# --- Cognito triggers and deploy-time functions ------------------------------------------------


class OnboardingSettings(LedgerSettings):
    """The post-confirmation trigger: opens the confirmed user's ledger account (KYC pending)."""


class MigrateSettings(LedgerSettings, TableSettings, InstrumentSettings):
    """The deploy-time migration runner: connects as the admin (``database_secret_arn`` in AWS,
    ``database_url`` locally), migrates the ledger to head and gives each function's database
    role its login (``database_role_secret_arns``: role name -> the secret whose password the
    proxy presents for that role); then seeds the instruments table (``instruments_table``)
    with the instruments file's symbols it lacks, each on its shard (``shards``)."""

    database_role_secret_arns: dict[str, str] = Field(default_factory=dict)
    # Which engine shard trades each symbol; None means the map shipped in the layer.
    shards: dict[str, list[str]] | None = None


# --- journal consumers -------------------------------------------------------------------------


class ConsumerSettings(ObservabilitySettings, AwsSettings, TableSettings, InstrumentSettings):
    """What every journal consumer reads: table names (the cursors table among them)."""


class RecorderSettings(ConsumerSettings, AssetScaleSettings, WebSocketSettings):
    """The Management API endpoint pushes each record's ``orders`` frames (client order ids, fill
    fees) once it is recorded (unset: orders are recorded, not pushed).

    ``trades_ttl_days``: unset (the default), the trade tape keeps every trade, so
    ``GET /v1/markets/{symbol}/trades`` pages back to the first one; set, each trade expires that
    many days after it happened (DynamoDB TTL). The archive in S3 keeps the journal either way."""

    trades_ttl_days: Annotated[int, Field(gt=0, le=3650)] | None = None


class SettlementSettings(
    LedgerSettings, TableSettings, InstrumentSettings, WebSocketSettings, ReplicationGateSettings
):
    """The ledger, the cursors table, and the Management API endpoint for ``balances`` frames."""


class FanoutSettings(ConsumerSettings, RedisSettings, WebSocketSettings):
    """Connections table, Redis (the L2 book kept current) and the Management API endpoint."""


class CandlesSettings(ConsumerSettings, WebSocketSettings):
    """Candles and connections tables; the Management API endpoint to publish bar updates
    (unset: bars are stored, not pushed)."""


# --- WebSocket functions -----------------------------------------------------------------------


class AuthorizerSettings(
    ObservabilitySettings, AwsSettings, AuthSettings, TableSettings, ApiKeySettings
):
    """``EXCHANGE_USER_POOL_ID`` and ``EXCHANGE_APP_CLIENT_ID`` are required; the issuer and the
    JWKS URL default to the pool's public ones."""

    # Public market data is public over REST too, so anonymous sockets may read it by default.
    ws_allow_anonymous: bool = True

    @model_validator(mode="after")
    def _pool(self) -> Self:
        if not self.user_pool_id or not self.app_client_id:
            raise ValueError("set EXCHANGE_USER_POOL_ID and EXCHANGE_APP_CLIENT_ID")
        return self

    @property
    def issuer_url(self) -> str:
        assert self.user_pool_id is not None  # noqa: S101 - checked by the validator
        region = self.user_pool_region or self.aws_region
        return self.issuer or cognito_issuer(region, self.user_pool_id)

    @property
    def jwks_endpoint(self) -> str:
        return self.jwks_url or jwks_url_of(self.issuer_url)


class RestAuthorizerSettings(AuthorizerSettings):
    """The REST API's Lambda REQUEST authorizer: a Cognito access token, or a request signed with
    an API key (the api_keys table; the secret decrypted with KMS)."""


class CancelAfterSettings(
    ObservabilitySettings,
    AwsSettings,
    TableSettings,
    CommandSettings,
    InstrumentSettings,
    OpenOrderCapSettings,
):
    """The dead man's switch's timers (SQS): the order_keys table holds each account's deadline,
    the orders table its open orders, and cancels go to the broker."""


class ConnectionSettings(ObservabilitySettings, AwsSettings, TableSettings):
    ws_connection_ttl_seconds: Annotated[int, Field(ge=60, le=86_400)] = DEFAULT_WS_TTL_SECONDS


class MessagesSettings(ConnectionSettings, RedisSettings, WebSocketSettings, InstrumentSettings):
    ws_max_subscriptions: Annotated[int, Field(ge=1, le=1_000)] = DEFAULT_WS_MAX_SUBSCRIPTIONS


# --- operations: settling what the engine did not answer --------------------------------------


class ReconcilerSettings(
    ObservabilitySettings, AwsSettings, TableSettings, CommandSettings, InstrumentSettings
):
    """``exchange.orders.reconcile``: orders PENDING_NEW for longer than
    ``reconcile_after_seconds`` get their reconcile cancel, at most ``reconcile_batch_limit`` per
    symbol and run."""

    reconcile_after_seconds: Annotated[int, Field(ge=5, le=86_400)] = 60
    reconcile_batch_limit: Annotated[int, Field(ge=1, le=10_000)] = 500


class DeadLettersSettings(LedgerSettings, TableSettings, CommandSettings, InstrumentSettings):
    """``exchange.orders.dead_letters``: the orders table, the broker and the ledger."""


# --- operators ---------------------------------------------------------------------------------


class AdminSettings(LedgerSettings, RestSettings, TableSettings, CommandSettings, OperatorSettings):
    """The admin API (``exchange.admin``): operators' commands to the engine (the broker), account
    freezes and dividends (the ledger), listings (the instruments table) and the audit log."""


class ReconciliationSettings(
    LedgerSettings, TableSettings, InstrumentSettings, RedisSettings, SnapshotStoreSettings,
    ReportSettings,
):  # fmt: skip
    """``exchange.operations.reconciliation``: the engine's snapshots (Redis, S3), the orders and
    trades tables and the ledger, compared; the report goes to ``reports_bucket``. A difference
    younger than ``reconcile_grace_seconds`` is in flight, not drift."""

    reconcile_grace_seconds: Annotated[int, Field(ge=0, le=86_400)] = 120
    # Which shard trades which symbols (as the publishers' ``shards``): one snapshot per shard.
    shards: dict[str, list[str]] | None = None


class DividendsSettings(LedgerSettings, TableSettings, InstrumentSettings):
    """``exchange.ledger`` dividends: pays what is due (record time passed, pay time reached)."""

    dividend_batch_limit: Annotated[int, Field(ge=1, le=10_000)] = 100


# --- the engine task ---------------------------------------------------------------------------


class EngineSettings(
    ObservabilitySettings,
    AwsSettings,
    BrokerSettings,
    RedisSettings,
    JournalSettings,
    InstrumentSettings,
    TableSettings,
    SnapshotStoreSettings,
    FailoverSettings,
):
    """The matching-engine service: one process per shard, a shard being a set of symbols.

    The Redis snapshot is signed with ``snapshot_hmac_key`` (locally) or the key in the
    ``snapshot_hmac_secret_arn`` secret (AWS); with neither, snapshots go to S3 only and Redis
    holds just the L2 views (``engine_service.adapters.snapshots`` says why).
    """

    shard_id: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,32}$")]
    symbols: Annotated[list[str], NoDecode, Field(min_length=1)]
    # Whether to read the instruments store (``instruments_table``) at start for the symbols
    # operators listed on this shard at run time (the ECS task and local mode set it); without
    # it, ``symbols`` plus what the snapshot and the journal list.
    read_instruments_store: bool = False
    # Redis is best-effort for the engine: a call that takes longer fails (no client retries),
    # and a failed store is left alone this long before the next try.
    redis_timeout_ms: Annotated[int, Field(gt=0, le=30_000)] = 1_000
    store_retry_after_seconds: Annotated[int, Field(gt=0, le=3_600)] = 30
    snapshot_every_events: Annotated[int, Field(gt=0)] = 10_000
    snapshot_every_seconds: Annotated[int, Field(gt=0)] = 60
    linger_ms: Annotated[int, Field(ge=0, le=1_000)] = 2
    prefetch: Annotated[int, Field(gt=0, le=65_535)] = 2_000
    health_port: Annotated[int, Field(gt=0, lt=65536)] = 8080
    metrics_interval_seconds: Annotated[int, Field(gt=0)] = 10

    @field_validator("symbols", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


__all__ = [
    "DEFAULT_IDEMPOTENCY_TTL_SECONDS",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_OPEN_ORDERS",
    "DEFAULT_PUBLISH_TIMEOUT_SECONDS",
    "DEFAULT_WS_MAX_SUBSCRIPTIONS",
    "DEFAULT_WS_TTL_SECONDS",
    "AccountSettings",
    "AdminSettings",
    "ApiKeysSettings",
    "AuthorizerSettings",
    "CancelAfterSettings",
    "CandlesSettings",
    "CommandSettings",
    "ConnectionSettings",
    "ConsumerSettings",
    "DeadLettersSettings",
    "DepositsSettings",
    "DividendsSettings",
    "EngineSettings",
    "FanoutSettings",
    "HealthSettings",
    "KycSettings",
    "LedgerSettings",
    "MarketsSettings",
    "MessagesSettings",
    "MigrateSettings",
    "OnboardingSettings",
    "OrdersSettings",
    "RateLimitedSettings",
    "ReconcilerSettings",
    "ReconciliationSettings",
    "RecorderSettings",
    "RestAuthorizerSettings",
    "RestSettings",
    "SettlementSettings",
]
