"""API call -> (IAM action, resource ARN), per the Service Authorization Reference and the pages
``tests.fidelity.actions`` names; anything it does not know is an error, never allowed."""

from typing import Any

import pytest

from tests.fidelity.actions import Call, Requirement, Unmapped, key_requirements, requirements

ACCOUNT = "111122223333"
R = "us-east-1"
TABLE = f"arn:aws:dynamodb:{R}:{ACCOUNT}:table"
STREAM = f"arn:aws:kinesis:{R}:{ACCOUNT}:stream/journal"
SECRET = f"arn:aws:secretsmanager:{R}:{ACCOUNT}:secret:hook-Ab12Cd"


def needed(
    service: str, operation: str, endpoint: str | None = None, **params: Any
) -> list[tuple[str, str]]:
    call = Call("orders", service, operation, R, params, endpoint)
    return [(r.action, r.resource) for r in requirements(call, account=ACCOUNT)]


@pytest.mark.parametrize(
    "operation", ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable"]
)
def test_dynamodb_item_operations_are_on_the_table(operation: str) -> None:
    assert needed("dynamodb", operation, TableName="orders") == [
        (f"dynamodb:{operation}", f"{TABLE}/orders")
    ]


def test_dynamodb_query_and_scan_on_an_index_are_on_the_index() -> None:
    assert needed("dynamodb", "Query", TableName="orders", IndexName="open") == [
        ("dynamodb:Query", f"{TABLE}/orders/index/open")
    ]
    assert needed("dynamodb", "Query", TableName="orders") == [
        ("dynamodb:Query", f"{TABLE}/orders")
    ]
    assert needed("dynamodb", "Scan", TableName="orders", IndexName="open") == [
        ("dynamodb:Scan", f"{TABLE}/orders/index/open")
    ]


def test_dynamodb_batches_are_authorized_per_table() -> None:
    items = {"orders": ["PutRequest"], "fills": ["DeleteRequest", "PutRequest"]}
    assert needed("dynamodb", "BatchWriteItem", RequestItems=items) == [
        ("dynamodb:BatchWriteItem", f"{TABLE}/fills"),
        ("dynamodb:BatchWriteItem", f"{TABLE}/orders"),
    ]
    assert needed("dynamodb", "BatchGetItem", RequestItems={"orders": ["Get"]}) == [
        ("dynamodb:BatchGetItem", f"{TABLE}/orders")
    ]


def test_dynamodb_transactions_need_each_items_own_action() -> None:
    items = [
        {"kind": "Put", "TableName": "orders"},
        {"kind": "Update", "TableName": "keys"},
        {"kind": "Delete", "TableName": "keys"},
        {"kind": "ConditionCheck", "TableName": "accounts"},
    ]
    assert needed("dynamodb", "TransactWriteItems", TransactItems=items) == [
        ("dynamodb:PutItem", f"{TABLE}/orders"),
        ("dynamodb:UpdateItem", f"{TABLE}/keys"),
        ("dynamodb:DeleteItem", f"{TABLE}/keys"),
        ("dynamodb:ConditionCheckItem", f"{TABLE}/accounts"),
    ]
    assert needed(
        "dynamodb", "TransactGetItems", TransactItems=[{"kind": "Get", "TableName": "orders"}]
    ) == [("dynamodb:GetItem", f"{TABLE}/orders")]


@pytest.mark.parametrize(
    "operation",
    [
        "PutRecord",
        "PutRecords",
        "GetShardIterator",
        "GetRecords",
        "DescribeStreamSummary",
        "ListShards",
    ],
)
def test_kinesis_stream_operations(operation: str) -> None:
    assert needed("kinesis", operation, StreamName="journal") == [(f"kinesis:{operation}", STREAM)]
    assert needed("kinesis", operation, StreamARN=STREAM) == [(f"kinesis:{operation}", STREAM)]


def test_kinesis_consumer_operations_are_on_the_consumer() -> None:
    consumer = f"{STREAM}/consumer/fanout:1700000000"
    assert needed("kinesis", "SubscribeToShard", ConsumerARN=consumer) == [
        ("kinesis:SubscribeToShard", consumer)
    ]


def test_s3_objects_and_buckets() -> None:
    assert needed("s3", "PutObject", Bucket="snaps", Key="s1/latest") == [
        ("s3:PutObject", "arn:aws:s3:::snaps/s1/latest")
    ]
    assert needed("s3", "HeadObject", Bucket="snaps", Key="k") == [
        ("s3:GetObject", "arn:aws:s3:::snaps/k")
    ]
    assert needed("s3", "GetObject", Bucket="snaps", Key="k", VersionId="v1") == [
        ("s3:GetObjectVersion", "arn:aws:s3:::snaps/k")
    ]
    assert needed("s3", "ListObjectsV2", Bucket="snaps", Prefix="s1/") == [
        ("s3:ListBucket", "arn:aws:s3:::snaps")
    ]
    call = Call("engine", "s3", "ListObjectsV2", R, {"Bucket": "snaps", "Prefix": "s1/"})
    assert requirements(call, account=ACCOUNT)[0].context == {"s3:prefix": "s1/"}


