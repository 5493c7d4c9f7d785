"""What a saved snapshot holds: the engine's state, the seq it reflects per symbol, and the
journal position to replay from."""

import msgspec

from engine_service.ports import JournalPosition

SNAPSHOT_FORMAT = 1


class ShardSnapshot(msgspec.Struct, frozen=True):
    format: int
    shard: str
    seqs: dict[str, int]
    position: JournalPosition
    engine_state: bytes

    @property
    def progress(self) -> int:
        """Grows with every event: the newest of two snapshots has the larger progress."""
        return sum(self.seqs.values())


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ShardSnapshot)


def encode_snapshot(snapshot: ShardSnapshot) -> bytes:
    return _encoder.encode(snapshot)


def decode_snapshot(payload: bytes) -> ShardSnapshot:
    snapshot = _decoder.decode(payload)
    if snapshot.format != SNAPSHOT_FORMAT:
        raise ValueError(f"snapshot format {snapshot.format}, expected {SNAPSHOT_FORMAT}")
    return snapshot
