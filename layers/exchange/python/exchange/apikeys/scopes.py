"""Which REST routes an API key may call, and with which of its scopes.

A route listed here takes either the user's Cognito access token or a request signed with an API
key (the REST Lambda authorizer, ``lambdas/rest_authorizer``); a key must hold the route's scope.
A private route not listed here takes only the access token (key management: a key never
creates or revokes keys). ``lambdas.catalog`` reads this table, so the CDK app puts each method
behind the right authorizer, and the authorizer reads it to refuse a key without the scope.

>>> required_scope("GET", "/v1/orders/{order_id}")
'read'
>>> required_scope("POST", "/v1/withdrawals")
'withdraw'
>>> required_scope("POST", "/v1/api-keys") is None
True
>>> required_scope("POST", "/v1/withdrawal-destinations") is None
True
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, get_args

# The scope every access token from the user pool's own sign-in (InitiateAuth, SRP) carries. A
# Cognito-authorized REST method names it, so API Gateway's Cognito authorizer takes the access
# token, without scopes only the ID token ("Control access to REST APIs using Amazon Cognito user
# pools as an authorizer"; "Understanding the access token", Amazon Cognito); the REST Lambda
# authorizer requires it of a token too.
ACCESS_TOKEN_SCOPE: Final = "aws.cognito.signin.user.admin"  # noqa: S105 - a scope name

KeyScope = Literal["read", "trade", "withdraw"]
KEY_SCOPES: Final[tuple[KeyScope, ...]] = get_args(KeyScope)

ROUTE_SCOPES: Final[Mapping[tuple[str, str], KeyScope]] = MappingProxyType(
    {
        # orders
        ("POST", "/v1/orders"): "trade",
        ("GET", "/v1/orders"): "read",
        ("DELETE", "/v1/orders"): "trade",
        ("GET", "/v1/orders/{order_id}"): "read",
        ("PATCH", "/v1/orders/{order_id}"): "trade",
        ("DELETE", "/v1/orders/{order_id}"): "trade",
        ("GET", "/v1/orders/by-client-id/{client_order_id}"): "read",
        ("DELETE", "/v1/orders/by-client-id/{client_order_id}"): "trade",
        ("POST", "/v1/orders/cancel-after"): "trade",
        ("GET", "/v1/orders/cancel-after"): "read",
        ("GET", "/v1/fills"): "read",
        # account
        ("GET", "/v1/account"): "read",
        ("GET", "/v1/balances"): "read",
        ("GET", "/v1/positions"): "read",
        ("POST", "/v1/withdrawals"): "withdraw",
        ("GET", "/v1/withdrawals"): "read",
        ("GET", "/v1/withdrawals/{withdrawal_id}"): "read",
        ("DELETE", "/v1/withdrawals/{withdrawal_id}"): "withdraw",
        ("GET", "/v1/account/notifications"): "read",
        ("GET", "/v1/transactions"): "read",
        ("GET", "/v1/transactions/csv"): "read",
        # Not listed, so the access token only: the withdrawal destinations (a stolen key must
        # not add a payout address, nor remove the user's own), PUT /v1/account/notifications
        # (a key must not silence the emails that would reveal its misuse).
    }
)


def required_scope(method: str, resource: str) -> KeyScope | None:
    """The scope a key needs for ``method`` on ``resource`` (the route's template, as API
    Gateway's ``resource``); None: no key may call it."""
    return ROUTE_SCOPES.get((method.upper(), resource))
