"""The local REST authorizer takes exactly the tokens API Gateway's Cognito user-pool authorizer
takes: "Control access to REST APIs using Amazon Cognito user pools as an authorizer" (API
Gateway developer guide) and the AWS Knowledge Center's "troubleshoot 401 Unauthorized ...
Cognito user pool": a method with OAuth scopes takes an access token carrying one of them; a
method without scopes takes an ID token."""

import asyncio
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from lambdas.catalog import ACCESS_TOKEN_SCOPE
from local.functions import FunctionHost
from local.gateway.app import RestApi
from local.gateway.auth import CognitoAuthorizer, Unauthorized
from local.gateway.events import HttpRequest

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"
CLIENT = "app-client"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Keys:
    """A JWKS client that knows the pool's one key."""

    def get_signing_key_from_jwt(self, token: str) -> jwt.PyJWK:
        header = jwt.get_unverified_header(token)
        if header.get("kid") != "pool-key":
            raise jwt.PyJWKClientError("unknown kid")
        return jwt.PyJWK.from_dict(
            {
                **jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True),
                "kid": "pool-key",
            }
        )


def token(*, key: Any = KEY, **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "acct-1", "iss": ISSUER, "iat": now, "exp": now + 3600, **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "pool-key"})


def access(**claims: Any) -> str:
    return token(
        **{"token_use": "access", "client_id": CLIENT, "scope": ACCESS_TOKEN_SCOPE, **claims}
    )


def identity(**claims: Any) -> str:
    return token(**{"token_use": "id", "aud": CLIENT, "email": "a@example.com", **claims})


AUTHORIZER = CognitoAuthorizer(issuer=ISSUER, app_client_id=CLIENT, jwks=Keys())  # type: ignore[arg-type]
SCOPED = (ACCESS_TOKEN_SCOPE,)


def test_a_scoped_method_takes_the_access_token_and_passes_its_claims() -> None:
    claims = AUTHORIZER.verify(access(), SCOPED)
    assert (claims["sub"], claims["token_use"]) == ("acct-1", "access")
    assert AUTHORIZER.verify("Bearer " + access(), SCOPED)["sub"] == "acct-1"


@pytest.mark.parametrize(
    "presented",
    [
        identity(),  # an ID token on a scoped method
        access(scope="openid email"),  # none of the method's scopes
        access(client_id="another-client"),
        access(key=OTHER_KEY),  # signed with a key that is not the pool's
        access(exp=int(time.time()) - 10),
        access(iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"),
        "not-a-jwt",
    ],
    ids=["id-token", "no-scope", "other-client", "bad-signature", "expired", "other-pool", "junk"],
)
def test_a_scoped_method_refuses_everything_else(presented: str) -> None:
    with pytest.raises(Unauthorized):
        AUTHORIZER.verify(presented, SCOPED)


def test_a_method_without_scopes_takes_only_the_id_token() -> None:
    assert AUTHORIZER.verify(identity(), ())["email"] == "a@example.com"
    with pytest.raises(Unauthorized, match="ID token"):
        AUTHORIZER.verify(access(), ())
    with pytest.raises(Unauthorized):
        AUTHORIZER.verify(identity(aud="another-client"), ())


# --- the claims the integration gets ------------------------------------------------------------
# API Gateway's REST Cognito authorizer passes each claim as a string; an array claim (the access
# token's ``cognito:groups``) arrives as its items joined by a comma: one group is just its name
# (re:Post, "AWS Cognito Group", https://repost.aws/questions/QUFJRBaEJRSmmqarNrvCWoQA/aws-cognito-group:
# ``'cognito:groups': 'team_manager'``), two are ``"a,b"`` (aws/chalice#783, "Cognito Authorizer
# and User Groups": ``claims.get('cognito:groups', '').split(',')``).


def admin_event(presented: str) -> dict[str, Any]:
    """The proxy event the admin function gets for ``GET /v1/admin/markets`` with ``presented``."""
    events: list[dict[str, Any]] = []

    def admin(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        events.append(event)
        return {"statusCode": 200, "body": "{}"}

    host = FunctionHost(handlers={"admin": admin})
    request = HttpRequest(
        method="GET",
        path="/v1/admin/markets",
        headers=(("Authorization", f"Bearer {presented}"),),
        query=(),
        body=b"",
        source_ip="127.0.0.1",
    )
    try:
        answer = asyncio.run(RestApi(host, AUTHORIZER).dispatch(request))
    finally:
        host.close()
    assert answer.status == 200, answer.body
    (event,) = events
    claims: dict[str, Any] = event["requestContext"]["authorizer"]["claims"]
    return claims


@pytest.mark.parametrize(
    ("groups", "passed"),
    [(["operators"], "operators"), (["operators", "ops-eu"], "operators,ops-eu")],
    ids=["one-group", "two-groups"],
)
def test_the_groups_claim_reaches_the_admin_function_comma_joined(
    groups: list[str], passed: str
) -> None:
    claims = admin_event(access(**{"cognito:groups": groups}))
    assert claims["cognito:groups"] == passed
    assert (claims["sub"], claims["token_use"]) == ("acct-1", "access")
    assert all(isinstance(value, str) for value in claims.values())


def test_a_token_of_no_group_passes_no_groups_claim() -> None:
    assert "cognito:groups" not in admin_event(access())
