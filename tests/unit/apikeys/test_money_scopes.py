"""Which credential the money-out and notification routes take (``exchange.apikeys.scopes``):
a withdrawal and its cancel need a key with ``withdraw``, the reads ``read``; the withdrawal
destinations and the preferences update take the user's access token only, so a stolen key can
neither add a payout address nor silence the emails that would reveal it.

A Deny policy is a 403 at API Gateway ("Use API Gateway Lambda authorizers",
https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html).
"""

import pytest

from exchange.apikeys.scopes import ROUTE_SCOPES, required_scope
from lambdas.catalog import FUNCTIONS
from lambdas.kinds import Route
from tests.unit.apikeys.conftest import KEY_ADDRESS, Keys, effect, sign
from tests.unit.apikeys.test_rest_authorizer import authorize

TOKEN_ONLY = [
    ("POST", "/v1/withdrawal-destinations"),
    ("GET", "/v1/withdrawal-destinations"),
    ("DELETE", "/v1/withdrawal-destinations/{destination_id}"),
    ("PUT", "/v1/account/notifications"),
]
KEYED = {
    ("POST", "/v1/withdrawals"): "withdraw",
    ("DELETE", "/v1/withdrawals/{withdrawal_id}"): "withdraw",
    ("GET", "/v1/withdrawals"): "read",
    ("GET", "/v1/withdrawals/{withdrawal_id}"): "read",
    ("GET", "/v1/account/notifications"): "read",
}


def test_the_account_functions_routes_have_the_intended_authorizers() -> None:
    routes: dict[tuple[str, str], Route] = {
        (r.method, r.path): r for r in FUNCTIONS["account"].routes
    }
    for route in TOKEN_ONLY:
        assert required_scope(*route) is None
        assert routes[route].authorizer == "cognito", route  # API Gateway refuses any key
    for route, scope in KEYED.items():
        assert ROUTE_SCOPES[route] == scope
        assert routes[route].authorizer == "request", route


@pytest.mark.parametrize(
    ("method", "path", "resource"),
    [
        ("POST", "/v1/withdrawal-destinations", "/v1/withdrawal-destinations"),
        ("GET", "/v1/withdrawal-destinations", "/v1/withdrawal-destinations"),
        (
            "DELETE",
            "/v1/withdrawal-destinations/dst-1",
            "/v1/withdrawal-destinations/{destination_id}",
        ),
        ("PUT", "/v1/account/notifications", "/v1/account/notifications"),
    ],
)
def test_a_key_with_every_scope_is_denied_the_token_only_routes(
    keys: Keys, method: str, path: str, resource: str
) -> None:
    created = keys.create(["read", "trade", "withdraw"], allowed_ips=[KEY_ADDRESS])
    signed = sign(created, method, path, resource=resource, body=b"{}")
    assert effect(authorize(keys, signed.authorizer_event())) == "Deny"


def test_cancel_needs_withdraw_and_the_reads_need_read(keys: Keys) -> None:
    reader = keys.create(["read", "trade"])
    withdrawer = keys.create(["withdraw"], allowed_ips=[KEY_ADDRESS])
    resource = "/v1/withdrawals/{withdrawal_id}"
    cancel = ("DELETE", "/v1/withdrawals/wd-1")
    read = ("GET", "/v1/withdrawals/wd-1")
    # The reader reads but cannot cancel; the withdrawer cancels but cannot read.
    assert effect(authorize(keys, sign(reader, *read, resource=resource).authorizer_event())) == (
        "Allow"
    )
    assert (
        effect(authorize(keys, sign(reader, *cancel, resource=resource).authorizer_event()))
        == "Deny"
    )
    assert (
        effect(authorize(keys, sign(withdrawer, *cancel, resource=resource).authorizer_event()))
        == "Allow"
    )
    assert (
        effect(authorize(keys, sign(withdrawer, *read, resource=resource).authorizer_event()))
        == "Deny"
    )
