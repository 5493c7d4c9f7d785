"""Security events in the audit log: each API key's creation and revocation, hash-chained per
account.

They live in the ``audit`` table beside the engine's events, under the partition
``account#<account id>`` (no symbol has a ``#``), with the engine chain's rules
(``exchange.journal.audit``): ``seq`` counts from 1 with no gap, and each entry's ``hash`` is
SHA-256 over the partition, seq, kind, the previous entry's hash and the payload. The payload is
canonical JSON (sorted keys, no spaces) naming the account and the key, never its secret. The
store writes an entry with a conditional put in the same transaction as the key's change, so a
key never changes without its entry, and two changes racing for one seq retry (``store_dynamo``).

A key's *use* is not written here (one item per request would cost as much as the request): each
authorizer logs one structured line, ``api_key_used``, per verified request.

>>> created = SecurityEvent("api_key_created", "alice", {"key_id": "ak_1"})
>>> first = next_entry(None, created, now_ns=1)
>>> (first.symbol, first.seq, first.payload)
('account#alice', 1, b'{"account_id":"alice","key_id":"ak_1"}')
>>> second = next_entry(AuditLink(first.seq, first.hash), created, now_ns=2)
>>> second.prev_hash == first.hash, verify_security_log("alice", [first, second]).ok
(True, True)
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from exchange.journal.audit import GENESIS, AuditEntry, AuditLink, AuditReport, link_hash

PARTITION_PREFIX: Final = "account#"
SecurityKind = Literal["api_key_created", "api_key_revoked"]
SECURITY_KINDS: Final[frozenset[str]] = frozenset({"api_key_created", "api_key_revoked"})


def security_partition(account_id: str) -> str:
    return f"{PARTITION_PREFIX}{account_id}"


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    kind: SecurityKind
    account_id: str
    details: Mapping[str, Any]

    def payload(self) -> bytes:
        document = {**self.details, "account_id": self.account_id}
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def next_entry(head: AuditLink | None, event: SecurityEvent, *, now_ns: int) -> AuditEntry:
    """The entry that appends ``event`` to its account's chain, whose last link is ``head``."""
    partition = security_partition(event.account_id)
    seq = head.seq + 1 if head else 1
    prev = head.hash if head else GENESIS
    payload = event.payload()
    digest = link_hash(partition, seq, event.kind, prev, payload)
    return AuditEntry(partition, seq, event.kind, payload, prev, digest, now_ns)


def verify_security_log(account_id: str, entries: Iterable[AuditEntry]) -> AuditReport:
    """Walk an account's security entries (in seq order) and report the first break: a missing
    seq, a wrong link, a changed hash, or a payload that is not this account's event."""
    partition = security_partition(account_id)
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
        mine = isinstance(document, dict) and document.get("account_id") == account_id
        if entry.kind not in SECURITY_KINDS or not mine:
            return broken(entry.seq, "payload is not a security event of this account")
        prev, expected, checked = entry.hash, expected + 1, checked + 1
    return AuditReport(partition, checked, expected - 1)
