"""What infrastructure needs to know of each table (keys, indexes, TTL), read from its pynamodb
model, so the CDK app and local mode create exactly the tables the code uses.

>>> from exchange.tables.models import OrderRecord
>>> [index.name for index in table_spec(OrderRecord).indexes]
['by_client_order_id', 'by_symbol_status', 'open_orders', 'pending_new']
>>> [spec.logical_name for spec in TABLE_SPECS]  # doctest: +NORMALIZE_WHITESPACE
['orders', 'fills', 'trades', 'events', 'audit', 'candles', 'connections', 'idempotency',
 'cursors', 'quarantine', 'order_keys', 'api_keys', 'rate_limits', 'instruments',
 'notifications', 'failover']
"""

from dataclasses import dataclass
from typing import Any, Final, Literal

from exchange.tables.base import _Table
from exchange.tables.models import TABLE_MODELS

KeyType = Literal["S", "N", "B"]


@dataclass(frozen=True, slots=True)
class KeySpec:
    name: str
    type: KeyType


@dataclass(frozen=True, slots=True)
class IndexSpec:
    name: str
    partition_key: KeySpec
    sort_key: KeySpec | None
    projection: Literal["ALL", "KEYS_ONLY"]


@dataclass(frozen=True, slots=True)
class TableSpec:
    """What infrastructure needs to know about a table, taken from its pynamodb model."""

    logical_name: str
    partition_key: KeySpec
    sort_key: KeySpec | None
    indexes: tuple[IndexSpec, ...]
    ttl_attribute: str | None

    @property
    def settings_field(self) -> str:
        """The ``TableSettings`` field (and so ``EXCHANGE_<NAME>_TABLE``) holding its name."""
        return f"{self.logical_name}_table"

    def create_table_kwargs(self, table_name: str) -> dict[str, Any]:
        """Arguments for boto3 ``create_table`` (local mode and tests), on-demand billing."""
        keys = [self.partition_key, *([self.sort_key] if self.sort_key else [])]
        definitions = {key.name: key.type for key in keys}
        kwargs: dict[str, Any] = {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": _key_schema(self.partition_key, self.sort_key),
        }
        indexes = []
        for index in self.indexes:
            definitions[index.partition_key.name] = index.partition_key.type
            if index.sort_key:
                definitions[index.sort_key.name] = index.sort_key.type
            indexes.append(
                {
                    "IndexName": index.name,
                    "KeySchema": _key_schema(index.partition_key, index.sort_key),
                    "Projection": {"ProjectionType": index.projection},
                }
            )
        kwargs["AttributeDefinitions"] = [
            {"AttributeName": name, "AttributeType": kind} for name, kind in definitions.items()
        ]
        if indexes:
            kwargs["GlobalSecondaryIndexes"] = indexes
        return kwargs


def _key_schema(partition: KeySpec, sort: KeySpec | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition.name, "KeyType": "HASH"}]
    if sort:
        schema.append({"AttributeName": sort.name, "KeyType": "RANGE"})
    return schema


def table_spec(model: type[_Table]) -> TableSpec:
    """The keys, indexes and TTL of a model's table, from pynamodb's own schema."""
    schema: Any = model._get_schema()
    types: dict[str, KeyType] = {
        d["AttributeName"]: d["AttributeType"] for d in schema["attribute_definitions"]
    }

    def keys(key_schema: list[dict[str, str]]) -> tuple[KeySpec, KeySpec | None]:
        hash_name = next(k["AttributeName"] for k in key_schema if k["KeyType"] == "HASH")
        ranges = [k["AttributeName"] for k in key_schema if k["KeyType"] == "RANGE"]
        return KeySpec(hash_name, types[hash_name]), (
            KeySpec(ranges[0], types[ranges[0]]) if ranges else None
        )

    partition, sort = keys(schema["key_schema"])
    indexes = []
    for index in schema["global_secondary_indexes"]:
        for definition in index["attribute_definitions"]:
            types[definition["AttributeName"]] = definition["AttributeType"]
        index_partition, index_sort = keys(index["key_schema"])
        projection = index["projection"]["ProjectionType"]
        indexes.append(IndexSpec(index["index_name"], index_partition, index_sort, projection))
    return TableSpec(
        logical_name=model.logical_name,
        partition_key=partition,
        sort_key=sort,
        indexes=tuple(indexes),
        ttl_attribute=model.ttl_attribute,
    )


TABLE_SPECS: Final[tuple[TableSpec, ...]] = tuple(table_spec(model) for model in TABLE_MODELS)
