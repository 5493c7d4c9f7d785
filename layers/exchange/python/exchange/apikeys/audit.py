"""Hash chains of security events in the audit log: each API key's creation and revocation per
account, and every operator's action (``exchange.admin``).

They live in the ``audit`` table beside the engine's events, each chain under a partition of its
own (no symbol has a ``#``, and no symbol is ``operators``): ``account#<account id>`` holds an
account's API-key events and the operators' freezes of it, ``operators`` every admin action. They
follow the engine chain's rules (``exchange.journal.audit``): ``seq`` counts from 1 with no gap,
and each entry's ``hash`` is SHA-256 over the partition, seq, kind, the previous entry's hash and
the payload. The payload is canonical JSON (sorted keys, no spaces) naming what the event was
about (the account and the key, never its secret; the operator, the reason and the commands).
The writer appends an entry with a conditional put (``attribute_not_exists(seq)``), so two
writers racing for one seq cannot both win; the loser retries on the new head
(``exchange.apikeys.store_dynamo``, ``exchange.admin.audit_dynamo``).

A key's *use* is not written here (one item per request would cost as much as the request): each
authorizer logs one structured line, ``api_key_used``, per verified request.

>>> created = SecurityEvent("api_key_created", "alice", {"key_id": "ak_1"})
>>> first = next_entry(None, created, now_ns=1)
>>> (first.symbol, first.seq, first.payload)
('account#alice', 1, b'{"account_id":"alice","key_id":"ak_1"}')
>>> second = next_entry(AuditLink(first.seq, first.hash), created, now_ns=2)
>>> second.prev_hash == first.hash, verify_security_log("alice", [first, second]).ok
(True, True)
>>> action = ChainEvent("operators", "admin_status_set", {"symbol": "BTC-USD"})
>>> next_entry(None, action, now_ns=3).symbol
'operators'
"""

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from exchange.journal.audit import GENESIS, AuditEntry, AuditLink, AuditReport, link_hash

PARTITION_PREFIX: Final = "account#"
SecurityKind = Literal["api_key_created", "api_key_revoked"]
# What an account's own chain may hold: its API keys' events, and the operators' freezes of it
# (``exchange.admin``: each is also in the ``operators`` chain).
ACCOUNT_FROZEN_KINDS: Final[frozenset[str]] = frozenset(
    {"admin_account_frozen", "admin_account_unfrozen"}
)
SECURITY_KINDS: Final[frozenset[str]] = frozenset(
    {"api_key_created", "api_key_revoked", *ACCOUNT_FROZEN_KINDS}
)


def security_partition(account_id: str) -> str:
    return f"{PARTITION_PREFIX}{account_id}"


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """The bytes a payload hashes: sorted keys, no spaces, so equal documents hash equal."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class Chained(Protocol):
    """Anything appended to a chain: where, what kind, and the payload's bytes."""

    @property
    def partition(self) -> str: ...

    @property
    def kind(self) -> str: ...

    def payload(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class ChainEvent:
    """An event of any chain: ``document`` is its payload, as canonical JSON."""

    partition: str
    kind: str
    document: Mapping[str, Any]

    def payload(self) -> bytes:
        return canonical_json(self.document)


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    kind: SecurityKind
    account_id: str
    details: Mapping[str, Any]

    @property
    def partition(self) -> str:
        return security_partition(self.account_id)

    def payload(self) -> bytes:
        return canonical_json({**self.details, "account_id": self.account_id})


def next_entry(head: AuditLink | None, event: Chained, *, now_ns: int) -> AuditEntry:
    """The entry that appends ``event`` to its partition's chain, whose last link is ``head``."""
    seq = head.seq + 1 if head else 1
    prev = head.hash if head else GENESIS
    payload = event.payload()
    digest = link_hash(event.partition, seq, event.kind, prev, payload)
    return AuditEntry(event.partition, seq, event.kind, payload, prev, digest, now_ns)


def verify_chain(
    partition: str,
    entries: Iterable[AuditEntry],
    belongs: Callable[[str, Any], bool],
) -> AuditReport:
    """Walk a partition's entries (in seq order) and report the first break: a missing seq, a
    wrong link, a changed hash, a payload that is not JSON, or an entry ``belongs(kind,
    document)`` refuses (an event of another chain, or of an unknown kind)."""
    prev, expected, checked = GENESIS, 1, 0

    def broken(seq: int, reason: str) -> AuditReport:
        return AuditReport(partition, checked, expected - 1, broken_at=seq, reason=reason)

    for entry in entries:
        if entry.seq != expected:
            return broken(expected, f"seq {expected} is missing; next entry is {entry.seq}")
        if entry.prev_hash != prev:
            return broken(entry.seq, "prev_hash does not match the previous entry's hash")
        if link_hash(partition, entry.seq, entry.kind, prev, entry.payload) != entry.hash:
            return broken(entry.seq, "hash does not match the entry's content")
        try:
            document = json.loads(entry.payload)
        except ValueError:
            return broken(entry.seq, "payload is not JSON")
        if not belongs(entry.kind, document):
            return broken(entry.seq, f"payload is not an event of the {partition} chain")
        prev, expected, checked = entry.hash, expected + 1, checked + 1
    return AuditReport(partition, checked, expected - 1)


def verify_security_log(account_id: str, entries: Iterable[AuditEntry]) -> AuditReport:
    """Walk an account's security entries (in seq order) and report the first break: a missing
    seq, a wrong link, a changed hash, or a payload that is not this account's event."""

    def belongs(kind: str, document: Any) -> bool:
        mine = isinstance(document, dict) and document.get("account_id") == account_id
        return kind in SECURITY_KINDS and mine

    return verify_chain(security_partition(account_id), entries, belongs)
