"""The engine's heartbeat: each shard's proof of life and journal progress, which the engine
writes to Redis and ``GET /v1/health`` reads.

Each shard's matching loop makes a beat about every ``HEARTBEAT_INTERVAL_S`` (a thread of the
engine writes it, so Redis never stalls the loop), under ``heartbeat_key(shard)``, as JSON: the
wall-clock time the loop made it, the shard, its status and each symbol's last *journaled* seq.
A loop that stops (stuck, crashed, replaying, reconnecting to the broker) stops beating, so the
beat's age tells whether the shard can trade. The key expires after ``HEARTBEAT_TTL_S``, longer
than the health check's default maximum age (15 s), so a stopped shard first shows as stale, with
its age, and only later as missing; a retired shard's key goes away by itself.

>>> beat = Heartbeat(shard="s1", at_ms=1_000, status="ready", seqs={"BTC-USD": 7})
>>> heartbeat_key("s1"), decode_heartbeat(encode_heartbeat(beat)) == beat
('exchange:engine:s1:heartbeat', True)
>>> encode_heartbeat(beat)
b'{"shard":"s1","at_ms":1000,"status":"ready","seqs":{"BTC-USD":7}}'
"""

from typing import Final

import msgspec

HEARTBEAT_INTERVAL_S: Final = 1.0
HEARTBEAT_TTL_S: Final = 30


class Heartbeat(msgspec.Struct, frozen=True):
    shard: str
    at_ms: int  # wall clock (epoch milliseconds) when the engine's loop made the beat
    status: str  # the engine's own health: "ready", or "degraded" while a store fails
    seqs: dict[str, int]  # symbol -> the seq of its last event durable in the journal


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Heartbeat)


def heartbeat_key(shard: str) -> str:
    return f"exchange:engine:{shard}:heartbeat"


def encode_heartbeat(beat: Heartbeat) -> bytes:
    return _encoder.encode(beat)


def decode_heartbeat(payload: bytes) -> Heartbeat:
    """The beat in ``payload``; ``msgspec.DecodeError`` when it is not one."""
    return _decoder.decode(payload)
