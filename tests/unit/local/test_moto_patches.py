"""The local stack's one change to moto (``local.moto_patches``): a cancelled transaction puts
back the items it wrote, not whole tables, and no table is copied.

What DynamoDB does is the reference: "TransactWriteItems is a synchronous write operation that
groups up to 100 action requests ... The actions are completed atomically so that either all of
them succeed, or all of them fail"
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html).
"""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import Table

from local.aws import MotoServer, client


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    moto = MotoServer()  # installs the patch
    moto.start()
    try:
        yield client("dynamodb", moto.endpoint_url)
    finally:
        moto.stop()


@pytest.fixture
def table(dynamodb: Any) -> str:
    name = f"tx-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def key(pk: str, sk: int) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


def get(dynamodb: Any, table: str, pk: str, sk: int) -> dict[str, Any] | None:
    item: dict[str, Any] | None = dynamodb.get_item(
        TableName=table, Key=key(pk, sk), ConsistentRead=True
    ).get("Item")
    return item


def test_a_committed_transaction_writes_every_item(dynamodb: Any, table: str) -> None:
    dynamodb.put_item(TableName=table, Item={**key("a", 1), "n": {"N": "1"}})
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {**key("b", 1), "n": {"N": "5"}}}},
            {
                "Update": {
                    "TableName": table,
                    "Key": key("a", 1),
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )
    assert get(dynamodb, table, "a", 1) == {**key("a", 1), "n": {"N": "2"}}
    assert get(dynamodb, table, "b", 1) == {**key("b", 1), "n": {"N": "5"}}


def test_a_cancelled_transaction_puts_back_what_it_wrote(dynamodb: Any, table: str) -> None:
    dynamodb.put_item(TableName=table, Item={**key("a", 1), "n": {"N": "1"}})
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(
            TransactItems=[
                # Applied by moto before the failing condition below: must be undone.
                {
                    "Update": {
                        "TableName": table,
                        "Key": key("a", 1),
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": table, "Item": {**key("new", 1), "n": {"N": "9"}}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": key("missing", 1),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert get(dynamodb, table, "a", 1) == {**key("a", 1), "n": {"N": "1"}}
    assert get(dynamodb, table, "new", 1) is None


def test_no_table_is_copied(dynamodb: Any, table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's own rollback deep-copied every table a transaction touched: O(table) each time."""

    def refuse(_self: Table, _memo: dict[int, Any]) -> Table:
        raise AssertionError("a whole table was copied")

    monkeypatch.setattr(Table, "__deepcopy__", refuse, raising=False)
    dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": table, "Item": key("c", 1)}}]
    )
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": key("c", 1),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            ]
        )
    assert get(dynamodb, table, "c", 1) == key("c", 1)
