"""The WebSocket handlers: thin, always 200 on message routes, and their settings."""

import json

import pytest

from exchange.domain.errors import ConfigurationError
from exchange.realtime.session import Lifecycle
from exchange.settings import AuthorizerSettings, MessagesSettings
from lambdas.ws_connections.handler import handler as connections_handler
from lambdas.ws_messages.handler import compose as build_session
from lambdas.ws_messages.handler import handler as messages_handler
from tests.unit.realtime.helpers import World
from tests.unit.streams.helpers import LambdaContext


def test_connect_message_and_disconnect_through_the_handlers() -> None:
    world = World()
    lifecycle = Lifecycle(world.connections)
    context = LambdaContext()
    authorizer = {"account_id": "ann"}
    connect = {"requestContext": {"connectionId": "c1", "routeKey": "$connect",
                                  "eventType": "CONNECT", "authorizer": authorizer}}  # fmt: skip
    assert connections_handler(connect, context, lifecycle=lifecycle) == {"statusCode": 200}
    message = {"requestContext": {"connectionId": "c1", "routeKey": "$default"}, "body": "{oops"}
    assert messages_handler(message, context, session=world.session) == {"statusCode": 200}
    assert json.loads(world.sender.sent[-1][1])["code"] == "malformed_message"
    disconnect = {"requestContext": {"connectionId": "c1", "routeKey": "$disconnect",
                                     "eventType": "DISCONNECT"}}  # fmt: skip
    connections_handler(disconnect, context, lifecycle=lifecycle)
    assert world.connections.get("c1") is None


def test_messages_need_the_management_endpoint_and_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXCHANGE_WS_MANAGEMENT_ENDPOINT", raising=False)
    with pytest.raises(ConfigurationError, match="EXCHANGE_WS_MANAGEMENT_ENDPOINT"):
        build_session(MessagesSettings(redis_url="redis://127.0.0.1:1/0"))
    with pytest.raises(ConfigurationError, match="EXCHANGE_REDIS_URL"):
        build_session(MessagesSettings(ws_management_endpoint="http://127.0.0.1:1"))


def test_the_authorizer_defaults_to_the_pools_public_issuer_and_jwks() -> None:
    settings = AuthorizerSettings(user_pool_id="us-east-1_abc", app_client_id="client")
    assert settings.issuer_url == "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc"
    assert settings.jwks_endpoint == f"{settings.issuer_url}/.well-known/jwks.json"
    with pytest.raises(ValueError, match="EXCHANGE_USER_POOL_ID"):
        AuthorizerSettings(app_client_id="client")
