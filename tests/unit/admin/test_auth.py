"""Who may use the admin API: the access token's ``cognito:groups`` claim must name the
operators' group, in exactly the form API Gateway's REST Cognito user-pool authorizer passes an
array claim to a Lambda proxy integration (``requestContext.authorizer.claims``): every claim a
string, the array's items joined by commas (no brackets, no spaces).

Pinned on AWS's own Amplify AdminQueries function, a Lambda proxy behind a REST API
``COGNITO_USER_POOLS`` authorizer with the ``aws.cognito.signin.user.admin`` scope, as ours:
``claims['cognito:groups'].split(',')`` (aws-amplify/amplify-cli,
packages/amplify-category-auth/resources/adminAuth/admin-auth-app.js); one group arrives as the
bare name (re:Post "AWS Cognito Group",
https://repost.aws/questions/QUFJRBaEJRSmmqarNrvCWoQA/aws-cognito-group). Any other form is
refused rather than guessed at."""

from typing import Any

import pytest

from exchange.admin.auth import NotAnOperator, Operator, groups_of, require_operator
from exchange.http.admin_problems import NotAnOperatorProblem

SUB = "6f1c2a9e-0000-4000-8000-000000000001"


def claims(groups: Any = "operators", **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sub": SUB,
        "username": "olga",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "client_id": "app-client",
    }
    if groups is not None:
        base["cognito:groups"] = groups
    return {**base, **extra}


@pytest.mark.parametrize(
    "value",
    ["operators", "traders,operators", "operators,traders", "a,operators,b"],
)
def test_the_api_gateway_form_with_the_group_admits_the_operator(value: str) -> None:
    assert require_operator(claims(value), "operators") == Operator("olga", SUB)


def test_one_group_is_the_bare_name_and_several_are_comma_joined() -> None:
    assert groups_of({"cognito:groups": "operators"}) == ("operators",)
    assert groups_of({"cognito:groups": "a,b"}) == ("a", "b")
    assert groups_of({}) == ()


@pytest.mark.parametrize(
    "value",
    [
        "traders",  # another group
        "not-operators",  # a name that contains it
        "operators-2",
        "Operators",  # group names are case-sensitive
        None,  # in no group at all
    ],
)
def test_a_caller_outside_the_group_is_not_an_operator(value: str | None) -> None:
    with pytest.raises(NotAnOperator):
        require_operator(claims(value), "operators")


@pytest.mark.parametrize(
    "forged",
    [
        "[operators]",  # an HTTP API JWT authorizer's form, not a REST proxy's
        "[traders operators]",
        '["operators"]',  # a JSON array in a string
        "operators, traders",  # spaces
        "traders operators",
        "operators,",  # an empty name
        ",operators",
        "",
        ["operators"],  # a native list: API Gateway never passes one
        {"0": "operators"},
        1,
    ],
)
def test_any_other_form_of_the_claim_is_refused(forged: Any) -> None:
    with pytest.raises(NotAnOperator):
        require_operator(claims(forged), "operators")


def test_an_id_token_or_a_token_without_subject_or_username_is_refused() -> None:
    for bad in (
        claims(token_use="id"),  # noqa: S106 - a claim value, not a password
        {k: v for k, v in claims().items() if k != "token_use"},
        claims(sub=""),
        claims(sub="has space"),
        {k: v for k, v in claims().items() if k != "username"},
        {},
        None,
    ):
        with pytest.raises(NotAnOperator):
            require_operator(bad, "operators")


def test_the_refusal_is_a_403_not_an_operator_problem() -> None:
    assert NotAnOperator.code == NotAnOperatorProblem.code == "not_an_operator"
    assert NotAnOperatorProblem.status == 403
