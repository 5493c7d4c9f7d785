"""The policy evaluator against the rules of the IAM User Guide ("Policy evaluation logic",
"IAM JSON policy elements: Action/NotAction/Resource/NotResource/Condition", "Condition operators",
"Conditions with multiple context keys or values") and "Key policies in AWS KMS"."""

from typing import Any

import pytest

from tests.fidelity.policy import (
    Policies,
    Request,
    action_matches,
    evaluate,
    resource_matches,
    statements,
)

ACCOUNT = "111122223333"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/orders"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k1"


def policy(*raw: dict[str, Any]) -> list[Any]:
    return statements({"Statement": list(raw)})


def request(action: str, resource: str = TABLE, **context: str) -> Request:
    return Request(action, resource, ROLE, ACCOUNT, {"aws:SecureTransport": "true", **context})


def allowed(req: Request, **policies: Any) -> bool:
    return evaluate(req, Policies(**{"identity": [], **policies})).allowed


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("dynamodb:PutItem", "dynamodb:PutItem", True),
        ("DynamoDB:putitem", "dynamodb:PutItem", True),  # actions are case-insensitive
        ("dynamodb:Get*", "dynamodb:GetItem", True),
        ("dynamodb:Get*", "dynamodb:PutItem", False),
        ("dynamodb:?etItem", "dynamodb:GetItem", True),
        ("*", "kms:Decrypt", True),
        ("kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", False),
    ],
)
def test_action_wildcards(pattern: str, action: str, matches: bool) -> None:
    assert action_matches(pattern, action) is matches


@pytest.mark.parametrize(
    ("pattern", "resource", "matches"),
    [
        (TABLE, TABLE, True),
        (TABLE, f"{TABLE}/index/by_symbol", False),  # an index is its own resource
        (f"{TABLE}/index/*", f"{TABLE}/index/by_symbol", True),
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c", True),  # * runs over slashes
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", False),
        ("arn:aws:dynamodb:*:*:table/orders", TABLE, True),
        ("arn:aws:dynamodb:us-*-1:*:table/orders", TABLE, True),
        ("arn:aws:dynamodb:us-???t-1:*:table/orders", TABLE, True),
        # Within a segment a wildcard that does not end it stays inside it.
        (f"arn:aws:dynamodb:us-east-1:{ACCOUNT[:4]}*/orders", TABLE, False),
        # A * that ends a segment may run on over the next ones.
        ("arn:aws:dynamodb:*", TABLE, True),
        (
            "arn:aws:secretsmanager:us-east-1:1:secret:hook-??????",
            "arn:aws:secretsmanager:us-east-1:1:secret:hook-Ab12Cd",
            True,
        ),
        (
            "arn:aws:secretsmanager:us-east-1:1:secret:hook-??????",
            "arn:aws:secretsmanager:us-east-1:1:secret:hook-Ab12C",
            False,
        ),
        ("Arn:aws:dynamodb:us-east-1:111122223333:table/Orders", TABLE, False),  # case-sensitive
        ("*", "*", True),
        (TABLE, "*", False),  # only "*" names an action without resource-level permissions
    ],
)
def test_resource_wildcards(pattern: str, resource: str, matches: bool) -> None:
    assert resource_matches(pattern, resource) is matches


