"""The placement guards on DynamoDB's ``order_keys`` table: a key's claim and the account's
open-order counter change together in one transaction, each under its condition (the claim
absent, the counter below the cap), so concurrent placements can neither make two orders for one
key nor go past the cap.

The recorder takes a slot back when it moves an order to a final status, in the same transaction
as that (conditional) move: ``recorder_dynamo``.
"""

import random
import time
from collections.abc import Callable
from typing import Final

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection, TableConnection
from pynamodb.exceptions import PynamoDBException, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from exchange.orders.errors import StoreUnavailable, TooManyOpenOrders
from exchange.orders.keys import KeyClaim, OrderKeys
from exchange.tables import (
    OPEN_ORDERS_KEY,
    OrderKeyRecord,
    condition_failed,
    order_key,
    transaction_connection,
)

# DynamoDB cancels one of two transactions that touch the same item at once (the account's
# counter, for concurrent placements): retried a few times, with jitter.
_ATTEMPTS: Final = 6
_BACKOFF_S: Final = 0.02
_CONFLICTS: Final = frozenset({"TransactionConflict", "TransactionConflictException"})


class KeyClaimRecord(OrderKeyRecord):
    """A key's claim: the ``order_keys`` item with what a resumed placement must rebuild its
    ``NewOrder`` from (the table is schemaless beyond its keys, so the model adds them here)."""

    fingerprint = UnicodeAttribute(null=True)
    protection_price = NumberAttribute(null=True)

    @classmethod
    def _get_connection(cls) -> TableConnection:
        # The parent's, which ``bind_tables`` rebinds: a connection cached here would not follow.
        return OrderKeyRecord._get_connection()


def _counter(account_id: str) -> OrderKeyRecord:
    return OrderKeyRecord(account_id, OPEN_ORDERS_KEY)


def _room(max_open: int) -> Condition:
    room: Condition = OrderKeyRecord.open_orders.does_not_exist() | (
        OrderKeyRecord.open_orders < max_open
    )
    return room


def _full(max_open: int) -> TooManyOpenOrders:
    return TooManyOpenOrders(
        f"the account has {max_open} open orders, the most allowed; cancel some first"
    )


class DynamoOrderKeys(OrderKeys):
    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sleep = sleep

    def claim(self, account_id: str, key: str, claim: KeyClaim, *, max_open: int) -> KeyClaim:
        item = KeyClaimRecord(
            account_id,
            order_key(key),
            order_id=claim.order_id,
            fingerprint=claim.fingerprint,
            created_ns=claim.created_ns,
            protection_price=claim.protection_price,
        )

        def write(transaction: TransactWrite) -> None:
            transaction.save(item, condition=KeyClaimRecord.key.does_not_exist())
            transaction.update(
                _counter(account_id),
                actions=[OrderKeyRecord.open_orders.add(1)],
                condition=_room(max_open),
            )

        refused = self._transact(write, f"key {key!r} was not claimed")
        if refused is None:
            return claim
        claimed, full = refused
        if claimed:
            return self._existing(account_id, key)
        if full:
            raise _full(max_open)
        raise StoreUnavailable(f"key {key!r} was not claimed: the transaction was refused")

    def take_slot(self, account_id: str, *, max_open: int) -> None:
        for attempt in range(_ATTEMPTS):
            try:
                _counter(account_id).update(
                    actions=[OrderKeyRecord.open_orders.add(1)], condition=_room(max_open)
                )
                return
            except UpdateError as exc:
                if condition_failed(exc):
                    raise _full(max_open) from exc
                if exc.cause_response_code not in _CONFLICTS or attempt == _ATTEMPTS - 1:
                    raise StoreUnavailable(f"no open-order slot was taken: {exc}") from exc
                self._backoff(attempt)

    def give_back(self, account_id: str, key: str | None) -> None:
        def write(transaction: TransactWrite) -> None:
            if key is not None:
                # Conditional: a claim is given back once, so the counter drops once.
                transaction.delete(
                    KeyClaimRecord(account_id, order_key(key)),
                    condition=KeyClaimRecord.key.exists(),
                )
            transaction.update(
                _counter(account_id),
                actions=[OrderKeyRecord.open_orders.add(-1)],
                condition=OrderKeyRecord.open_orders > 0,
            )

        refused = self._transact(write, "the open-order slot was not given back")
        if refused is not None and key is not None and not refused[0]:
            # The counter was at zero already (an order placed before it was kept): the claim
            # must still go, or a retry would resume an order that holds nothing.
            try:
                KeyClaimRecord(account_id, order_key(key)).delete()
            except PynamoDBException as exc:
                raise StoreUnavailable(f"key {key!r} was not given back") from exc

    def _existing(self, account_id: str, key: str) -> KeyClaim:
        try:
            row = KeyClaimRecord.get(account_id, order_key(key), consistent_read=True)
        except PynamoDBException as exc:
            raise StoreUnavailable(f"key {key!r} is claimed but could not be read") from exc
        if row.order_id is None or row.fingerprint is None or row.created_ns is None:
            raise StoreUnavailable(f"key {key!r} is claimed by an incomplete item")
        return KeyClaim(
            order_id=row.order_id,
            fingerprint=row.fingerprint,
            created_ns=int(row.created_ns),
            protection_price=None if row.protection_price is None else int(row.protection_price),
        )

    def _transact(
        self, write: Callable[[TransactWrite], None], what: str
    ) -> tuple[bool, ...] | None:
        """Run the transaction; None when it committed, else which of its items' conditions
        failed (in the order ``write`` added them)."""
        for attempt in range(_ATTEMPTS):
            try:
                with TransactWrite(connection=_connection()) as transaction:
                    write(transaction)
                return None
            except TransactWriteError as exc:
                codes = [reason.code if reason else None for reason in exc.cancellation_reasons]
                if not any(code in _CONFLICTS for code in codes) or attempt == _ATTEMPTS - 1:
                    if "ConditionalCheckFailed" in codes:
                        return tuple(code == "ConditionalCheckFailed" for code in codes)
                    raise StoreUnavailable(f"{what}: {exc}") from exc
                self._backoff(attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _backoff(self, attempt: int) -> None:
        self._sleep(_BACKOFF_S * 2**attempt * random.uniform(0.5, 1.5))  # noqa: S311 - jitter


def _connection() -> Connection:
    return transaction_connection(OrderKeyRecord)
