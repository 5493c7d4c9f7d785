"""The REST Lambda REQUEST authorizer (``lambdas/rest_authorizer``) over the in-memory key store.

What API Gateway does with its answer is AWS's documented behaviour, pinned here:

- the event of a REQUEST authorizer carries the method's ARN, resource, path, method, headers,
  query string and request context (``identity.sourceIp``), never the body: "Input to an API
  Gateway Lambda authorizer" (https://docs.aws.amazon.com/apigateway/latest/developerguide/
  api-gateway-lambda-authorizer-input.html);
- the answer is a ``principalId``, a policy document and a ``context`` whose values may be
  strings, numbers or booleans, never objects or arrays: "Output from an API Gateway Lambda
  authorizer" (https://docs.aws.amazon.com/apigateway/latest/developerguide/
  api-gateway-lambda-authorizer-output.html);
- an error whose message is ``Unauthorized`` makes API Gateway answer 401, a Deny policy 403:
  "Use API Gateway Lambda authorizers" (https://docs.aws.amazon.com/apigateway/latest/
  developerguide/apigateway-use-lambda-authorizer.html), whose example authorizers end with
  ``callback("Unauthorized")`` / ``raise Exception("Unauthorized")`` for a 401.
"""

import time
from dataclasses import replace
from typing import Any

import pytest

from exchange.apikeys import signing
from exchange.apikeys.authorizer import UNAUTHORIZED
from exchange.testing.apikeys import method_arn, rest_authorizer_event
from exchange.testing.lambda_events import LambdaContextStub
from lambdas.rest_authorizer.handler import handler
from tests.unit.apikeys.conftest import START_MS, Keys, effect, resource_of, sign

ORDER = b'{"symbol":"BTC-USD","side":"BUY","order_type":"LIMIT","qty":"1","price":"100"}'


def authorize(keys: Keys, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = handler(event, LambdaContextStub(), authorizer=keys.authorizer)
    return result


def refused_with_401(keys: Keys, event: dict[str, Any]) -> bool:
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the exact message is asserted
        authorize(keys, event)
    return type(raised.value) is Exception and str(raised.value) == UNAUTHORIZED


def test_a_signed_request_is_allowed_for_exactly_its_method_arn(keys: Keys) -> None:
    created = keys.create(["trade"], rate_limit=7)
    signed = sign(created, "POST", "/v1/orders", body=ORDER, query={"dry": ["1"]})
    policy = authorize(keys, signed.authorizer_event())
    assert effect(policy) == "Allow"
    assert resource_of(policy) == method_arn("POST", "/v1/orders")
    assert policy["principalId"] == "alice"
    assert policy["context"] == {
        "account_id": "alice",
        "username": "alice-name",
        "auth": "api_key",
        "expires_at": "",
        "key_id": created.key.key_id,
        "scopes": "trade",
        "rate_limit": "7",
        "allowed_ips": "",
        "signed_request": "POST /v1/orders?dry=1",
        "content_sha256": signing.content_sha256(ORDER),
    }
    # API Gateway takes only strings, numbers and booleans in the context.
    assert all(isinstance(value, str) for value in policy["context"].values())


@pytest.mark.parametrize(
    "change",
    [
        {"secret": "sk_" + "w" * 43},  # a wrong signature
        {"at_ms": START_MS - signing.DEFAULT_WINDOW_MS - 1},  # stale: signed before the window
        {"at_ms": START_MS + signing.MAX_AHEAD_MS + 1},  # from the future
    ],
)
def test_a_wrong_or_stale_signature_is_a_401(keys: Keys, change: dict[str, Any]) -> None:
    created = keys.create(["trade"])
    signed = sign(created, "POST", "/v1/orders", body=ORDER, **change)
    assert refused_with_401(keys, signed.authorizer_event())


def test_a_replay_outside_the_window_is_a_401_though_it_passed_inside(keys: Keys) -> None:
    created = keys.create(["trade"])
    signed = sign(created, "POST", "/v1/orders", body=ORDER)
    assert effect(authorize(keys, signed.authorizer_event())) == "Allow"
    keys.clock.now_ms += signing.DEFAULT_WINDOW_MS + 1
    assert refused_with_401(keys, signed.authorizer_event())


def test_a_signature_for_another_request_is_a_401(keys: Keys) -> None:
    created = keys.create(["read", "trade"])
    signed = sign(created, "GET", "/v1/orders", query={"symbol": ["BTC-USD"]})
    assert refused_with_401(keys, signed.authorizer_event(query={"symbol": ["ETH-USD"]}))
    assert refused_with_401(keys, signed.authorizer_event(method="DELETE"))
    assert refused_with_401(keys, signed.authorizer_event(path="/v1/fills", resource="/v1/fills"))


def test_a_revoked_key_is_a_401_from_the_next_request(keys: Keys) -> None:
    created = keys.create(["trade"])
    assert effect(
        authorize(keys, sign(created, "POST", "/v1/orders", body=ORDER).authorizer_event())
    )
    keys.service.revoke("alice", created.key.key_id)
    signed = sign(created, "POST", "/v1/orders", body=ORDER, at_ms=START_MS + 1)
    assert refused_with_401(keys, signed.authorizer_event())


def test_an_expired_key_is_a_401(keys: Keys) -> None:
    created = keys.create(["trade"], expires_ns=keys.clock.ns() + 1_000_000_000)
    assert authorize(keys, sign(created, "POST", "/v1/orders", body=ORDER).authorizer_event())
    keys.clock.now_ms += 1_000
    signed = sign(created, "POST", "/v1/orders", body=ORDER, at_ms=keys.clock.now_ms)
    assert refused_with_401(keys, signed.authorizer_event())


def test_an_unknown_key_is_a_401(keys: Keys) -> None:
    created = keys.create(["trade"])
    keys.store.keys.clear()
    assert refused_with_401(
        keys, sign(created, "POST", "/v1/orders", body=ORDER).authorizer_event()
    )


def test_a_read_key_cannot_place_orders(keys: Keys) -> None:
    created = keys.create(["read"])
    policy = authorize(keys, sign(created, "POST", "/v1/orders", body=ORDER).authorizer_event())
    assert effect(policy) == "Deny"
    assert resource_of(policy) == method_arn("POST", "/v1/orders")
    assert policy["context"] == {}
    # ... and it can read them
    listed = sign(created, "GET", "/v1/orders")
    assert effect(authorize(keys, listed.authorizer_event())) == "Allow"


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/v1/withdrawals"), ("POST", "/v1/api-keys")]
)
def test_a_missing_scope_is_a_403_deny(keys: Keys, method: str, path: str) -> None:
    created = keys.create(["read", "trade"])
    policy = authorize(keys, sign(created, method, path, body=b"{}").authorizer_event())
    assert effect(policy) == "Deny"


