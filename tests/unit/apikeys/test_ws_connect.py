"""API-key authentication on the WebSocket ``$connect`` (``lambdas/ws_authorizer``), beside the
token: the key's signature in the query string, its window, revocation, allow-list and its
``read`` scope. A WebSocket REQUEST authorizer answers with a policy; a Deny closes the handshake
with 403 ("Input to an API Gateway Lambda authorizer": the WebSocket REQUEST event carries the
query string parameters and ``requestContext.identity.sourceIp``)."""

from typing import Any

import pytest

from exchange.apikeys import signing
from exchange.apikeys.model import CreatedKey
from exchange.apikeys.verifier import ConnectKeys
from exchange.realtime.auth import Authorizer
from exchange.testing.lambda_events import LambdaContextStub
from lambdas.ws_authorizer.handler import handler
from tests.unit.apikeys.conftest import KEY_ADDRESS, START_MS, Keys, effect

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$connect"


def connect(
    keys: Keys,
    query: dict[str, str],
    *,
    source_ip: str = KEY_ADDRESS,
    with_keys: bool = True,
) -> dict[str, Any]:
    authorizer = Authorizer(
        keys.authorizer.tokens,
        allow_anonymous=True,
        keys=ConnectKeys(keys.verifier) if with_keys else None,
    )
    event = {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "headers": {},
        "queryStringParameters": query,
        "requestContext": {"identity": {"sourceIp": source_ip}, "routeKey": "$connect"},
    }
    result: dict[str, Any] = handler(event, LambdaContextStub(), authorizer=authorizer)
    return result


def signed(created: CreatedKey, at_ms: int = START_MS, secret: str | None = None) -> dict[str, str]:
    return signing.ws_connect_parameters(
        created.key.key_id, secret or created.secret, timestamp_ms=at_ms
    )


def test_a_signed_connect_opens_a_private_stream_for_the_keys_account(keys: Keys) -> None:
    created = keys.create(["read"])
    policy = connect(keys, signed(created))
    assert effect(policy) == "Allow"
    assert policy["principalId"] == "alice"
    assert policy["context"] == {"account_id": "alice", "key_id": created.key.key_id}


@pytest.mark.parametrize(
    "case", ["wrong-secret", "stale", "revoked", "unknown", "trade-only", "address", "both"]
)
def test_a_connect_the_key_does_not_allow_is_denied(keys: Keys, case: str) -> None:
    created = keys.create(
        ["trade"] if case == "trade-only" else ["read"], allowed_ips=["203.0.113.0/24"]
    )
    query = signed(created, secret="sk_" + "w" * 43 if case == "wrong-secret" else None)
    source_ip = KEY_ADDRESS
    if case == "stale":
        keys.clock.now_ms += signing.DEFAULT_WINDOW_MS + 1
    elif case == "revoked":
        keys.service.revoke("alice", created.key.key_id)
    elif case == "unknown":
        keys.store.keys.clear()
    elif case == "address":
        source_ip = "198.51.100.1"
    elif case == "both":
        query["token"] = keys.token()
    policy = connect(keys, query, source_ip=source_ip)
    assert effect(policy) == "Deny"
    assert policy["context"] == {"account_id": ""}


def test_without_the_key_port_a_key_is_denied_and_tokens_still_work(keys: Keys) -> None:
    created = keys.create(["read"])
    assert effect(connect(keys, signed(created), with_keys=False)) == "Deny"
    token = connect(keys, {"token": keys.token()}, with_keys=False)
    assert (effect(token), token["context"]) == ("Allow", {"account_id": "alice"})
