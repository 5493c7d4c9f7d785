"""The $connect authorizer against moto's Cognito: tokens are verified with the JWKS that moto's
server publishes at ``/<pool-id>/.well-known/jwks.json``."""

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import boto3
import jwt
import pytest
from moto.utilities.utils import load_resource

from exchange.realtime.auth import Authorizer
from exchange.settings import AuthorizerSettings
from lambdas.ws_authorizer.handler import compose as build_authorizer
from lambdas.ws_authorizer.handler import handler
from tests.integration.streams.conftest import REGION
from tests.unit.streams.helpers import LambdaContext

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$connect"
PASSWORD = "Correct-horse-9"  # noqa: S105 - a test user's password on moto


@dataclass
class Pool:
    pool_id: str
    client_id: str
    access: str
    id_token: str
    sub: str


def make_pool(cognito: Any, name: str) -> Pool:
    pool_id = cognito.create_user_pool(PoolName=name)["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="web", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=pool_id, Username="ann")
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username="ann", Password=PASSWORD, Permanent=True
    )
    tokens = cognito.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ann", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    user = cognito.admin_get_user(UserPoolId=pool_id, Username="ann")
    sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
    return Pool(pool_id, client_id, tokens["AccessToken"], tokens["IdToken"], sub)


@pytest.fixture(scope="module")
def pools(moto_server: str) -> tuple[Pool, Pool]:
    cognito = boto3.client("cognito-idp", endpoint_url=moto_server, region_name=REGION)
    return make_pool(cognito, "exchange"), make_pool(cognito, "another")


def authorizer(moto_server: str, pool: Pool, *, anonymous: bool = True) -> Authorizer:
    settings = AuthorizerSettings(
        user_pool_id=pool.pool_id,
        app_client_id=pool.client_id,
        jwks_url=f"{moto_server}/{pool.pool_id}/.well-known/jwks.json",
        ws_allow_anonymous=anonymous,
    )
    return build_authorizer(settings)


def connect(auth: Authorizer, token: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "REQUEST", "methodArn": METHOD_ARN, "headers": {}}
    if token is not None:
        event["queryStringParameters"] = {"token": token}
    result: dict[str, Any] = handler(event, LambdaContext(), authorizer=auth)
    return result


def effect(policy: dict[str, Any]) -> str:
    return str(policy["policyDocument"]["Statement"][0]["Effect"])


def resign(token: str, **claims: Any) -> str:
    """The token's claims, changed, signed with moto's own key (so only the change is wrong)."""
    payload = {**jwt.decode(token, options={"verify_signature": False}), **claims}
    key = jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json"))
    return jwt.encode(payload, key.key, algorithm="RS256", headers={"kid": "dummy"})


def test_a_valid_access_token_connects_as_its_sub(
    moto_server: str, pools: tuple[Pool, Pool]
) -> None:
    pool, _ = pools
    policy = connect(authorizer(moto_server, pool), pool.access)
    assert effect(policy) == "Allow"
    assert policy["principalId"] == pool.sub
    assert policy["context"] == {"account_id": pool.sub}


def test_a_token_resigned_with_the_same_key_is_valid_so_the_forgeries_below_test_one_thing(
    moto_server: str, pools: tuple[Pool, Pool]
) -> None:
    pool, _ = pools
    assert effect(connect(authorizer(moto_server, pool), resign(pool.access))) == "Allow"


def test_an_expired_token_is_refused(moto_server: str, pools: tuple[Pool, Pool]) -> None:
    pool, _ = pools
    expired = resign(pool.access, exp=int(time.time()) - 60, iat=int(time.time()) - 3660)
    assert effect(connect(authorizer(moto_server, pool), expired)) == "Deny"


def test_a_tampered_token_is_refused(moto_server: str, pools: tuple[Pool, Pool]) -> None:
    # Given the payload changed to another user's sub, and the signature left as it was
    pool, _ = pools
    header, payload, signature = pool.access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    policy = connect(authorizer(moto_server, pool), f"{header}.{forged}.{signature}")
    assert effect(policy) == "Deny"
    assert policy["context"] == {"account_id": ""}


def test_a_token_of_another_pool_is_refused(moto_server: str, pools: tuple[Pool, Pool]) -> None:
    # moto signs every pool's tokens with one key: only the issuer tells them apart
    pool, other = pools
    assert effect(connect(authorizer(moto_server, pool), other.access)) == "Deny"


def test_an_id_token_is_refused(moto_server: str, pools: tuple[Pool, Pool]) -> None:
    pool, _ = pools
    assert effect(connect(authorizer(moto_server, pool), pool.id_token)) == "Deny"


def test_an_access_token_for_another_app_client_is_refused(
    moto_server: str, pools: tuple[Pool, Pool]
) -> None:
    pool, _ = pools
    assert effect(connect(authorizer(moto_server, pool), resign(pool.access, client_id="x"))) == (
        "Deny"
    )


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c"])
def test_garbage_is_refused_and_nothing_is_treated_as_anonymous(
    moto_server: str, pools: tuple[Pool, Pool], token: str
) -> None:
    pool, _ = pools
    # An empty parameter counts as no token; anything else must verify
    expected = "Allow" if token == "" else "Deny"
    assert effect(connect(authorizer(moto_server, pool), token)) == expected


def test_no_token_is_an_anonymous_connection_unless_anonymous_is_off(
    moto_server: str, pools: tuple[Pool, Pool]
) -> None:
    pool, _ = pools
    allowed = connect(authorizer(moto_server, pool), None)
    assert (effect(allowed), allowed["context"]) == ("Allow", {"account_id": ""})
    assert effect(connect(authorizer(moto_server, pool, anonymous=False), None)) == "Deny"
