"""The engine's saved snapshot: its envelope and the signed framing of its Redis copy.

The engine writes them (``engine_service.adapters.snapshots``) and the reconciliation reads them
(``exchange.operations``), so both use this one codec: a Lambda function ships only the layer.

**Envelope.** ``ShardSnapshot`` (msgpack): the shard, each symbol's last seq, the journal
position to replay from and the engine's state (``exchange.domain.engine_state``, itself msgpack).

**Redis framing.** ``engine:snapshot:<shard>`` holds ``MAC || snapshot``: HMAC-SHA256 under a key
only the engine writes with, over a context string, the shard id and the snapshot, so a value
written by anyone else who reaches the cache (or one shard's snapshot posing as another's) is
refused (``SnapshotRefused``). Why Redis is signed and S3 is not: the engine adapter's docstring.
The S3 copy is the bare snapshot at ``snapshots/<shard>/latest.bin``.
"""

import hashlib
import hmac
from collections.abc import Callable
from typing import Final

import msgspec

from exchange.aws import CachedSecret, SecretsClient
from exchange.settings import SnapshotStoreSettings

KeyProvider = Callable[[], bytes]  # the HMAC key, e.g. a CachedSecret
SNAPSHOT_FORMAT: Final = 1
MAC_BYTES: Final = 32
S3_PREFIX: Final = "snapshots"
_MAC_CONTEXT: Final = b"exchange engine snapshot\x00"


class SnapshotRefused(Exception):
    """A stored snapshot is not trustworthy (its MAC does not verify, it does not decode, or it
    belongs to another shard); it is never loaded."""


class JournalPosition(msgspec.Struct, frozen=True):
    """Where the journal stood after a write: the last sequence number per stream shard."""

    sequence_numbers: dict[str, str] = {}

    def advanced(self, other: "JournalPosition") -> "JournalPosition":
        return JournalPosition({**self.sequence_numbers, **other.sequence_numbers})


class ShardSnapshot(msgspec.Struct, frozen=True):
    """What a saved snapshot holds: the engine's state, the seq it reflects per symbol, and the
    journal position to replay from. ``taken_ns`` (wall clock; 0: not recorded, as in snapshots
    older than the field) only tells a reader how old it is."""

    format: int
    shard: str
    seqs: dict[str, int]
    position: JournalPosition
    engine_state: bytes
    taken_ns: int = 0
    # The failover epoch of the engine that took it (``engine_service.fence``); 0 in snapshots
    # older than the field. A snapshot of an older epoch than the engine's was taken in the other
    # region: its ``position`` names that region's stream, and recovery promotes from it.
    epoch: int = 0

    @property
    def progress(self) -> int:
        """Grows with every event: the newest of two snapshots has the larger progress."""
        return sum(self.seqs.values())


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ShardSnapshot)


def encode_snapshot(snapshot: ShardSnapshot) -> bytes:
    return _encoder.encode(snapshot)


def decode_snapshot(payload: bytes) -> ShardSnapshot:
    """Raises ValueError (msgspec's decode errors are ValueErrors) for bytes that are not a
    snapshot of this format."""
    snapshot = _decoder.decode(payload)
    if snapshot.format != SNAPSHOT_FORMAT:
        raise ValueError(f"snapshot format {snapshot.format}, expected {SNAPSHOT_FORMAT}")
    return snapshot


def snapshot_key(shard: str) -> str:
    """The Redis key of a shard's signed snapshot."""
    return f"engine:snapshot:{shard}"


def s3_snapshot_key(shard: str, prefix: str = S3_PREFIX) -> str:
    """The S3 key of a shard's snapshot (the bucket's versioning keeps the history)."""
    return f"{prefix}/{shard}/latest.bin"


def signing_key(
    settings: SnapshotStoreSettings, secrets: Callable[[], SecretsClient]
) -> KeyProvider | None:
    """The Redis snapshot's HMAC key: the local key as it is, or the secret's value (read on
    first use and re-read every five minutes, so a rotated key is picked up); None without
    either."""
    if settings.snapshot_hmac_key is not None:
        key = settings.snapshot_hmac_key.get_secret_value().encode()
        return lambda: key
    if settings.snapshot_hmac_secret_arn:
        return CachedSecret(settings.snapshot_hmac_secret_arn, secrets, parse=str.encode)
    return None


def _mac(key: bytes, shard: str, payload: bytes) -> bytes:
    digest = hmac.new(key, _MAC_CONTEXT, hashlib.sha256)
    digest.update(shard.encode() + b"\x00")
    digest.update(payload)
    return digest.digest()


def sign(key: bytes, shard: str, snapshot: bytes) -> bytes:
    """``MAC || snapshot``; the MAC covers the shard id, so one shard's snapshot cannot pose as
    another's.

    >>> signed = sign(b"k", "s1", b"state")
    >>> verify(b"k", "s1", signed)
    b'state'
    >>> verify(b"k", "s2", signed)
    Traceback (most recent call last):
    exchange.snapshots.SnapshotRefused: MAC does not verify (forged, or signed with another key)
    """
    return _mac(key, shard, snapshot) + snapshot


def verify(key: bytes, shard: str, signed: bytes) -> bytes:
    """The snapshot inside ``signed``; SnapshotRefused unless its MAC verifies."""
    if len(signed) < MAC_BYTES:
        raise SnapshotRefused(f"{len(signed)} bytes, shorter than a MAC")
    mac, payload = signed[:MAC_BYTES], signed[MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(key, shard, payload)):
        raise SnapshotRefused("MAC does not verify (forged, or signed with another key)")
    return payload


def trusted_snapshot(shard: str, payload: bytes) -> ShardSnapshot:
    """The decoded snapshot; SnapshotRefused for one that does not decode or is another
    shard's."""
    try:
        snapshot = decode_snapshot(payload)
    except ValueError as exc:
        raise SnapshotRefused(f"does not decode: {exc}") from exc
    if snapshot.shard != shard:
        raise SnapshotRefused(f"a snapshot of shard {snapshot.shard!r}, not {shard!r}")
    return snapshot


__all__ = [
    "MAC_BYTES",
    "S3_PREFIX",
    "SNAPSHOT_FORMAT",
    "JournalPosition",
    "KeyProvider",
    "ShardSnapshot",
    "SnapshotRefused",
    "decode_snapshot",
    "encode_snapshot",
    "s3_snapshot_key",
    "sign",
    "signing_key",
    "snapshot_key",
    "trusted_snapshot",
    "verify",
]
