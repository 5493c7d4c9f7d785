"""The instruments store on DynamoDB: the ``instruments`` table (``exchange.tables.instruments``).

``put`` writes the version's item and ``current`` in one ``TransactWriteItems``, each under its
condition: the version's item must not exist, and ``current`` must hold the version before it
(or, for version 1, not exist). DynamoDB applies both or neither, so two operators cannot both
write version N, and a failed condition leaves nothing behind. ``current`` is updated in place,
not replaced, so the status the recorder wrote survives a change.

``listings`` is a Scan of the table with a filter on ``record = "current"``: a Scan reads (and
is billed for) every item, versions included, before the filter drops them. With dozens of
symbols and a few versions each that is one page of a few KB, so about one read unit per
refresh (eventually consistent), every 5 s per warm container; a table grown to thousands of
versions would want a sparse index of the ``current`` items instead.

In a global table, conditions are checked in the region that takes the write; the admin API
writes in one region only (the primary), so the version check holds across regions too.
"""

import random
import time
from collections.abc import Callable
from typing import Final

from botocore.exceptions import BotoCoreError
from pydantic import ValidationError
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from exchange.domain.enums import InstrumentStatus
from exchange.domain.instruments import Instrument, InstrumentCatalog
from exchange.instruments.errors import InstrumentStoreUnavailable, VersionConflict
from exchange.instruments.model import Listing, definition
from exchange.instruments.store import next_version_check, seed_store
from exchange.messaging import ShardMap
from exchange.tables import (
    CURRENT,
    InstrumentRecord,
    condition_failed,
    transaction_connection,
    version_record,
)

_ATTEMPTS: Final = 5
_BACKOFF_S: Final = 0.02
_CONDITION_FAILED: Final = "ConditionalCheckFailed"
_CONFLICTS: Final = frozenset({"TransactionConflict", "TransactionConflictException"})
_UNAVAILABLE: Final = (PynamoDBException, BotoCoreError)


