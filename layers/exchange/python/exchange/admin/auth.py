"""Who may call ``/v1/admin``: a member of the operators' Cognito group.

API Gateway's Cognito user-pool authorizer has verified the access token (signature, expiry,
issuer, the ``aws.cognito.signin.user.admin`` scope) before the function runs, but it checks no
group; the handler does, from the claims the authorizer passes in
``requestContext.authorizer.claims``.

Every claim reaches a REST proxy integration as a string, so the token's ``cognito:groups``
array arrives flattened: the group names joined by commas, no brackets, no spaces
(``"operators"`` for one group, ``"operators,traders"`` for two). That is how AWS's own Amplify
AdminQueries function, a Lambda proxy behind a REST API's ``COGNITO_USER_POOLS`` authorizer with
that same scope, reads it (``claims['cognito:groups'].split(',')``,
aws-amplify/amplify-cli packages/amplify-category-auth/resources/adminAuth/admin-auth-app.js),
and what a re:Post answer shows for one group ("AWS Cognito Group",
https://repost.aws/questions/QUFJRBaEJRSmmqarNrvCWoQA). (An HTTP API's JWT authorizer writes
``"[a b]"`` instead: a different integration, not this one.)

Exactly that form is accepted; anything else (a JSON array, brackets, spaces, an empty name, a
list object, an ID token's claims) is refused with 403, as is a caller outside the group. The
group is matched whole, never as a substring.

>>> claims = {"sub": "s-1", "username": "olga", "token_use": "access",
...           "cognito:groups": "traders,operators"}
>>> require_operator(claims, "operators")
Operator(username='olga', sub='s-1')
>>> groups_of({"cognito:groups": "operators"})
('operators',)
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from exchange.domain.errors import ExchangeError

GROUPS_CLAIM: Final = "cognito:groups"
# A Cognito group name is at most 128 characters with no whitespace; brackets and quotes would
# mean another serialization (a JSON or bracketed array), which is refused, not guessed at.
_GROUP: Final = re.compile(r'[^\s,\[\]"]{1,128}')
_SUB: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_USERNAME: Final = re.compile(r"[^\s\x00-\x1f]{1,128}")


class NotAnOperator(ExchangeError):
    """The caller is not in the operators' group (or its claims cannot say that it is): the
    admin API answers 403 ``not_an_operator`` (``exchange.http.routes.admin``)."""

    code = "not_an_operator"


@dataclass(frozen=True, slots=True)
class Operator:
    """The operator acting: the Cognito ``username`` and ``sub`` of the access token."""

    username: str
    sub: str


def groups_of(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The caller's groups from API Gateway's flattened ``cognito:groups`` claim: ``()`` when
    absent (a user in no group); raises NotAnOperator for any other form."""
    value = claims.get(GROUPS_CLAIM)
    if value is None:
        return ()
    if not isinstance(value, str):
        raise NotAnOperator(f"the {GROUPS_CLAIM} claim is not API Gateway's string form")
    names = tuple(value.split(","))
    if not all(_GROUP.fullmatch(name) for name in names):
        raise NotAnOperator(f"the {GROUPS_CLAIM} claim is not a comma-separated list of groups")
    return names


def require_operator(claims: Mapping[str, Any] | None, group: str) -> Operator:
    """The operator the claims name, if their access token is in ``group``; else NotAnOperator."""
    if not claims:
        raise NotAnOperator("the admin API needs an operator's access token")
    if claims.get("token_use") != "access":
        raise NotAnOperator("the admin API takes an access token, not an ID token")
    if group not in groups_of(claims):
        raise NotAnOperator(f"only members of the {group!r} group may use the admin API")
    username, sub = claims.get("username"), claims.get("sub")
    if not isinstance(sub, str) or not _SUB.fullmatch(sub):
        raise NotAnOperator("the access token names no subject")
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise NotAnOperator("the access token names no username")
    return Operator(username=username, sub=sub)


@dataclass(frozen=True, slots=True)
class OperatorGate:
    """The group the admin routes require (``OperatorSettings.operators_group``), handed to the
    routes with the request's services."""

    group: str

    def check(self, claims: Mapping[str, Any] | None) -> Operator:
        return require_operator(claims, self.group)
