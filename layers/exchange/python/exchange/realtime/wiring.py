"""Each WebSocket function's and the fan-out consumer's dependencies, built from settings at
cold start (no AWS call happens here: clients connect on first use)."""

from typing import Any

import boto3
import redis

from exchange.domain.errors import ConfigurationError
from exchange.realtime.auth import Authorizer, TokenVerifier
from exchange.realtime.books import RedisBookStore
from exchange.realtime.connections import DynamoConnectionStore
from exchange.realtime.fanout import Broadcaster, Fanout
from exchange.realtime.sender import ManagementApiSender
from exchange.realtime.session import Lifecycle, Session
from exchange.realtime.settings import AuthorizerSettings, ConnectionSettings, MessagesSettings
from exchange.settings import AwsSettings, RedisSettings, WebSocketSettings
from exchange.streams.dynamo import DynamoCursorStore
from exchange.streams.settings import FanoutSettings
from exchange.tables import bind_tables


def management_client(settings: WebSocketSettings, aws: AwsSettings) -> Any:
    if not settings.ws_management_endpoint:
        raise ConfigurationError("set EXCHANGE_WS_MANAGEMENT_ENDPOINT (the WebSocket stage URL)")
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=settings.ws_management_endpoint,
        region_name=aws.aws_region,
    )


def redis_client(settings: RedisSettings) -> redis.Redis:
    if not settings.redis_url:
        raise ConfigurationError("set EXCHANGE_REDIS_URL (the L2 books)")
    return redis.Redis.from_url(settings.redis_url)


def build_authorizer(settings: AuthorizerSettings) -> Authorizer:
    assert settings.app_client_id is not None  # noqa: S101 - checked by the settings
    verifier = TokenVerifier.for_pool(
        issuer=settings.issuer_url,
        client_id=settings.app_client_id,
        jwks_url=settings.jwks_endpoint,
    )
    return Authorizer(verifier, allow_anonymous=settings.ws_allow_anonymous)


def build_lifecycle(settings: ConnectionSettings) -> Lifecycle:
    bind_tables(settings)
    return Lifecycle(DynamoConnectionStore(), ttl_seconds=settings.ws_connection_ttl_seconds)


def build_session(settings: MessagesSettings) -> Session:
    bind_tables(settings)
    return Session(
        connections=DynamoConnectionStore(),
        sender=ManagementApiSender(management_client(settings, settings)),
        books=RedisBookStore(redis_client(settings)),
        catalog=settings.catalog(),
        max_subscriptions=settings.ws_max_subscriptions,
    )


def build_fanout(settings: FanoutSettings) -> Fanout:
    bind_tables(settings)
    broadcaster = Broadcaster(
        DynamoConnectionStore(), ManagementApiSender(management_client(settings, settings))
    )
    return Fanout(
        broadcaster,
        RedisBookStore(redis_client(settings)),
        DynamoCursorStore(),
        catalog=settings.catalog(),
    )
