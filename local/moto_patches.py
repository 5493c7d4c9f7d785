"""One change to moto's DynamoDB, for the local stack's scale: a transaction's rollback copies the
items it writes, not whole tables.

moto's ``transact_write_items`` deep-copies every table a transaction touches before it starts,
to restore them if it is cancelled. The cost grows with the table: on the local stack, whose
audit log and orders grow with every order, it was most of the stack's CPU under load
(``make bench-e2e``: ``DynamoType.__deepcopy__`` 27% of samples, and the placements slowing as
the tables grew). Restoring a whole table is also wrong beside other requests: a cancelled
transaction put back the table as it was before, losing other items written meanwhile.

Here the table copy is skipped (moto's copy of a ``Table`` returns the table itself) and the items
the transaction names are copied instead: on a cancellation each is put back as it was (or
removed, if it did not exist). What a transaction does when it commits, and what it answers when
it does not, are moto's own (``tests/unit/local/test_moto_patches.py``).

moto's server is threaded and its backend takes no lock: a transaction's check-then-write, and
its rollback, could interleave with another request's write to the same item (a rollback then
undoing a committed put). So every DynamoDB write, the transaction whole, runs under one lock,
as DynamoDB serializes writes to an item.

``install()`` is idempotent; the local stack calls it before its moto server starts.
"""

import copy
import functools
import threading
import types
from typing import Any

import moto.dynamodb.models as _models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

_installed = threading.Lock()
# One lock for every write to moto's DynamoDB (re-entrant: a batch or a transaction writes
# through the single-item methods).
_writing = threading.RLock()
_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items")
_originals: dict[str, Any] = {}  # moto's own methods, once installed


def _locked(method: Any) -> Any:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _writing:
            return method(*args, **kwargs)

    return locked


def _deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """``copy.deepcopy``, but a whole table is not copied (its items are, by the caller)."""
    if isinstance(value, Table):
        return value
    return copy.deepcopy(value, memo)


def _key_values(table: Table, key: dict[str, Any]) -> tuple[Any, Any]:
    hash_key = DynamoType(key[table.hash_key_attr])
    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_key, range_key


def _snapshot(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[Any]:
    """(table, hash, range, item copy or None) for each item the transaction names."""
    saved = []
    for entry in transact_items:
        for op_type, op in entry.items():
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue
            source = op.get("Item") if op_type == "Put" else op.get("Key")
            try:
                hash_key, range_key = _key_values(table, source or {})
            except (KeyError, TypeError, AttributeError):
                continue  # moto refuses the request; nothing it changes
            item = table.get_item(hash_key, range_key)
            saved.append((table, hash_key, range_key, copy.deepcopy(item)))
    return saved


def _restore(saved: list[Any]) -> None:
    for table, hash_key, range_key, item in reversed(saved):
        if item is None:
            if table.get_item(hash_key, range_key) is not None:
                table.delete_item(hash_key, range_key)
        elif range_key is not None:
            table.items[hash_key][range_key] = item
        else:
            table.items[hash_key] = item


def install() -> None:
    """Patch moto's DynamoDB writes (once): every write under the lock, and transactions with
    item-level rollback."""
    with _installed:
        if _originals:
            return
        _originals.update({method: getattr(DynamoDBBackend, method) for method in _WRITES})
        original = _originals["transact_write_items"]

        @functools.wraps(original)
        def transact_write_items(
            self: DynamoDBBackend, transact_items: list[dict[str, Any]]
        ) -> None:
            saved = _snapshot(self, transact_items)
            try:
                original(self, transact_items)
            except Exception:
                _restore(saved)
                raise

        replaced = {**_originals, "transact_write_items": transact_write_items}
        for method, implementation in replaced.items():
            setattr(DynamoDBBackend, method, _locked(implementation))
        # moto's module reaches ``copy`` through its own namespace: only its table copy changes.
        vars(_models)["copy"] = types.SimpleNamespace(deepcopy=_deepcopy, copy=copy.copy)
