"""Snapshot stores: Redis (fast, and the L2 views the API reads), S3 (durable, replicated to the
DR region), and a composite that writes to both and loads the newest."""

from collections.abc import Sequence
from typing import Any

import redis
from botocore.exceptions import ClientError

from engine_service.ports import SnapshotStore
from engine_service.snapshot import decode_snapshot
from exchange.l2 import L2Book, book_key, encode_book
from exchange.observability import logger


def snapshot_key(shard: str) -> str:
    return f"engine:snapshot:{shard}"


class RedisSnapshotStore:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def save(self, shard: str, snapshot: bytes) -> None:
        self._client.set(snapshot_key(shard), snapshot)

    def load(self, shard: str) -> bytes | None:
        value = self._client.get(snapshot_key(shard))
        return bytes(value) if value is not None else None  # type: ignore[arg-type]

    def publish_books(self, books: Sequence[L2Book]) -> None:
        """Write each symbol's L2 view in one round trip."""
        with self._client.pipeline(transaction=False) as pipe:
            for book in books:
                pipe.set(book_key(book.symbol), encode_book(book))
            pipe.execute()


class S3SnapshotStore:
    """``snapshots/<shard>/latest.bin``; the bucket's versioning keeps the history."""

    def __init__(self, client: Any, bucket: str, prefix: str = "snapshots") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def _key(self, shard: str) -> str:
        return f"{self._prefix}/{shard}/latest.bin"

    def save(self, shard: str, snapshot: bytes) -> None:
        self._client.put_object(Bucket=self._bucket, Key=self._key(shard), Body=snapshot)

    def load(self, shard: str) -> bytes | None:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=self._key(shard))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise
        body: bytes = response["Body"].read()
        return body


class CompositeSnapshotStore:
    """Saves to every store; loads the newest snapshot any of them has (by progress)."""

    def __init__(self, stores: Sequence[SnapshotStore]) -> None:
        self._stores = list(stores)

    def save(self, shard: str, snapshot: bytes) -> None:
        for store in self._stores:
            store.save(shard, snapshot)

    def load(self, shard: str) -> bytes | None:
        best: tuple[int, bytes] | None = None
        for store in self._stores:
            try:
                payload = store.load(shard)
            except (redis.RedisError, ClientError) as exc:
                logger.warning(
                    "snapshot store unreadable",
                    extra={"store": type(store).__name__, "error": repr(exc)},
                )
                continue
            if payload is None:
                continue
            progress = decode_snapshot(payload).progress
            if best is None or progress > best[0]:
                best = (progress, payload)
        return best[1] if best else None