def test_a_disallowed_address_is_a_403_deny(keys: Keys) -> None:
    created = keys.create(["read"], allowed_ips=["198.51.100.0/24"])
    signed = sign(created, "GET", "/v1/orders")
    assert effect(authorize(keys, signed.authorizer_event())) == "Deny"
    inside = signed.authorizer_event(source_ip="198.51.100.9")
    assert effect(authorize(keys, inside)) == "Allow"


def test_each_request_reads_the_key_but_decrypts_its_secret_once(keys: Keys) -> None:
    created = keys.create(["read"])
    for offset in range(3):
        signed = sign(created, "GET", "/v1/orders", at_ms=START_MS + offset)
        assert effect(authorize(keys, signed.authorizer_event())) == "Allow"
    assert keys.store.reads == 3
    assert keys.cipher.decryptions == 1


def test_a_secret_moved_onto_another_key_does_not_decrypt(keys: Keys) -> None:
    victim, thief = keys.create(["trade"]), keys.create(["read"], account_id="mallory")
    stolen = keys.store.keys[victim.key.key_id].secret_ciphertext
    forged = replace(keys.store.keys[thief.key.key_id], secret_ciphertext=stolen)
    keys.store.keys[thief.key.key_id] = forged
    signed = sign(thief, "GET", "/v1/orders", secret=victim.secret)
    assert refused_with_401(keys, signed.authorizer_event())


# --- the access token ----------------------------------------------------------------------------


def bearer_event(token: str, method: str = "DELETE", path: str = "/v1/orders") -> dict[str, Any]:
    return rest_authorizer_event(
        method, path, resource=path, headers={"Authorization": f"Bearer {token}"}
    )


def test_an_access_token_is_allowed_on_every_method_of_the_stage(keys: Keys) -> None:
    policy = authorize(keys, bearer_event(keys.token()))
    assert effect(policy) == "Allow"
    assert resource_of(policy) == method_arn("*", "/*")  # arn:...:<api>/prod/*/*
    context = policy["context"]
    assert {k: v for k, v in context.items() if k != "expires_at"} == {
        "account_id": "alice",
        "username": "alice-name",
        "auth": "token",
    }
    assert abs(int(context["expires_at"]) - (int(time.time()) + 3600)) <= 5


def test_the_bare_token_is_taken_as_the_cognito_authorizer_takes_it(keys: Keys) -> None:
    event = rest_authorizer_event(
        "GET", "/v1/orders", resource="/v1/orders", headers={"Authorization": keys.token()}
    )
    assert effect(authorize(keys, event)) == "Allow"


@pytest.mark.parametrize(
    "claims",
    [
        {"token_use": "id"},
        {"client_id": "another-client"},
        {"scope": "openid"},
        {"exp": 1_000},  # expired
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OTHER"},
    ],
)
def test_a_token_that_is_not_our_users_access_token_is_a_401(
    keys: Keys, claims: dict[str, Any]
) -> None:
    assert refused_with_401(keys, bearer_event(keys.token(**claims)))


@pytest.mark.parametrize("authorization", ["", "Bearer", "Bearer not.a.jwt", "Basic abc"])
def test_garbage_credentials_are_a_401(keys: Keys, authorization: str) -> None:
    event = rest_authorizer_event(
        "GET", "/v1/orders", resource="/v1/orders", headers={"Authorization": authorization}
    )
    assert refused_with_401(keys, event)
