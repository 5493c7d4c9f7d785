"""The instruments table on moto (in process), made from its spec and bound as a function binds
it; the raw client too, to look at items and to put the table in states only a race makes."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from exchange.settings import RecorderSettings
from exchange.tables import InstrumentRecord, bind_tables, table_spec

REGION = "us-east-1"


@dataclass
class Table:
    name: str
    dynamodb: Any

    def item(self, symbol: str, record: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.dynamodb.get_item(
            TableName=self.name,
            Key={"symbol": {"S": symbol}, "record": {"S": record}},
            ConsistentRead=True,
        ).get("Item")
        return found

    def records(self, symbol: str) -> list[str]:
        rows = self.dynamodb.query(
            TableName=self.name,
            KeyConditionExpression="symbol = :s",
            ExpressionAttributeValues={":s": {"S": symbol}},
            ConsistentRead=True,
        )["Items"]
        return [row["record"]["S"] for row in rows]


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Table]:
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        settings = RecorderSettings()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        spec = table_spec(InstrumentRecord)
        dynamodb.create_table(**spec.create_table_kwargs(settings.instruments_table))
        bind_tables(settings)
        yield Table(settings.instruments_table, dynamodb)
