"""DynamoDB write request units, counted as AWS bills them, for every write the local moto server
takes: what ``make bench-e2e`` reports per order (``dynamodb_write_units_per_order``).

The rules (AWS's pages, named where each is applied):

- An item's size is the sum of its attribute names' and values' sizes: a string's UTF-8 bytes, a
  number's one byte per two significant digits plus one, a binary's raw bytes, one byte for a
  null or a Boolean, and a list or map's elements plus 3 bytes, plus 1 byte per element
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html).
- One write unit per 1 KB written, rounded up; ``PutItem``, ``UpdateItem`` and ``DeleteItem`` are
  billed on the larger of the item before and after; a write whose condition fails is billed
  too; each item of ``BatchWriteItem`` is billed as its own write; ``TransactWriteItems`` costs
  two units per 1 KB for each item, condition checks included
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).
- Each global secondary index an item is in (or leaves) costs more writes: one to put it in, one
  to take it out, two when its index key changes, one when only projected attributes change;
  each sized by the item as projected into the index
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html, "Provisioned
  throughput considerations for global secondary indexes").

The items before and after a write are moto's own, read around the request; a global table's
replica writes (one more replicated write per write, in the other region) are not counted.
"""

import base64
import binascii
import copy
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from moto.dynamodb.models.dynamo_type import DynamoType

WRITES: Final = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
KB: Final = 1024


def value_size(kind: str, value: Any) -> int:
    """The size of one attribute value (without its name), by type."""
    if kind in _SCALARS:
        return _SCALARS[kind](value)
    if kind in ("SS", "NS", "BS"):
        element = kind[0]
        return sum(value_size(element, member) for member in value)
    if kind == "L":
        return 3 + sum(_typed_size(member) + 1 for member in value)
    if kind == "M":
        return 3 + sum(
            len(name.encode()) + _typed_size(member) + 1 for name, member in value.items()
        )
    raise ValueError(f"not a DynamoDB attribute type: {kind!r}")


def item_size(attributes: Mapping[str, Any]) -> int:
    """An item's size from its attributes in DynamoDB's JSON (``{"name": {"S": "..."}}``) or as
    moto's typed values (objects with ``type`` and ``value``)."""
    return sum(len(name.encode()) + _typed_size(value) for name, value in attributes.items())


def _typed_size(value: Any) -> int:
    if isinstance(value, Mapping):
        ((kind, inner),) = value.items()
        return value_size(kind, inner)
    return value_size(value.type, value.value)  # moto's DynamoType


def _number_size(value: Any) -> int:
    """One byte per two significant digits (leading and trailing zeroes trimmed), plus one."""
    mantissa = str(value).lower().lstrip("+-").partition("e")[0]
    digits = mantissa.replace(".", "").strip("0")
    return math.ceil(len(digits) / 2) + 1


