"""What a saved snapshot holds: the engine's state, the seq it reflects per symbol, and the
journal position to replay from. Defined in the layer (``exchange.snapshots``) so the
reconciliation decodes snapshots with the engine's own codec."""

from exchange.snapshots import SNAPSHOT_FORMAT, ShardSnapshot, decode_snapshot, encode_snapshot

__all__ = ["SNAPSHOT_FORMAT", "ShardSnapshot", "decode_snapshot", "encode_snapshot"]
