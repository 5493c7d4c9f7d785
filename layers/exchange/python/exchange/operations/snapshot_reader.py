"""Each shard's newest snapshot as the reconciliation reads it: Redis first, its MAC verified with
the engine's key exactly as the engine's own loader does (``exchange.snapshots``), else S3.

A copy that cannot be read (the store down, no copy) or must not be trusted (the MAC does not
verify, it does not decode, it is another shard's) is passed over and named in the report's
``problems``; a refused one is logged as an error, as the engine logs it.
"""

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Protocol

import msgspec
import redis
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from exchange.domain.engine_state import READABLE_VERSIONS, BookState, EngineState
from exchange.domain.enums import InstrumentStatus
from exchange.domain.errors import ConfigurationError
from exchange.domain.instruments import Instrument
from exchange.observability import logger
from exchange.operations.model import EngineOrder, ShardBooks
from exchange.snapshots import (
    S3_PREFIX,
    KeyProvider,
    ShardSnapshot,
    SnapshotRefused,
    s3_snapshot_key,
    snapshot_key,
    trusted_snapshot,
    verify,
)

# What a store's client raises when it is unreachable or refuses; also the key's source (the
# secret). botocore's errors are ClientError and BotoCoreError.
_REDIS_ERRORS: Final = (redis.RedisError, ClientError, BotoCoreError, ConfigurationError)
_S3_ERRORS: Final = (ClientError, BotoCoreError)
_NOT_FOUND: Final = frozenset({"NoSuchKey", "404"})
_engine_state: Final = msgspec.msgpack.Decoder(EngineState)


class RedisReader(Protocol):
    """The one call made of a ``redis.Redis``."""

    def get(self, name: str) -> Any: ...


class SnapshotBooks:
    """``EngineBooks`` over the engine's snapshot stores. Either store may be left out (None)."""

    def __init__(
        self,
        shards: Sequence[str],
        *,
        redis_client: RedisReader | None,
        key: KeyProvider | None,
        s3: Any | None,
        bucket: str | None,
        prefix: str = S3_PREFIX,
    ) -> None:
        self._shards = list(shards)
        self._redis = redis_client if key is not None else None
        self._key = key
        self._s3 = s3 if bucket else None
        self._bucket = bucket
        self._prefix = prefix

    def shards(self) -> list[ShardBooks]:
        return [self._shard(shard) for shard in self._shards]

    def _shard(self, shard: str) -> ShardBooks:
        problems: list[str] = []
        stores = (("redis", self._from_redis, _REDIS_ERRORS), ("s3", self._from_s3, _S3_ERRORS))
        for store, read, errors in stores:
            try:
                found = read(shard)
            except errors as exc:
                problems.append(f"{store} unavailable: {type(exc).__name__}: {exc}")
                continue
            except SnapshotRefused as exc:
                problems.append(f"{store} snapshot refused: {exc}")
                logger.error("snapshot refused", extra={"store": store, "shard": shard})
                continue
            if found is not None:
                return replace(found, problems=tuple(problems))
        logger.warning("no snapshot of shard", extra={"shard": shard, "problems": problems})
        return ShardBooks(shard, None, problems=tuple(problems))

    def _from_redis(self, shard: str) -> ShardBooks | None:
        if self._redis is None or self._key is None:
            return None
        value = self._redis.get(snapshot_key(shard))
        if value is None:
            return None
        assert isinstance(value, bytes)  # noqa: S101 - a client without decode_responses
        return books(trusted_snapshot(shard, verify(self._key(), shard, value)), "redis")

    def _from_s3(self, shard: str) -> ShardBooks | None:
        if self._s3 is None:
            return None
        try:
            response = self._s3.get_object(
                Bucket=self._bucket, Key=s3_snapshot_key(shard, self._prefix)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _NOT_FOUND:
                return None
            raise
        body: bytes = response["Body"].read()
        return books(trusted_snapshot(shard, body), "s3", taken=response["LastModified"])


def books(snapshot: ShardSnapshot, source: str, *, taken: datetime | None = None) -> ShardBooks:
    """What the reconciliation needs of a trusted snapshot: open orders (resting and held
    stops), seqs, statuses and lot sizes. ``taken``: the store's time, when the snapshot has
    none of its own. SnapshotRefused when its engine state does not decode."""
    try:
        state = _engine_state.decode(snapshot.engine_state)
    except msgspec.DecodeError as exc:
        raise SnapshotRefused(f"engine state does not decode: {exc}") from exc
    if state.version not in READABLE_VERSIONS:
        raise SnapshotRefused(f"engine state version {state.version}, not {READABLE_VERSIONS}")
    orders = tuple(
        EngineOrder(order.order_id, order.account_id, book.symbol, order.qty - order.filled)
        for book in state.books
        for order in (*book.resting, *book.stops)
    )
    statuses: dict[str, InstrumentStatus] = {}
    lot_sizes: dict[str, Decimal] = {}
    for book in state.books:
        instrument = _instrument(book)
        status = book.status or (instrument.status if instrument else None)
        if status is not None:
            statuses[book.symbol] = status
        if instrument is not None:
            lot_sizes[book.symbol] = instrument.lot_size
    if snapshot.taken_ns:
        taken = datetime.fromtimestamp(snapshot.taken_ns // 1_000_000_000, tz=UTC)
    return ShardBooks(
        shard=snapshot.shard,
        source=source,
        seqs=dict(snapshot.seqs),
        orders=orders,
        statuses=statuses,
        lot_sizes=lot_sizes,
        taken=taken,
    )


def _instrument(book: BookState) -> Instrument | None:
    """The instrument in force the snapshot carries (version 3), if any."""
    if not book.instrument:
        return None
    try:
        return Instrument.model_validate_json(book.instrument)
    except ValidationError:
        logger.warning("snapshot instrument does not validate", extra={"symbol": book.symbol})
        return None