class DynamoInstrumentStore:
    def __init__(
        self,
        *,
        clock: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep

    def listings(self) -> list[Listing]:
        try:
            rows = InstrumentRecord.scan(InstrumentRecord.record == CURRENT)
            return [_listing(row) for row in rows]
        except _UNAVAILABLE as exc:
            raise InstrumentStoreUnavailable(f"listing instruments: {exc}") from exc

    def get(self, symbol: str) -> Listing | None:
        try:
            return _listing(InstrumentRecord.get(symbol, CURRENT, consistent_read=True))
        except DoesNotExist:
            return None
        except _UNAVAILABLE as exc:
            raise InstrumentStoreUnavailable(f"reading {symbol}'s listing: {exc}") from exc

    def history(self, symbol: str) -> list[Listing]:
        try:
            rows = InstrumentRecord.query(
                symbol, InstrumentRecord.record.startswith("v#"), consistent_read=True
            )
            return [_listing(row) for row in rows]
        except _UNAVAILABLE as exc:
            raise InstrumentStoreUnavailable(f"reading {symbol}'s versions: {exc}") from exc

    def put(
        self,
        instrument: Instrument,
        *,
        shard: str,
        version: int,
        actor: str,
        reason: str,
        now_ns: int | None = None,
    ) -> Listing:
        current = self.get(instrument.symbol)
        next_version_check(current, instrument, shard, version)
        written = Listing(
            instrument=instrument,
            version=version,
            shard=shard,
            status=instrument.status if current is None else current.status,
            status_seq=0 if current is None else current.status_seq,
            actor=actor,
            reason=reason,
            created_ns=self._clock() if now_ns is None else now_ns,
        )
        for attempt in range(_ATTEMPTS):
            try:
                with TransactWrite(connection=_connection()) as transaction:
                    _write(transaction, written, new=current is None)
                return written
            except TransactWriteError as exc:
                codes = {reason.code if reason else None for reason in exc.cancellation_reasons}
                if _CONDITION_FAILED in codes:
                    raise VersionConflict(
                        f"{instrument.symbol}: version {version} was written by someone else"
                    ) from exc
                if not codes & _CONFLICTS:
                    raise InstrumentStoreUnavailable(f"writing {instrument.symbol}: {exc}") from exc
            except _UNAVAILABLE as exc:
                raise InstrumentStoreUnavailable(f"writing {instrument.symbol}: {exc}") from exc
            # Another transaction held one of the items (a status update, say): try again.
            self._sleep(_BACKOFF_S * 2**attempt * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
        raise InstrumentStoreUnavailable(f"{instrument.symbol} kept changing; retry")

    def set_status(self, symbol: str, status: InstrumentStatus, seq: int) -> bool:
        later = InstrumentRecord.status_seq.does_not_exist() | (InstrumentRecord.status_seq < seq)
        return self._update_current(
            symbol,
            [InstrumentRecord.status.set(status.value), InstrumentRecord.status_seq.set(seq)],
            InstrumentRecord.version.exists() & later,
        )

    def mark_listed(self, symbol: str, version: int, seq: int) -> bool:
        return self._update_current(
            symbol, [InstrumentRecord.listed_seq.set(seq)], InstrumentRecord.version == version
        )

    def seed(self, catalog: InstrumentCatalog, shards: ShardMap, *, now_ns: int) -> int:
        return seed_store(self, catalog, shards, now_ns=now_ns)

    @staticmethod
    def _update_current(symbol: str, actions: list[Action], condition: Condition) -> bool:
        try:
            InstrumentRecord(symbol, CURRENT).update(actions=actions, condition=condition)
        except PynamoDBException as exc:
            if condition_failed(exc):
                return False
            raise InstrumentStoreUnavailable(f"updating {symbol}'s listing: {exc}") from exc
        except BotoCoreError as exc:
            raise InstrumentStoreUnavailable(f"updating {symbol}'s listing: {exc}") from exc
        return True


def _write(transaction: TransactWrite, listing: Listing, *, new: bool) -> None:
    """The version's item and ``current``, each under its condition."""
    symbol, version = listing.symbol, listing.version
    text = definition(listing.instrument)

    def item(record: str) -> InstrumentRecord:
        return InstrumentRecord(
            symbol,
            record,
            version=version,
            definition=text,
            shard=listing.shard,
            actor=listing.actor,
            reason=listing.reason,
            created_ns=listing.created_ns,
        )

    absent = InstrumentRecord.symbol.does_not_exist()
    transaction.save(item(version_record(version)), condition=absent)
    if new:
        current = item(CURRENT)
        current.status, current.status_seq = listing.status.value, 0
        transaction.save(current, condition=absent)
        return
    transaction.update(
        InstrumentRecord(symbol, CURRENT),
        actions=[
            InstrumentRecord.version.set(version),
            InstrumentRecord.definition.set(text),
            InstrumentRecord.shard.set(listing.shard),
            InstrumentRecord.actor.set(listing.actor),
            InstrumentRecord.reason.set(listing.reason),
            InstrumentRecord.created_ns.set(listing.created_ns),
            InstrumentRecord.listed_seq.remove(),  # the new version is not listed yet
        ],
        condition=InstrumentRecord.version == version - 1,
    )


def _listing(row: InstrumentRecord) -> Listing:
    try:
        instrument = Instrument.model_validate_json(row.definition)
    except ValidationError as exc:
        raise InstrumentStoreUnavailable(
            f"{row.symbol} {row.record} is not a valid instrument: {exc}"
        ) from exc
    return Listing(
        instrument=instrument,
        version=int(row.version),
        shard=row.shard,
        # A version's item has no status: its definition's (the status it was listed with).
        status=InstrumentStatus(row.status) if row.status else instrument.status,
        status_seq=int(row.status_seq or 0),
        listed_seq=None if row.listed_seq is None else int(row.listed_seq),
        actor=row.actor,
        reason=row.reason or "",
        created_ns=int(row.created_ns),
    )


def _connection() -> Connection:
    return transaction_connection(InstrumentRecord)