def _binary_size(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    try:
        return len(base64.b64decode(str(value), validate=True))
    except binascii.Error:
        return len(str(value).encode())


_SCALARS: Final[dict[str, Callable[[Any], int]]] = {
    "S": lambda value: len(str(value).encode()),
    "N": _number_size,
    "B": _binary_size,
    "BOOL": lambda _value: 1,
    "NULL": lambda _value: 1,
}


def units(size: int) -> int:
    """Write units for ``size`` bytes: 1 KB each, rounded up, at least one."""
    return max(1, math.ceil(size / KB))


@dataclass(slots=True)
class _Write:
    table: Any  # moto's Table
    key: Mapping[str, Any]  # the item's primary key, DynamoDB JSON
    transactional: bool
    request_item: Mapping[str, Any] | None = None  # a put's item, as sent
    before: Any = None  # moto's Item, copied


@dataclass
class WriteUnits:
    """Units by table, base and index writes apart."""

    table: dict[str, float] = field(default_factory=dict)
    index: dict[str, float] = field(default_factory=dict)

    def total(self) -> float:
        return sum(self.table.values()) + sum(self.index.values())


class WriteMeter:
    """Counts the write units of each DynamoDB write request through the moto server.

    ``before(operation, request)`` reads the items the request writes, ``after(pending)`` reads
    them again and adds their units. Requests to one server run on many threads: between the
    two reads another request may write the same item, which this approximation accepts.
    """

    def __init__(self, tables: Any) -> None:
        self._tables = tables  # table name -> moto Table (a callable)
        self._lock = threading.Lock()
        self.units = WriteUnits()

    def before(self, operation: str, request: Mapping[str, Any]) -> list[_Write]:
        writes = list(self._writes(operation, request))
        for write in writes:
            write.before = _copy(self._get(write.table, write.key))
        return writes

    def after(self, writes: list[_Write]) -> None:
        for write in writes:
            after = self._get(write.table, write.key)
            self._add(write, after)

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "tables": {name: round(n, 2) for name, n in sorted(self.units.table.items())},
                "indexes": {name: round(n, 2) for name, n in sorted(self.units.index.items())},
                "total": round(self.units.total(), 2),
            }

    def _writes(self, operation: str, request: Mapping[str, Any]) -> Iterator[_Write]:
        if operation == "PutItem":
            table = self._tables(request["TableName"])
            yield _Write(table, _key_of(table, request["Item"]), False, request["Item"])
        elif operation in ("UpdateItem", "DeleteItem"):
            yield _Write(self._tables(request["TableName"]), request["Key"], False)
        elif operation == "BatchWriteItem":
            for name, requests in request.get("RequestItems", {}).items():
                table = self._tables(name)
                for each in requests:
                    if "PutRequest" in each:
                        item = each["PutRequest"]["Item"]
                        yield _Write(table, _key_of(table, item), False, item)
                    else:
                        yield _Write(table, each["DeleteRequest"]["Key"], False)
        elif operation == "TransactWriteItems":
            for each in request.get("TransactItems", []):
                ((kind, body),) = each.items()
                table = self._tables(body["TableName"])
                if kind == "Put":
                    yield _Write(table, _key_of(table, body["Item"]), True, body["Item"])
                else:
                    yield _Write(table, body["Key"], True)

    @staticmethod
    def _get(table: Any, key: Mapping[str, Any]) -> Any:
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        return table.get_item(hash_key, range_key)

    def _add(self, write: _Write, after: Any) -> None:
        before = write.before
        sizes = [item_size(item.attrs) for item in (before, after) if item is not None]
        if write.request_item is not None:
            sizes.append(item_size(write.request_item))  # a refused put is billed on its item
        factor = 2 if write.transactional else 1
        base = factor * units(max(sizes, default=0))
        index_units: dict[str, int] = {}
        for index in table_indexes(write.table):
            n = _index_writes(index, before, after)
            if n:
                index_units[f"{write.table.name}/{index.name}"] = n
        with self._lock:
            self.units.table[write.table.name] = self.units.table.get(write.table.name, 0) + base
            for name, n in index_units.items():
                self.units.index[name] = self.units.index.get(name, 0) + n


def table_indexes(table: Any) -> list[Any]:
    return list(getattr(table, "global_indexes", []) or [])


def _index_key(index: Any, item: Any) -> tuple[Any, ...] | None:
    if item is None:
        return None
    names = [part["AttributeName"] for part in index.schema]
    if any(name not in item.attrs for name in names):
        return None
    return tuple(item.attrs[name].value for name in names)


def _index_writes(index: Any, before: Any, after: Any) -> int:
    """Write units one item's write costs ``index``."""
    old_key, new_key = _index_key(index, before), _index_key(index, after)
    old: Any = index.project(before) if old_key is not None else None
    new: Any = index.project(after) if new_key is not None else None
    if old is None or new is None:
        present = [item for item in (old, new) if item is not None]
        return sum(units(item_size(item.attrs)) for item in present)
    if old_key != new_key:
        return units(item_size(old.attrs)) + units(item_size(new.attrs))
    if _plain(old) == _plain(new):
        return 0
    return units(max(item_size(old.attrs), item_size(new.attrs)))


def _plain(item: Any) -> dict[str, Any]:
    return {name: (value.type, repr(value.value)) for name, value in item.attrs.items()}


def _key_of(table: Any, item: Mapping[str, Any]) -> dict[str, Any]:
    names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
    return {name: item[name] for name in names if name in item}


def _copy(item: Any) -> Any:
    return None if item is None else copy.deepcopy(item)
