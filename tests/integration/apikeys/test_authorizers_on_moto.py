"""Both authorizers as their handlers compose them (``compose(settings)``), against moto's server:
Cognito (its JWKS over HTTP), DynamoDB (the api_keys table) and KMS. Keys are made by the
api_keys function's own composition, so the ciphertext the authorizers decrypt is the one KMS
made under the key's encryption context.

The REQUEST event and the answer's rules are AWS's: "Input to an API Gateway Lambda authorizer"
and "Output from an API Gateway Lambda authorizer" (API Gateway developer guide); an error with
the message ``Unauthorized`` is API Gateway's 401 ("Use API Gateway Lambda authorizers").
"""

import time
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from exchange.apikeys import signing
from exchange.apikeys.model import CreatedKey, KeySpec
from exchange.apikeys.service import ApiKeyService
from exchange.settings import AuthorizerSettings, MoneyApiKeysSettings, RestAuthorizerSettings
from exchange.testing.apikeys import rest_authorizer_event
from exchange.testing.lambda_events import LambdaContextStub
from lambdas.api_keys.handler import compose as compose_api_keys
from lambdas.rest_authorizer.handler import compose as compose_rest_authorizer
from lambdas.rest_authorizer.handler import handler as rest_authorizer
from lambdas.ws_authorizer.handler import compose as compose_ws_authorizer
from lambdas.ws_authorizer.handler import handler as ws_authorizer
from tests.integration.apikeys.conftest import REGION, create_tables
from tests.integration.streams.test_websocket_auth import Pool, make_pool

ORDER = b'{"symbol":"BTC-USD","side":"BUY","order_type":"LIMIT","qty":"1","price":"100"}'


@dataclass
class Deployment:
    pool: Pool
    keys: ApiKeyService
    rest: RestAuthorizerSettings
    ws: AuthorizerSettings


@pytest.fixture(scope="module")
def deployment(moto_server: str) -> Deployment:
    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_server, region_name=REGION)

    name = f"keys-{time.time_ns()}"
    pool = make_pool(client("cognito-idp"), name)
    kms_key = client("kms").create_key()["KeyMetadata"]["KeyId"]
    tables: dict[str, Any] = {
        f"{logical}_table": f"{name}-{logical}"
        for logical in ("api_keys", "audit", "rate_limits", "orders", "fills", "trades")
    }
    where: dict[str, Any] = {
        "aws_endpoint_url": moto_server,
        "aws_region": REGION,
        "api_key_kms_key_id": kms_key,
    }
    api_keys = MoneyApiKeysSettings(**where, **tables)
    create_tables(client("dynamodb"), api_keys)
    auth: dict[str, Any] = {
        "user_pool_id": pool.pool_id,
        "app_client_id": pool.client_id,
        "jwks_url": f"{moto_server}/{pool.pool_id}/.well-known/jwks.json",
    }
    rest = RestAuthorizerSettings(**where, **tables, **auth)
    ws = AuthorizerSettings(**where, **tables, **auth)
    return Deployment(pool, compose_api_keys(api_keys), rest, ws)


def create(deployment: Deployment, *scopes: str) -> CreatedKey:
    spec = KeySpec(label="bot", scopes=scopes)
    return deployment.keys.create(deployment.pool.sub, "ann", spec)


def authorize(deployment: Deployment, event: dict[str, Any]) -> dict[str, Any]:
    authorizer = compose_rest_authorizer(deployment.rest)
    result: dict[str, Any] = rest_authorizer(event, LambdaContextStub(), authorizer=authorizer)
    return result


def signed_event(created: CreatedKey, method: str, path: str, body: bytes = b"") -> dict[str, Any]:
    header = signing.authorization_header(
        created.key.key_id,
        created.secret,
        method,
        path,
        {},
        body,
        timestamp_ms=time.time_ns() // 1_000_000,
    )
    return rest_authorizer_event(method, path, resource=path, headers={"Authorization": header})


def effect(policy: dict[str, Any]) -> str:
    return str(policy["policyDocument"]["Statement"][0]["Effect"])


def test_a_request_signed_with_a_key_made_by_the_api_keys_function_is_allowed(
    deployment: Deployment,
) -> None:
    created = create(deployment, "trade")
    policy = authorize(deployment, signed_event(created, "POST", "/v1/orders", ORDER))
    assert effect(policy) == "Allow"
    assert policy["context"]["account_id"] == deployment.pool.sub
    assert policy["context"]["content_sha256"] == signing.content_sha256(ORDER)


def test_a_revoked_key_is_refused_with_401_at_once(deployment: Deployment) -> None:
    created = create(deployment, "trade")
    authorizer = compose_rest_authorizer(deployment.rest)  # one container, its cache warm
    event = signed_event(created, "POST", "/v1/orders", ORDER)
    assert effect(rest_authorizer(event, LambdaContextStub(), authorizer=authorizer)) == "Allow"
    deployment.keys.revoke(deployment.pool.sub, created.key.key_id)
    again = signed_event(created, "POST", "/v1/orders", ORDER)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        rest_authorizer(again, LambdaContextStub(), authorizer=authorizer)


def test_a_read_key_is_denied_an_order(deployment: Deployment) -> None:
    created = create(deployment, "read")
    assert effect(authorize(deployment, signed_event(created, "POST", "/v1/orders", ORDER))) == (
        "Deny"
    )


def test_the_users_access_token_is_allowed_and_an_id_token_is_not(deployment: Deployment) -> None:
    def bearer(token: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        return rest_authorizer_event("GET", "/v1/orders", resource="/v1/orders", headers=headers)

    policy = authorize(deployment, bearer(deployment.pool.access))
    assert effect(policy) == "Allow"
    assert policy["context"]["auth"] == "token"
    assert policy["principalId"] == deployment.pool.sub
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(deployment, bearer(deployment.pool.id_token))


def test_a_websocket_connect_signed_with_a_read_key_is_allowed(deployment: Deployment) -> None:
    created = create(deployment, "read")
    query = signing.ws_connect_parameters(
        created.key.key_id, created.secret, timestamp_ms=time.time_ns() // 1_000_000
    )
    event = {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$connect",
        "headers": {},
        "queryStringParameters": query,
        "requestContext": {"identity": {"sourceIp": "203.0.113.7"}},
    }
    authorizer = compose_ws_authorizer(deployment.ws)
    policy = ws_authorizer(event, LambdaContextStub(), authorizer=authorizer)
    assert effect(policy) == "Allow"
    assert policy["context"]["account_id"] == deployment.pool.sub
