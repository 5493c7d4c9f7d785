"""The append-only audit log: every engine event, hash-chained per symbol.

An entry's ``hash`` is SHA-256 over its symbol, seq, kind, the previous entry's hash and the
event's wire encoding; the first entry of a symbol (seq 1) chains to ``GENESIS``. The recorder
writes entries with a conditional put, so an existing seq is never overwritten; the chain is
deterministic, so a replay computes the same entries. ``verify`` walks a symbol's chain and
reports the first break: a missing seq, a payload or hash that was changed, or a link to the
wrong predecessor.

The table and the command line (``python -m exchange.journal.audit_log verify --symbol S``) are
in ``audit_log``; this module is pure.
"""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from exchange.domain.errors import ExchangeError, WireFormatError
from exchange.domain.events import AnyEvent
from exchange.wire import decode_event, encode_event

GENESIS: Final = "0" * 64
_SEPARATOR: Final = b"\x1f"


class AuditConflict(ExchangeError):
    """An audit entry already exists for a seq with different content: the log was altered, or
    two different events claimed one seq. Never overwritten; needs an operator."""

    code = "audit_conflict"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    symbol: str
    seq: int
    kind: str
    payload: bytes
    prev_hash: str
    hash: str
    recorded_ns: int = 0  # when it was written; not hashed, so a replay hashes the same


@dataclass(frozen=True, slots=True)
class AuditLink:
    """The head of a symbol's chain: its last seq and hash."""

    seq: int
    hash: str


def kind_of(event: AnyEvent) -> str:
    """The event's wire tag, e.g. ``"trade"``."""
    return str(event.__struct_config__.tag)


def link_hash(symbol: str, seq: int, kind: str, prev_hash: str, payload: bytes) -> str:
    digest = hashlib.sha256()
    for part in (symbol.encode(), str(seq).encode(), kind.encode(), prev_hash.encode()):
        digest.update(part)
        digest.update(_SEPARATOR)
    digest.update(payload)
    return digest.hexdigest()


def chain(head: AuditLink | None, events: Sequence[AnyEvent], now_ns: int) -> list[AuditEntry]:
    """The entries that append ``events`` (which follow ``head``) to a symbol's chain."""
    prev = head.hash if head else GENESIS
    entries = []
    for event in events:
        payload = encode_event(event)
        kind = kind_of(event)
        digest = link_hash(event.symbol, event.seq, kind, prev, payload)
        entries.append(AuditEntry(event.symbol, event.seq, kind, payload, prev, digest, now_ns))
        prev = digest
    return entries


@dataclass(frozen=True, slots=True)
class AuditReport:
    symbol: str
    checked: int
    head_seq: int
    broken_at: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(symbol: str, entries: Iterable[AuditEntry]) -> AuditReport:
    """Walk ``entries`` (one symbol's, in seq order) and report the first break."""
    prev, expected, checked = GENESIS, 1, 0

    def broken(seq: int, reason: str) -> AuditReport:
        return AuditReport(symbol, checked, expected - 1, broken_at=seq, reason=reason)

    for entry in entries:
        if entry.seq != expected:
            return broken(expected, f"seq {expected} is missing; next entry is {entry.seq}")
        if entry.prev_hash != prev:
            return broken(entry.seq, "prev_hash does not match the previous entry's hash")
        if link_hash(symbol, entry.seq, entry.kind, entry.prev_hash, entry.payload) != entry.hash:
            return broken(entry.seq, "hash does not match the entry's content")
        try:
            event = decode_event(entry.payload)
        except WireFormatError as exc:
            return broken(entry.seq, f"payload does not decode: {exc}")
        if (event.symbol, event.seq, kind_of(event)) != (symbol, entry.seq, entry.kind):
            return broken(entry.seq, "payload is not the event its keys name")
        prev, expected, checked = entry.hash, expected + 1, checked + 1
    return AuditReport(symbol, checked, expected - 1)
