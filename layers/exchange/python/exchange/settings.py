"""Typed settings, read once from the environment at start-up.

Each process has one model, built from small mixins, and reads it once with ``load_settings``.
Nothing else reads ``os.environ``. Variables are prefixed ``EXCHANGE_`` except the ones AWS and
Powertools define themselves. For example, with ``EXCHANGE_SHARD_ID=s1`` and
``EXCHANGE_SYMBOLS=BTC-USD,ETH-USD`` set, ``load_settings(EngineSettings).symbols`` is
``['BTC-USD', 'ETH-USD']``.
"""

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from exchange.domain.errors import ConfigurationError
from exchange.domain.instruments import InstrumentCatalog


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
    """PostgreSQL: a URL locally, a Secrets Manager secret in AWS."""

    database_url: str | None = None
    database_secret_arn: str | None = None


class AuthSettings(_Settings):
    """The Cognito user pool whose JWTs the WebSocket authorizer and the local gateway verify.

    ``jwks_url`` defaults to the pool's public JWKS; moto serves its own, so it is configurable.
    """

    user_pool_id: str | None = None
    app_client_id: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None


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


class JournalSettings(_Settings):
    journal_stream: str = "exchange-events"


class EngineSettings(
    ObservabilitySettings,
    AwsSettings,
    BrokerSettings,
    RedisSettings,
    JournalSettings,
    InstrumentSettings,
):
    """The matching-engine service: one process per shard, a shard being a set of symbols."""

    shard_id: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,32}$")]
    symbols: Annotated[list[str], NoDecode, Field(min_length=1)]
    snapshot_bucket: str | None = None
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


def _variable(model: type[BaseSettings], loc: tuple[int | str, ...]) -> str:
    """The environment variable behind an error location, e.g. ``EXCHANGE_SHARD_ID``."""
    if not loc:
        return model.__name__
    name = str(loc[0])
    field = model.model_fields.get(name)
    if field is None or field.validation_alias is not None:
        return name  # already the variable's own name (an alias)
    prefix = model.model_config.get("env_prefix", "")
    return f"{prefix}{name}".upper()
