"""Least-privilege statements the CDK's own grants make too wide: exact actions on exact ARNs.

DynamoDB: a function gets its tables and each named index (never ``index/*``), read or read/write
as the catalog says. Scan only where ``SCANNED`` says a whole table or index is read by design:
the instruments store, which every live catalog (``exchange.instruments``) reads whole (one item
per listed symbol and version), and the orders table's sparse ``open_orders`` index, which holds
only open orders and which the reconciliation compares, all of them, with the engine's books.
Tests read ``TABLE_READ_ACTIONS``/``TABLE_WRITE_ACTIONS`` and ``SCANNED`` to check every policy
against the catalog.

S3: the engine's snapshots are read (``snapshot_read_statements``: GetObject, and ListBucket so a
missing object is a 404, not a 403) by the reconciliation; its reports are written only under
``REPORTS_PREFIX`` (``report_write_statements``).

API keys' secrets: Encrypt or Decrypt on the API-key key only with the encryption context the
api_keys code binds each ciphertext to (``API_KEY_CONTEXT_KEYS``), so the role cannot use the key
for anything else.
"""

from collections.abc import Mapping, Sequence
from typing import Final, Literal

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
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
# What is read whole, each for the reason in the module's docstring: table -> its scanned parts
# (None: the table itself, else an index's name), granted with the table's read access.
SCANNED: Final[Mapping[str, frozenset[str | None]]] = {
    "instruments": frozenset({None}),
    "orders": frozenset({"open_orders"}),
}
KEY_READ_ACTIONS: Final = ("kms:Decrypt", "kms:DescribeKey")
# The encryption context of an API key's secret: {"key_id": <ak_...>, "account_id": <account>}.
API_KEY_CONTEXT_KEYS: Final = ("account_id", "key_id")
KEY_WRITE_ACTIONS: Final = (*KEY_READ_ACTIONS, "kms:Encrypt", "kms:GenerateDataKey")
# Where the reconciliation writes its reports (``reconciliation/YYYY/MM/DD/<HHMMSS>Z.json``).
REPORTS_PREFIX: Final = "reconciliation/"


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


def table_statements(
    scope: IConstruct,
    *,
    logical_name: str,
    table_name: str,
    index_names: Sequence[str],
    access: Literal["read", "write"],
) -> list[iam.PolicyStatement]:
    """``access`` to the table and its indexes, and Scan on what of it ``SCANNED`` names."""
    (table, *indexes) = table_arns(scope, table_name, index_names)
    statements = [
        iam.PolicyStatement(
            actions=list(TABLE_WRITE_ACTIONS if access == "write" else TABLE_READ_ACTIONS),
            resources=[table, *indexes],
        )
    ]
    scanned = SCANNED.get(logical_name, frozenset())
    if scanned:
        parts = sorted(f"{table}/index/{part}" if part else table for part in scanned)
        statements.append(iam.PolicyStatement(actions=["dynamodb:Scan"], resources=parts))
    return statements


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


def snapshot_read_statements(bucket: s3.IBucket, key_arn: str) -> list[iam.PolicyStatement]:
    """Read the engine's snapshots: any shard's object, the bucket's listing (so a shard without a
    snapshot is a 404: "Amazon S3 error responses", GetObject without s3:ListBucket answers 403),
    and Decrypt with the data key the bucket encrypts them under ("Using server-side encryption
    with AWS KMS keys": a download needs kms:Decrypt)."""
    return [
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects("*")]),
        iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
        iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key_arn]),
    ]


def report_write_statements(bucket: s3.IBucket, key_arn: str) -> list[iam.PolicyStatement]:
    """Write reports under ``REPORTS_PREFIX`` only, encrypted with the data key (an upload under
    SSE-KMS needs kms:GenerateDataKey: "Using server-side encryption with AWS KMS keys")."""
    return [
        iam.PolicyStatement(
            actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{REPORTS_PREFIX}*")]
        ),
        iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[key_arn]),
    ]
