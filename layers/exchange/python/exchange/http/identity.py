"""Who is calling: the claims of the Cognito access token that API Gateway's authorizer puts in
the event (``requestContext.authorizer.claims``).

Authorized methods name an OAuth scope, so the authorizer takes the client's *access* token
("Control access to REST APIs using Amazon Cognito user pools as an authorizer"). An access token
carries ``sub``, ``username``, ``client_id``, ``scope`` and ``token_use``, but no ``email`` and no
``cognito:username`` ("Understanding the access token", Amazon Cognito): the account is the
``sub``, the username the ``username`` claim; the email comes from the ledger (stored at
onboarding). The account is never taken from the body. A request that reaches an authorized route
without a usable ``sub`` (a misconfigured route, a local call without a token) is refused with 401.
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
    username: str | None = None


def caller(event: BaseProxyEvent) -> Caller:
    if not isinstance(event, APIGatewayProxyEvent):
        raise Unauthorized("the request carries no valid identity")
    claims = event.request_context.authorizer.claims
    sub = claims.get("sub")
    if not isinstance(sub, str) or not _ACCOUNT_ID.fullmatch(sub):
        raise Unauthorized("the request carries no valid identity")
    if claims.get("token_use", "access") != "access":
        # API Gateway takes only access tokens on a scoped method; an ID token is refused here too.
        raise Unauthorized("the request carries no valid identity")
    username = claims.get("username")
    return Caller(account_id=sub, username=username if isinstance(username, str) else None)


def account_id(event: BaseProxyEvent) -> str:
    return caller(event).account_id
