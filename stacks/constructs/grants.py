"""Least-privilege statements the CDK's own grants make too wide: exact actions on exact ARNs.

DynamoDB: a function gets its tables and each named index (never ``index/*``, never Scan), read or
read/write as the catalog says. Tests read ``TABLE_READ_ACTIONS``/``TABLE_WRITE_ACTIONS`` to check
every policy against the catalog.

API keys' secrets: Encrypt or Decrypt on the API-key key only with the encryption context the
api_keys code binds each ciphertext to (``API_KEY_CONTEXT_KEYS``), so the role cannot use the key
for anything else.
"""

from collections.abc import Sequence
from typing import Final, Literal

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct

TABLE_READ_ACTIONS: Final = (
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
)
TABLE_WRITE_ACTIONS: Final = (
    *TABLE_READ_ACTIONS,
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
KEY_READ_ACTIONS: Final = ("kms:Decrypt", "kms:DescribeKey")
# The encryption context of an API key's secret: {"key_id": <ak_...>, "account_id": <account>}.
API_KEY_CONTEXT_KEYS: Final = ("account_id", "key_id")
KEY_WRITE_ACTIONS: Final = (*KEY_READ_ACTIONS, "kms:Encrypt", "kms:GenerateDataKey")


def table_arns(scope: IConstruct, table_name: str, index_names: Sequence[str]) -> list[str]:
    """The table in ``scope``'s region, and each of its indexes by name."""
    stack = Stack.of(scope)
    table = stack.format_arn(
        service="dynamodb",
        resource="table",
        resource_name=table_name,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )
    return [table, *(f"{table}/index/{index}" for index in index_names)]


def table_statement(
    scope: IConstruct,
    *,
    table_name: str,
    index_names: Sequence[str],
    access: Literal["read", "write"],
) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=list(TABLE_WRITE_ACTIONS if access == "write" else TABLE_READ_ACTIONS),
        resources=table_arns(scope, table_name, index_names),
    )


def key_statement(key_arn: str, *, write: bool) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=list(KEY_WRITE_ACTIONS if write else KEY_READ_ACTIONS), resources=[key_arn]
    )


def secrets_key_statement(key_arn: str, region: str) -> iam.PolicyStatement:
    """Decrypt with the key only when Secrets Manager asks on the role's behalf (reading a secret
    the key encrypts): ``kms:ViaService`` ("Secret encryption and decryption in AWS Secrets
    Manager")."""
    return iam.PolicyStatement(
        actions=["kms:Decrypt"],
        resources=[key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
    )


def api_key_statement(key_arn: str, action: str) -> iam.PolicyStatement:
    """``action`` (kms:Encrypt or kms:Decrypt) on the API-key key, only with an encryption context
    of exactly ``API_KEY_CONTEXT_KEYS``: ``ForAllValues`` refuses any other key, and ``Null``
    false on each key requires both ("AWS KMS condition keys": kms:EncryptionContextKeys,
    kms:EncryptionContext:context-key; an empty context would satisfy ForAllValues alone)."""
    return iam.PolicyStatement(
        actions=[action],
        resources=[key_arn],
        conditions={
            "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": list(API_KEY_CONTEXT_KEYS)},
            "Null": {f"kms:EncryptionContext:{key}": "false" for key in API_KEY_CONTEXT_KEYS},
        },
    )
