"""Who is calling: the Cognito ``sub`` claim that API Gateway's authorizer puts in the event.

The account is never taken from the body. A request that reaches an authorized route without a
usable ``sub`` (a misconfigured route, a local call without a token) is refused with 401.
"""

import re
from dataclasses import dataclass
from typing import Final

from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import (
    APIGatewayProxyEvent,
)
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from exchange.http.problems import Unauthorized

# Cognito subs are UUIDs; local mode's are short names. Either way: a plain token, since it
# becomes part of table keys and idempotency keys.
_ACCOUNT_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")


@dataclass(frozen=True, slots=True)
class Caller:
    account_id: str
    email: str | None = None
    username: str | None = None


def caller(event: BaseProxyEvent) -> Caller:
    if not isinstance(event, APIGatewayProxyEvent):
        raise Unauthorized("the request carries no valid identity")
    claims = event.request_context.authorizer.claims
    sub = claims.get("sub")
    if not isinstance(sub, str) or not _ACCOUNT_ID.fullmatch(sub):
        raise Unauthorized("the request carries no valid identity")
    email, username = claims.get("email"), claims.get("cognito:username")
    return Caller(
        account_id=sub,
        email=email if isinstance(email, str) else None,
        username=username if isinstance(username, str) else None,
    )


def account_id(event: BaseProxyEvent) -> str:
    return caller(event).account_id
