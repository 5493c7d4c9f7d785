"""The four REST functions' settings, each read once at cold start with ``load_settings``.

Every field is an environment variable ``EXCHANGE_<FIELD>`` (upper case), except the ones AWS and
Powertools name themselves (``AWS_REGION``, ``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_LOG_LEVEL``).
Maps and lists are JSON, e.g. ``EXCHANGE_SHARDS='{"s1": ["BTC-USD", "ETH-USD"]}'``.
"""

from typing import Annotated

from pydantic import Field, SecretStr

from exchange.ledger.settings import LedgerSettings
from exchange.settings import (
    AwsSettings,
    BrokerSettings,
    InstrumentSettings,
    ObservabilitySettings,
    RedisSettings,
)
from exchange.tables import TableSettings
from exchange.trading.model import DEFAULT_IDEMPOTENCY_TTL_SECONDS, DEFAULT_MAX_OPEN_ORDERS

# API Gateway accepts 10 MB; no request of ours comes near a few hundred bytes.
DEFAULT_MAX_BODY_BYTES = 16 * 1024


class ApiSettings(ObservabilitySettings, AwsSettings, InstrumentSettings):
    """What every REST function reads."""

    api_max_body_bytes: Annotated[int, Field(ge=256, le=10 * 1024 * 1024)] = DEFAULT_MAX_BODY_BYTES


class OrdersSettings(ApiSettings, TableSettings, BrokerSettings, LedgerSettings):
    max_open_orders: Annotated[int, Field(ge=1, le=100_000)] = DEFAULT_MAX_OPEN_ORDERS
    idempotency_ttl_seconds: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] = (
        DEFAULT_IDEMPOTENCY_TTL_SECONDS
    )
    # Which engine shard trades each symbol; None means the map shipped in the layer.
    shards: dict[str, list[str]] | None = None


# The ignores: the pydantic mypy plugin reports its own generated ``model_construct`` copies as
# incompatible between two settings bases (pydantic/pydantic#8729); the runtime models are fine.
class AccountSettings(ApiSettings, LedgerSettings):  # type: ignore[misc]
    pass


class MarketsSettings(ApiSettings, TableSettings, RedisSettings):
    pass


class DepositsSettings(ApiSettings, LedgerSettings):  # type: ignore[misc]
    """The webhook's signing secret: ``ledger_webhook_secret_arn`` (Secrets Manager) in AWS, or
    ``webhook_secret`` locally; either holds one secret, or a JSON array during a rotation."""

    webhook_secret: SecretStr | None = None