def test_secrets_by_arn_or_name() -> None:
    assert needed("secretsmanager", "GetSecretValue", SecretId=SECRET) == [
        ("secretsmanager:GetSecretValue", SECRET)
    ]
    assert needed("secretsmanager", "GetSecretValue", SecretId="hook") == [
        (
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:{R}:{ACCOUNT}:secret:hook-??????",
        )
    ]


@pytest.mark.parametrize(
    ("operation", "method"),
    [("PostToConnection", "POST"), ("GetConnection", "GET"), ("DeleteConnection", "DELETE")],
)
def test_connections_are_manage_connections_on_the_stage(operation: str, method: str) -> None:
    endpoint = "https://abc123.execute-api.us-east-1.amazonaws.com/live"
    assert needed("apigatewaymanagementapi", operation, endpoint, ConnectionId="Xy=") == [
        (
            "execute-api:ManageConnections",
            f"arn:aws:execute-api:{R}:{ACCOUNT}:abc123/live/{method}/@connections/Xy=",
        )
    ]


def test_resourceless_actions_and_public_cognito_operations() -> None:
    assert needed("cloudwatch", "PutMetricData", Namespace="Exchange") == [
        ("cloudwatch:PutMetricData", "*")
    ]
    assert needed("dynamodb", "ListTables") == [("dynamodb:ListTables", "*")]
    assert needed("cognito-idp", "InitiateAuth") == []
    assert needed("cognito-idp", "AdminGetUser", UserPoolId="us-east-1_x") == [
        ("cognito-idp:AdminGetUser", f"arn:aws:cognito-idp:{R}:{ACCOUNT}:userpool/us-east-1_x")
    ]


@pytest.mark.parametrize(
    ("service", "operation", "endpoint", "params"),
    [
        ("dynamodb", "ExecuteStatement", None, {}),  # PartiQL: its own actions, not known here
        ("dynamodb", "PutItem", None, {}),  # no table
        ("dynamodb", "BatchWriteItem", None, {}),
        ("dynamodb", "TransactWriteItems", None, {"TransactItems": [{"kind": "?"}]}),
        ("kinesis", "GetRecords", None, {}),  # an iterator of an unknown stream
        ("s3", "PutObject", None, {"Bucket": "b"}),
        ("sqs", "SendMessage", None, {"QueueUrl": "https://q"}),
        (
            "apigatewaymanagementapi",
            "PostToConnection",
            "http://127.0.0.1:8000/local",
            {"ConnectionId": "x"},
        ),
    ],
)
def test_what_is_not_known_is_an_error(
    service: str, operation: str, endpoint: str | None, params: dict[str, Any]
) -> None:
    with pytest.raises(Unmapped):
        requirements(Call("orders", service, operation, R, params, endpoint), account=ACCOUNT)


def test_what_kms_is_asked_for_on_the_callers_behalf() -> None:
    key = f"arn:aws:kms:{R}:{ACCOUNT}:key/k"

    def kms(action: str, resource: str) -> list[Requirement]:
        return key_requirements(
            Requirement(action, resource),
            key_arn=key,
            region=R,
            account=ACCOUNT,
            encrypted=resource,
        )

    (decrypt,) = kms("secretsmanager:GetSecretValue", SECRET)
    assert (decrypt.action, decrypt.resource) == ("kms:Decrypt", key)
    assert decrypt.context["kms:ViaService"] == f"secretsmanager.{R}.amazonaws.com"
    assert decrypt.context["kms:EncryptionContext:SecretARN"] == SECRET
    assert [r.action for r in kms("kinesis:PutRecords", STREAM)] == ["kms:GenerateDataKey"]
    assert [r.action for r in kms("kinesis:GetRecords", STREAM)] == ["kms:Decrypt"]
    assert [r.action for r in kms("s3:PutObject", "arn:aws:s3:::b")] == ["kms:GenerateDataKey"]
    assert [r.action for r in kms("dynamodb:PutItem", f"{TABLE}/orders")] == ["kms:Decrypt"]
    assert kms("dynamodb:DescribeTable", f"{TABLE}/orders") == []
    assert kms("execute-api:ManageConnections", "arn:x") == []


def test_calls_read_from_log_records() -> None:
    call = Call.from_record(
        {
            "principal": None,
            "service": "kinesis",
            "operation": "ListShards",
            "region": R,
            "params": {"StreamName": "j"},
        }
    )
    assert (call.principal, call.service, call.params, call.endpoint) == (
        None,
        "kinesis",
        {"StreamName": "j"},
        None,
    )