def test_allow_by_identity_and_implicit_deny() -> None:
    identity = policy({"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE})
    assert allowed(request("dynamodb:PutItem"), identity=identity)
    assert not allowed(request("dynamodb:DeleteItem"), identity=identity)
    assert not allowed(request("dynamodb:PutItem", f"{TABLE}-other"), identity=identity)


def test_explicit_deny_wins() -> None:
    identity = policy(
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE},
    )
    assert allowed(request("dynamodb:PutItem"), identity=identity)
    decision = evaluate(request("dynamodb:DeleteItem"), Policies(identity=identity))
    assert not decision.allowed
    assert decision.reason.startswith("explicit deny")


def test_not_action_and_not_resource() -> None:
    identity = policy(
        {"Effect": "Allow", "NotAction": "dynamodb:DeleteItem", "Resource": TABLE},
        {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"},
    )
    assert allowed(request("dynamodb:PutItem"), identity=identity)
    assert not allowed(request("dynamodb:DeleteItem"), identity=identity)
    assert allowed(request("s3:GetObject", "arn:aws:s3:::public/a"), identity=identity)
    assert not allowed(request("s3:GetObject", "arn:aws:s3:::secret/a"), identity=identity)


def test_conditions_on_known_keys() -> None:
    identity = policy(
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": KEY,
            "Condition": {"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}},
        }
    )
    via_secrets = request(
        "kms:Decrypt", KEY, **{"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
    )
    via_s3 = request("kms:Decrypt", KEY, **{"kms:ViaService": "s3.us-east-1.amazonaws.com"})
    assert allowed(via_secrets, identity=identity)
    assert not allowed(via_s3, identity=identity)


def test_an_unknown_condition_never_allows_and_always_denies() -> None:
    unknown = {"StringEquals": {"aws:SourceVpce": "vpce-1"}}
    allow = policy({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": unknown})
    assert not allowed(request("dynamodb:PutItem"), identity=allow)
    deny = policy(
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": unknown},
    )
    decision = evaluate(request("dynamodb:PutItem"), Policies(identity=deny))
    assert not decision.allowed
    assert "unknown conditions" in decision.reason


def test_negated_operators_and_set_qualifiers() -> None:
    def with_condition(condition: dict[str, Any]) -> bool:
        identity = policy(
            {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition}
        )
        return allowed(
            request("dynamodb:PutItem", **{"aws:RequestedRegion": "us-east-1"}), identity=identity
        )

    # Several values of one key: OR; of a negated operator: NOR.
    assert with_condition({"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}})
    assert not with_condition(
        {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}}
    )
    assert with_condition({"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]}})
    assert with_condition({"ForAnyValue:StringLike": {"aws:RequestedRegion": "us-*"}})
    assert with_condition({"Null": {"aws:RequestedRegion": "false"}})
    assert not with_condition({"Null": {"aws:RequestedRegion": "true"}})
    assert not with_condition({"DateLessThan": {"aws:RequestedRegion": "x"}})  # not supported


def test_tls_deny_of_a_bucket_policy_spares_https_calls() -> None:
    bucket_policy = policy(
        {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    identity = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    get = request("s3:GetObject", "arn:aws:s3:::b/key")
    assert allowed(get, identity=identity, resource=bucket_policy)
    plain = Request(get.action, get.resource, ROLE, ACCOUNT, {"aws:SecureTransport": "false"})
    assert not allowed(plain, identity=identity, resource=bucket_policy)


def test_resource_policy_grants_only_when_it_names_the_role() -> None:
    names_role = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ROLE},
            "Action": "dynamodb:GetItem",
            "Resource": "*",
        }
    )
    names_account = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "dynamodb:GetItem",
            "Resource": "*",
        }
    )
    assert allowed(request("dynamodb:GetItem"), resource=names_role)
    assert not allowed(request("dynamodb:GetItem"), resource=names_account)


def test_kms_key_policy_decides_first() -> None:
    root = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    role_only = policy(
        {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt", "Resource": "*"}
    )
    service_only = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "logs.amazonaws.com"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    iam_allows = policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY})
    decrypt = request("kms:Decrypt", KEY)
    # The key policy lets IAM decide: the role's policy must allow.
    assert allowed(decrypt, identity=iam_allows, key=root)
    assert not allowed(decrypt, identity=[], key=root)
    # The key policy names the role: no IAM policy needed.
    assert allowed(decrypt, identity=[], key=role_only)
    # Neither the role nor the account: IAM cannot grant it.
    assert not allowed(decrypt, identity=iam_allows, key=service_only)
    assert not allowed(decrypt, identity=iam_allows, key=[])


def test_permissions_boundary_intersects() -> None:
    identity = policy({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"})
    boundary = policy({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"})
    assert allowed(request("dynamodb:GetItem"), identity=identity, boundary=boundary)
    assert not allowed(request("dynamodb:PutItem"), identity=identity, boundary=boundary)


def test_single_statement_documents() -> None:
    found = statements(
        {"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Sid": "One"}}
    )
    assert [s.sid for s in found] == ["One"]
