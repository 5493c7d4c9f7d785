"""Typed settings of the WebSocket functions (read once with ``load_settings``)."""

from typing import Annotated, Self

from pydantic import Field, model_validator

from exchange.realtime.auth import cognito_issuer
from exchange.realtime.session import DEFAULT_MAX_SUBSCRIPTIONS, DEFAULT_TTL_SECONDS
from exchange.settings import (
    AuthSettings,
    AwsSettings,
    InstrumentSettings,
    ObservabilitySettings,
    RedisSettings,
    WebSocketSettings,
)
from exchange.tables import TableSettings


class AuthorizerSettings(ObservabilitySettings, AwsSettings, AuthSettings):
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
        return self.issuer or cognito_issuer(self.aws_region, self.user_pool_id)

    @property
    def jwks_endpoint(self) -> str:
        return self.jwks_url or f"{self.issuer_url}/.well-known/jwks.json"


class ConnectionSettings(ObservabilitySettings, TableSettings):
    ws_connection_ttl_seconds: Annotated[int, Field(ge=60, le=86_400)] = DEFAULT_TTL_SECONDS


class MessagesSettings(ConnectionSettings, RedisSettings, WebSocketSettings, InstrumentSettings):
    ws_max_subscriptions: Annotated[int, Field(ge=1, le=1_000)] = DEFAULT_MAX_SUBSCRIPTIONS
