"""The admin chains on DynamoDB (the ``audit`` table).

``append`` writes one entry per partition in one ``TransactWriteItems``, each put under
``attribute_not_exists(seq)``: a freeze's ``operators`` entry and its ``account#<id>`` entry are
both written or neither. When another writer took one of those seqs first (or the transaction
conflicted with one), every head is read again and the transaction retried, so a chain never
forks and never skips a seq.
"""

import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Final

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from exchange.apikeys.audit import Chained, next_entry
from exchange.journal.audit import AuditEntry, AuditLink
from exchange.journal.audit_log import audit_entries, audit_row
from exchange.orders.errors import StoreUnavailable
from exchange.tables import AuditRecord, transaction_connection

_ATTEMPTS: Final = 8
_BACKOFF_S: Final = 0.01
_RACED: Final = frozenset(
    {"ConditionalCheckFailed", "TransactionConflict", "TransactionConflictException"}
)


class DynamoAuditChains:
    def __init__(self, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sleep = sleep

    def append(self, events: Sequence[Chained], *, now_ns: int) -> list[AuditEntry]:
        partitions = [event.partition for event in events]
        if len(set(partitions)) != len(partitions):
            raise ValueError(f"one event per partition in a transaction, got {partitions}")
        for attempt in range(_ATTEMPTS):
            entries = [next_entry(_head(e.partition), e, now_ns=now_ns) for e in events]
            try:
                with TransactWrite(connection=_connection()) as transaction:
                    for entry in entries:
                        transaction.save(
                            audit_row(entry), condition=AuditRecord.seq.does_not_exist()
                        )
                return entries
            except TransactWriteError as exc:
                codes = {reason.code for reason in exc.cancellation_reasons if reason}
                if not codes & _RACED:
                    raise StoreUnavailable(f"writing the audit log: {exc}") from exc
            except PynamoDBException as exc:
                raise StoreUnavailable(f"writing the audit log: {exc}") from exc
            self._sleep(_BACKOFF_S * 2**attempt * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
        raise StoreUnavailable(f"the audit chains {partitions} kept changing; retry")

    def newest(self, partition: str, *, limit: int, before_seq: int | None) -> list[AuditEntry]:
        condition = None if before_seq is None else AuditRecord.seq < before_seq
        try:
            rows = AuditRecord.query(
                partition,
                range_key_condition=condition,
                scan_index_forward=False,
                limit=limit,
                consistent_read=True,
            )
            return [_entry(row) for row in rows]
        except PynamoDBException as exc:
            raise StoreUnavailable(f"reading the audit log: {exc}") from exc

    def entries(self, partition: str) -> Iterator[AuditEntry]:
        try:
            yield from audit_entries(partition)
        except PynamoDBException as exc:
            raise StoreUnavailable(f"reading the audit log: {exc}") from exc


def _head(partition: str) -> AuditLink | None:
    try:
        rows = AuditRecord.query(partition, scan_index_forward=False, limit=1, consistent_read=True)
        for row in rows:
            return AuditLink(int(row.seq), row.hash)
    except PynamoDBException as exc:
        raise StoreUnavailable(f"reading the audit log's head: {exc}") from exc
    return None


def _connection() -> Connection:
    return transaction_connection(AuditRecord)


def _entry(row: AuditRecord) -> AuditEntry:
    return AuditEntry(
        symbol=row.symbol,
        seq=int(row.seq),
        kind=row.kind,
        payload=bytes(row.payload),
        prev_hash=row.prev_hash,
        hash=row.hash,
        recorded_ns=int(row.recorded_ns),
    )
