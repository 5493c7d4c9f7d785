"""Snapshot stores: S3 (durable, replicated to the DR region), Redis (fast), the L2 views the API
reads (Redis), and a composite that writes to every store and loads the newest trustworthy one.

**Trust.** Recovery loads whichever snapshot has the larger seqs, and what it loads becomes the
book. S3 is written only by the engine's task role. Redis is not the engine's alone: the
public-facing functions (markets, WebSocket, fan-out) reach the same cache to read and keep the L2
books, so whoever controls one of them could write a book of their own making into
``engine:snapshot:<shard>``. The Redis snapshot is therefore signed: HMAC-SHA256, under a key only
the engine task can read (a Secrets Manager secret in AWS, a key generated per stack locally), over
the shard id and the snapshot. A value whose MAC does not verify is refused: logged, counted, and
the S3 snapshot is loaded instead. We sign rather than load from S3 only because Redis still
answers when S3 does not, at the one moment a snapshot matters (a restart), and it is the faster
read of a big book; signed, it is as trustworthy as S3. Rotating the key costs nothing: a snapshot
signed with the old key is refused once and S3's is loaded. The ``book:<symbol>`` L2 views stay
unsigned: the API reads them, and they never flow back into the engine.

**Availability.** A snapshot is an optimisation (the journal is the record), so no store may stop
the engine. Each store fails fast: short client timeouts, no client retries, and after a failure
its calls fail at once for ``retry_after_s`` (``Breaker``), so an outage costs one timeout per
interval rather than one per snapshot. Failures surface as ``SnapshotStoreUnavailable``; the
composite and the runtime record them in ``StoreHealth`` (health ``degraded``, the
``SnapshotStoreFailures`` metric) and go on.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import redis
from botocore.exceptions import BotoCoreError, ClientError

from engine_service.ports import (
    SnapshotRefused,
    SnapshotStore,
    SnapshotStoreUnavailable,
    StoreHealth,
)
from exchange.domain import ConfigurationError
from exchange.l2 import L2Book, book_key, encode_book
from exchange.observability import logger

# The key names, the MAC framing and the envelope are the layer's (``exchange.snapshots``), which
# the reconciliation reads snapshots with.
from exchange.snapshots import (
    S3_PREFIX,
    KeyProvider,
    s3_snapshot_key,
    sign,
    snapshot_key,
    trusted_snapshot,
    verify,
)

DEFAULT_RETRY_AFTER_S: Final = 30.0
# What a store's client raises when its service is unreachable or refuses; also the key's source.
_REDIS_ERRORS: Final = (redis.RedisError, ClientError, BotoCoreError, ConfigurationError)
_S3_ERRORS: Final = (ClientError, BotoCoreError)


class Breaker:
    """Runs a store's calls; after one fails, fails the next ones at once for ``retry_after_s``.

    >>> now = [0.0]
    >>> breaker = Breaker("redis", (OSError,), retry_after_s=30, clock=lambda: now[0])
    >>> breaker.call(lambda: 1)
    1
    >>> def down() -> int:
    ...     raise OSError("refused")
    >>> breaker.call(down)
    Traceback (most recent call last):
    engine_service.ports.SnapshotStoreUnavailable: redis unavailable: OSError('refused')
    >>> now[0] = 10.0; breaker.call(lambda: 1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    engine_service.ports.SnapshotStoreUnavailable: redis not tried (failed 10 s ago): ...
    >>> now[0] = 31.0; breaker.call(lambda: 1)
    1
    """

    def __init__(
        self,
        name: str,
        errors: tuple[type[BaseException], ...],
        *,
        retry_after_s: float = DEFAULT_RETRY_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = name
        self._errors = errors
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._failed_at: float | None = None
        self._error = ""

    def call[T](self, work: Callable[[], T]) -> T:
        now = self._clock()
        if self._failed_at is not None and now - self._failed_at < self._retry_after_s:
            raise SnapshotStoreUnavailable(
                f"{self._name} not tried (failed {now - self._failed_at:.0f} s ago): {self._error}"
            )
        try:
            result = work()
        except self._errors as exc:
            self._failed_at, self._error = now, repr(exc)
            raise SnapshotStoreUnavailable(f"{self._name} unavailable: {exc!r}") from exc
        self._failed_at = None
        return result


class RedisSnapshotStore:
    """``engine:snapshot:<shard>`` in Redis, signed with ``key`` (see the module docstring)."""

    def __init__(
        self,
        client: redis.Redis,
        key: KeyProvider,
        *,
        retry_after_s: float = DEFAULT_RETRY_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._key = key
        self._breaker = Breaker("redis", _REDIS_ERRORS, retry_after_s=retry_after_s, clock=clock)

    def save(self, shard: str, snapshot: bytes) -> None:
        def write() -> None:
            self._client.set(snapshot_key(shard), sign(self._key(), shard, snapshot))

        self._breaker.call(write)

    def load(self, shard: str) -> bytes | None:
        def read() -> tuple[bytes, Any]:
            return self._key(), self._client.get(snapshot_key(shard))

        key, value = self._breaker.call(read)
        return None if value is None else verify(key, shard, bytes(value))


class RedisBookPublisher:
    """Each symbol's L2 view under ``book:<symbol>``, for the API; best-effort like the store."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        retry_after_s: float = DEFAULT_RETRY_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._breaker = Breaker("books", _REDIS_ERRORS, retry_after_s=retry_after_s, clock=clock)

    def publish_books(self, books: Sequence[L2Book]) -> None:
        """Write each symbol's L2 view in one round trip."""

        def write() -> None:
            with self._client.pipeline(transaction=False) as pipe:
                for book in books:
                    pipe.set(book_key(book.symbol), encode_book(book))
                pipe.execute()

        self._breaker.call(write)


class S3SnapshotStore:
    """``snapshots/<shard>/latest.bin``; the bucket's versioning keeps the history."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = S3_PREFIX,
        *,
        retry_after_s: float = DEFAULT_RETRY_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        self._breaker = Breaker("s3", _S3_ERRORS, retry_after_s=retry_after_s, clock=clock)

    def _key(self, shard: str) -> str:
        return s3_snapshot_key(shard, self._prefix)

    def save(self, shard: str, snapshot: bytes) -> None:
        def write() -> None:
            self._client.put_object(Bucket=self._bucket, Key=self._key(shard), Body=snapshot)

        self._breaker.call(write)

    def load(self, shard: str) -> bytes | None:
        def read() -> bytes | None:
            try:
                response = self._client.get_object(Bucket=self._bucket, Key=self._key(shard))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                    return None
                raise
            body: bytes = response["Body"].read()
            return body

        return self._breaker.call(read)


class CompositeSnapshotStore:
    """Saves to every store it can; loads the newest trustworthy snapshot any of them has (by
    failover epoch, then progress: after a failover, a snapshot the old region took late and S3
    replicated over this region's never wins over this region's own). A store that fails or
    holds a refused snapshot is logged and recorded in ``health``, and the others serve."""

    def __init__(
        self, stores: Mapping[str, SnapshotStore], *, health: StoreHealth | None = None
    ) -> None:
        self._stores = dict(stores)
        self.health = health or StoreHealth()

    def save(self, shard: str, snapshot: bytes) -> None:
        """Raises SnapshotStoreUnavailable only when no store took the snapshot."""
        saved = 0
        for name, store in self._stores.items():
            try:
                store.save(shard, snapshot)
            except SnapshotStoreUnavailable as exc:
                self._failed(name, shard, exc)
            else:
                saved += 1
                self.health.worked(name)
        if self._stores and not saved:
            raise SnapshotStoreUnavailable(f"no store took the snapshot: {sorted(self._stores)}")

    def load(self, shard: str) -> bytes | None:
        best: tuple[tuple[int, int], bytes] | None = None
        for name, store in self._stores.items():
            try:
                payload = store.load(shard)
                if payload is None:
                    continue
                trusted = trusted_snapshot(shard, payload)
                rank = (trusted.epoch, trusted.progress)
            except SnapshotStoreUnavailable as exc:
                self._failed(name, shard, exc)
                continue
            except SnapshotRefused as exc:
                self.health.refused_snapshot(name, str(exc))
                logger.error(
                    "snapshot refused",
                    extra={"store": name, "shard": shard, "reason": str(exc)},
                )
                continue
            if best is None or rank > best[0]:
                best = (rank, payload)
        return best[1] if best else None

    def _failed(self, name: str, shard: str, exc: SnapshotStoreUnavailable) -> None:
        self.health.failed(name, str(exc))
        logger.warning(
            "snapshot store unavailable", extra={"store": name, "shard": shard, "error": str(exc)}
        )


# sign, verify and snapshot_key are the layer's (exchange.snapshots); re-exported for callers.
__all__ = [
    "DEFAULT_RETRY_AFTER_S",
    "Breaker",
    "CompositeSnapshotStore",
    "KeyProvider",
    "RedisBookPublisher",
    "RedisSnapshotStore",
    "S3SnapshotStore",
    "sign",
    "snapshot_key",
    "verify",
]
