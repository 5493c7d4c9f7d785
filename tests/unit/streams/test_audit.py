"""The audit log's hash chain and its verifier."""

from collections.abc import Callable
from dataclasses import replace
from itertools import pairwise

import pytest

from exchange.journal.audit import (
    GENESIS,
    AuditConflict,
    AuditEntry,
    AuditLink,
    chain,
    link_hash,
    verify,
)
from exchange.testing.stores import InMemoryRecorderStore
from tests.unit.streams.helpers import busy_market

EVENTS = busy_market().events


def test_an_intact_chain_verifies_to_its_head() -> None:
    entries = chain(None, EVENTS, now_ns=1)
    report = verify("BTC-USD", entries)
    assert (report.ok, report.checked, report.head_seq) == (True, len(EVENTS), len(EVENTS))
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in pairwise(entries))


def test_a_chain_built_in_pieces_equals_one_built_at_once() -> None:
    # Given the same events chained in one go, or record by record (as the recorder does)
    whole = chain(None, EVENTS, now_ns=1)
    first = chain(None, EVENTS[:7], now_ns=2)
    rest = chain(AuditLink(first[-1].seq, first[-1].hash), EVENTS[7:], now_ns=3)
    # Then the hashes agree: the write time is not hashed, so a replay hashes the same
    assert [e.hash for e in whole] == [e.hash for e in [*first, *rest]]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda e: replace(e, payload=e.payload[:-1] + b"\x00"), id="payload"),
        pytest.param(lambda e: replace(e, hash="f" * 64), id="hash"),
        pytest.param(lambda e: replace(e, prev_hash="0" * 64), id="prev_hash"),
        pytest.param(lambda e: replace(e, kind="cancelled"), id="kind"),
    ],
)
def test_the_verifier_points_at_the_tampered_entry(
    tamper: Callable[[AuditEntry], AuditEntry],
) -> None:
    # Given a chain where one entry was changed after it was written
    entries = chain(None, EVENTS, now_ns=1)
    entries[8] = tamper(entries[8])
    # When verified
    report = verify("BTC-USD", entries)
    # Then the first break is that entry's seq, and everything before it checked out
    assert (report.ok, report.broken_at, report.checked) == (False, 9, 8)


def test_a_rehashed_forgery_breaks_the_link_of_the_next_entry() -> None:
    # Given an entry rewritten with a valid hash of its new content
    entries = chain(None, EVENTS, now_ns=1)
    forged = replace(entries[4], payload=entries[3].payload)
    entries[4] = replace(
        forged, hash=link_hash("BTC-USD", 5, forged.kind, forged.prev_hash, forged.payload)
    )
    report = verify("BTC-USD", entries)
    # Then its payload names another seq (5 holds seq 4's event)
    assert report.broken_at == 5


def test_a_missing_entry_is_reported() -> None:
    entries = chain(None, EVENTS, now_ns=1)
    del entries[2]
    report = verify("BTC-USD", entries)
    assert (report.broken_at, report.reason) == (3, "seq 3 is missing; next entry is 4")


def test_an_existing_seq_is_never_overwritten_with_other_content() -> None:
    store = InMemoryRecorderStore()
    entries = chain(None, EVENTS[:3], now_ns=1)
    store.append_audit(entries)
    store.append_audit(entries)  # a replay: identical, accepted
    with pytest.raises(AuditConflict):
        store.append_audit([replace(entries[1], hash="0" * 64)])
    assert store.audit["BTC-USD"][2] == entries[1]
