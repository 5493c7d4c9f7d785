"""The local moto server counts DynamoDB write units as AWS bills them (``local.metering``): what
``make bench-e2e`` reports as ``dynamodb_write_units_per_order``.

The rules pinned here are AWS's:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
(item sizes), https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
(1 KB per unit, the larger of before and after, conditional failures billed, two units per KB in
a transaction) and https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html
(index writes: one to add, one to remove, two when the index key changes).
"""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.aws import MotoServer, client
from local.metering import item_size, units, value_size


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    moto = MotoServer()
    moto.start()
    try:
        yield moto
    finally:
        moto.stop()


@pytest.fixture
def table(server: MotoServer) -> str:
    """A fresh table keyed ``pk`` with an index on ``status`` (all attributes projected)."""
    name = f"metered-{uuid.uuid4().hex[:8]}"
    client("dynamodb", server.endpoint_url).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-status",
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def billed(server: MotoServer, table: str) -> tuple[float, float]:
    """(table units, index units) counted so far for ``table``."""
    summary = server.write_units()
    return summary["tables"].get(table, 0), summary["indexes"].get(f"{table}/by-status", 0)


def padding(size: int) -> dict[str, Any]:
    return {"S": "x" * size}


def test_sizes_follow_the_documented_rules() -> None:
    assert value_size("S", "héllo") == 6  # UTF-8 bytes
    assert value_size("N", "12345") == 4  # 5 significant digits: 3 bytes + 1
    assert value_size("N", "1000") == 2  # trailing zeroes trimmed: 1 digit
    assert value_size("N", "0.00250") == 2  # leading zeroes too: "25"
    assert value_size("B", "AAECAw==") == 4  # raw bytes, not base64's
    assert value_size("BOOL", True) == 1
    assert value_size("NULL", True) == 1
    # A map: 3 bytes, plus each element's name, value and 1 byte.
    assert value_size("M", {"ab": {"S": "xyz"}}) == 3 + 2 + 3 + 1
    assert value_size("L", [{"S": "a"}, {"N": "7"}]) == 3 + (1 + 1) + (2 + 1)
    assert item_size({"pk": {"S": "k1"}, "n": {"N": "42"}}) == (2 + 2) + (1 + 2)
    with pytest.raises(ValueError, match="not a DynamoDB attribute type"):
        value_size("X", "?")


def test_one_unit_per_kilobyte_rounded_up() -> None:
    assert [units(n) for n in (0, 1, 1024, 1025, 2048, 2049)] == [1, 1, 1, 2, 2, 3]


def test_a_put_is_billed_on_its_size_and_its_index_write(server: MotoServer, table: str) -> None:
    dynamodb = client("dynamodb", server.endpoint_url)
    # 1,500 bytes or so: two units; no status, so not in the index.
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "filler": padding(1500)})
    assert billed(server, table) == (2, 0)
    # A small one that has the index key: one unit, one index write.
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "b"}, "status": {"S": "NEW"}})
    assert billed(server, table) == (3, 1)


def test_an_update_is_billed_on_the_larger_image(server: MotoServer, table: str) -> None:
    dynamodb = client("dynamodb", server.endpoint_url)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "filler": padding(3000)})
    start = billed(server, table)[0]
    # Shrinking a 3 KB item to a few bytes is billed on the 3 KB before-image.
    dynamodb.update_item(TableName=table, Key={"pk": {"S": "a"}}, UpdateExpression="REMOVE filler")
    assert billed(server, table)[0] - start == 3


def test_index_key_change_costs_two_index_writes(server: MotoServer, table: str) -> None:
    dynamodb = client("dynamodb", server.endpoint_url)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "status": {"S": "NEW"}})
    _, index_before = billed(server, table)

    def set_status(status: str | None) -> None:
        if status is None:
            dynamodb.update_item(
                TableName=table, Key={"pk": {"S": "a"}}, UpdateExpression="REMOVE #s",
                ExpressionAttributeNames={"#s": "status"},
            )  # fmt: skip
        else:
            dynamodb.update_item(
                TableName=table, Key={"pk": {"S": "a"}}, UpdateExpression="SET #s = :s",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": status}},
            )  # fmt: skip

    set_status("FILLED")  # the key changes: out of one partition, into another
    assert billed(server, table)[1] - index_before == 2
    set_status(None)  # leaves the index: one write
    assert billed(server, table)[1] - index_before == 3


def test_a_failed_condition_is_billed_too(server: MotoServer, table: str) -> None:
    dynamodb = client("dynamodb", server.endpoint_url)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}})
    start = billed(server, table)
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        dynamodb.put_item(
            TableName=table,
            Item={"pk": {"S": "a"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    assert billed(server, table) == (start[0] + 1, start[1])


def test_a_transaction_costs_two_units_per_item(server: MotoServer, table: str) -> None:
    dynamodb = client("dynamodb", server.endpoint_url)
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "a"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "b"}, "filler": padding(1100)}}},
        ]
    )
    assert billed(server, table)[0] == 2 * 1 + 2 * 2


def test_a_batch_bills_each_item(server: MotoServer, table: str) -> None:
    dynamodb = client("dynamodb", server.endpoint_url)
    dynamodb.batch_write_item(
        RequestItems={
            table: [{"PutRequest": {"Item": {"pk": {"S": f"k{n}"}}}} for n in range(5)],
        }
    )
    assert billed(server, table)[0] == 5
