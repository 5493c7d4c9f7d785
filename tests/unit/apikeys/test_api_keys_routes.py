"""``/v1/api-keys`` through the api_keys handler (Cognito claims, as its authorizer passes them)
over the in-memory store: 201 with the secret once, listing without secrets, idempotent
revocation, and problem+json for what the rules refuse."""

import datetime as dt
from typing import Any

import pytest

from exchange.testing.lambda_events import LambdaContextStub, rest_event
from lambdas.api_keys.handler import handler
from tests.unit.api.conftest import Reply
from tests.unit.apikeys.conftest import Keys

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def call(keys: Keys, method: str, path: str, **kwargs: Any) -> Reply:
    kwargs.setdefault("account_id", "alice")
    resource = "/v1/api-keys/{key_id}" if path.count("/") == 3 else path
    key_id = path.rsplit("/", 1)[1] if path.count("/") == 3 else None
    event = rest_event(
        method,
        path,
        resource=resource,
        path_parameters={"key_id": key_id} if key_id else None,
        **kwargs,
    )
    return Reply.of(handler(event, LambdaContextStub(), keys=keys.service))


def test_a_created_key_shows_its_secret_once_and_lists_without_it(keys: Keys) -> None:
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).replace(microsecond=0)
    body = {
        "label": "mm-bot",
        "scopes": ["trade", "read"],
        "allowed_ips": ["203.0.113.0/24"],
        "expires_at": expires.isoformat(),
        "rate_limit_per_second": 10,
    }
    created = call(keys, "POST", "/v1/api-keys", body=body)
    assert created.status == 201, created.body
    assert created.body["secret"].startswith("sk_")
    assert created.body["scopes"] == ["read", "trade"]
    assert created.body["status"] == "active"
    assert dt.datetime.fromisoformat(created.body["expires_at"]) == expires
    listed = call(keys, "GET", "/v1/api-keys")
    assert listed.status == 200
    (only,) = listed.body["keys"]
    assert only["key_id"] == created.body["key_id"]
    assert "secret" not in only
    assert created.body["secret"] not in str(listed.body)


def test_revoking_answers_the_revoked_key_and_again_the_same(keys: Keys) -> None:
    key_id = call(keys, "POST", "/v1/api-keys", body={"label": "b", "scopes": ["read"]}).body[
        "key_id"
    ]
    first = call(keys, "DELETE", f"/v1/api-keys/{key_id}")
    second = call(keys, "DELETE", f"/v1/api-keys/{key_id}")
    assert (first.status, first.body["status"]) == (200, "revoked")
    assert second.body["revoked_at"] == first.body["revoked_at"]
    assert call(keys, "GET", "/v1/api-keys").body["keys"][0]["status"] == "revoked"
    other = call(keys, "DELETE", f"/v1/api-keys/{key_id}", account_id="bob")
    assert (other.status, other.body["code"]) == (404, "api_key_not_found")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"label": "b", "scopes": []}, "validation_error"),
        ({"label": "b", "scopes": ["admin"]}, "validation_error"),
        ({"label": "b", "scopes": ["read"], "allowed_ips": ["300.1.1.1"]}, "validation_error"),
        (
            {"label": "b", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"},
            "invalid_api_key_request",
        ),
        (
            {"label": "b", "scopes": ["read"], "expires_at": "2999-01-01T00:00:00"},
            "validation_error",
        ),
        (
            {"label": "b", "scopes": ["read"], "rate_limit_per_second": 21},
            "invalid_api_key_request",
        ),
        ({"label": "b", "scopes": ["read"], "secret": "mine"}, "validation_error"),
    ],
)
def test_a_key_the_rules_refuse_is_a_400_problem(
    keys: Keys, body: dict[str, Any], code: str
) -> None:
    reply = call(keys, "POST", "/v1/api-keys", body=body)
    assert (reply.status, reply.body["code"]) == (400, code)
    assert reply.is_problem
    assert keys.store.keys == {}


def test_past_the_cap_a_new_key_is_a_422(keys: Keys) -> None:
    for _ in range(5):
        assert (
            call(keys, "POST", "/v1/api-keys", body={"label": "b", "scopes": ["read"]}).status
            == 201
        )
    reply = call(keys, "POST", "/v1/api-keys", body={"label": "b", "scopes": ["read"]})
    assert (reply.status, reply.body["code"]) == (422, "too_many_api_keys")


def test_without_an_identity_it_is_a_401(keys: Keys) -> None:
    reply = call(keys, "GET", "/v1/api-keys", account_id=None)
    assert reply.status == 401


def test_an_unknown_key_id_form_is_a_400(keys: Keys) -> None:
    assert call(keys, "DELETE", "/v1/api-keys/not-a-key").status == 400
