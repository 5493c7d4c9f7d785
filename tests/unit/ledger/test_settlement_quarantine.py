"""No silent halt: the settlement consumer quarantines what the ledger refuses and goes on, fails
the record on an outage, and the redrive command applies quarantined records after a fix.
(On PostgreSQL and moto: tests/integration/streams/test_settlement_consumer.py.)"""

import io
import json
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest

from exchange.domain import Event
from exchange.journal import batch
from exchange.journal.batch import SequenceGap, consume
from exchange.ledger import LedgerError, UnknownReservation
from exchange.ledger import consumer as settlement_consumer
from exchange.ledger.consumer import Settlement
from exchange.ledger.redrive import main as redrive
from exchange.testing.stores import InMemoryCursorStore, InMemoryQuarantineStore
from exchange.wire import JournalRecord, encode_record
from tests.unit.streams.helpers import busy_market, records


class ScriptedLedger:
    """Applies every event but the ``refused`` seqs (a ledger error); ``outage`` fails them all
    as a lost database connection would."""

    def __init__(self, refused: set[int] | None = None) -> None:
        self.refused = set(refused or ())
        self.outage = False
        self.applied: list[int] = []

    def _check(self, event: Event) -> None:
        if self.outage:
            raise psycopg.OperationalError("connection to server was lost")
        if event.seq in self.refused:
            raise UnknownReservation(f"no reservation for seq {event.seq}")

    def apply_events(self, events: Sequence[Event]) -> list[bool]:
        for event in events:
            self._check(event)
        return [self.apply_event(event) for event in events]

    def apply_event(self, event: Event) -> bool:
        self._check(event)
        if event.seq in self.applied:
            return False
        self.applied.append(event.seq)
        return True


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """The metrics counted (name, value), wherever ``count`` is called."""
    seen: list[tuple[str, int]] = []

    def count(name: str, value: int = 1) -> None:
        seen.append((name, value))

    monkeypatch.setattr(settlement_consumer, "count", count)
    monkeypatch.setattr(batch, "count", count)
    return seen


def journal() -> list[JournalRecord]:
    return records(busy_market().events, 5)  # seqs 1-5, 6-10, 11-15, 16-19


def test_a_refused_event_is_quarantined_with_its_record_and_the_symbol_goes_on(
    counted: list[tuple[str, int]],
) -> None:
    # Given a journal whose seq 8 the ledger refuses (say, a fill of an order it holds nothing for)
    ledger = ScriptedLedger(refused={8})
    cursors, quarantine = InMemoryCursorStore(), InMemoryQuarantineStore()
    sink = Settlement(ledger, cursors, quarantine, clock=lambda: 42)  # type: ignore[arg-type]
    runs = journal()
    # When every record is consumed
    for record in runs:
        consume(sink, record, {})
    # Then every other event is applied, the later records included, and the cursor is at the end
    assert ledger.applied == [seq for seq in range(1, 20) if seq != 8]
    assert cursors.get("settlement", "BTC-USD") == 19
    # And the refused event's whole record is kept, payload and error, for a redrive
    (item,) = quarantine.items("settlement")
    assert (item.symbol, item.first_seq, item.last_seq) == ("BTC-USD", 6, 10)
    assert item.payload == encode_record(runs[1])
    assert item.error == "seq 8 Trade: UnknownReservation: no reservation for seq 8"
    assert item.quarantined_ns == 42
    assert ("JournalQuarantined", 1) in counted


def test_an_outage_fails_the_record_and_quarantines_nothing() -> None:
    # Given a ledger whose database is unreachable
    ledger = ScriptedLedger()
    ledger.outage = True
    cursors, quarantine = InMemoryCursorStore(), InMemoryQuarantineStore()
    sink = Settlement(ledger, cursors, quarantine)  # type: ignore[arg-type]
    # When a record arrives, Then it fails (Lambda retries it), and nothing is set aside
    with pytest.raises(psycopg.OperationalError):
        consume(sink, journal()[0], {})
    assert quarantine.items("settlement") == []
    assert cursors.get("settlement", "BTC-USD") == 0


def test_an_outage_while_isolating_a_refused_event_fails_the_record() -> None:
    # Given a record the ledger refuses as a whole, and then the database goes away
    ledger = ScriptedLedger(refused={2})
    applied_one_by_one = ledger.apply_event

    def lost(event: Event) -> bool:
        ledger.outage = True
        return applied_one_by_one(event)

    ledger.apply_event = lost  # type: ignore[method-assign]
    cursors, quarantine = InMemoryCursorStore(), InMemoryQuarantineStore()
    sink = Settlement(ledger, cursors, quarantine)  # type: ignore[arg-type]
    # When it is consumed, Then it fails as a whole: nothing quarantined, the cursor unmoved
    with pytest.raises(psycopg.OperationalError):
        consume(sink, journal()[0], {})
    assert quarantine.items("settlement") == []
    assert cursors.get("settlement", "BTC-USD") == 0


def test_without_a_quarantine_store_a_refused_record_fails() -> None:
    ledger = ScriptedLedger(refused={2})
    cursors = InMemoryCursorStore()
    with pytest.raises(UnknownReservation):
        consume(Settlement(ledger, cursors), journal()[0], {})  # type: ignore[arg-type]
    assert cursors.get("settlement", "BTC-USD") == 0


def test_a_gap_still_fails_the_record_and_is_counted(counted: list[tuple[str, int]]) -> None:
    ledger = ScriptedLedger()
    sink = Settlement(ledger, InMemoryCursorStore(), InMemoryQuarantineStore())  # type: ignore[arg-type]
    with pytest.raises(SequenceGap):
        consume(sink, journal()[1], {})
    assert ledger.applied == []
    assert ("JournalSequenceGaps", 1) in counted


def quarantined(refused: set[int]) -> tuple[ScriptedLedger, InMemoryQuarantineStore]:
    ledger = ScriptedLedger(refused=refused)
    quarantine = InMemoryQuarantineStore()
    sink = Settlement(ledger, InMemoryCursorStore(), quarantine)  # type: ignore[arg-type]
    for record in journal():
        consume(sink, record, {})
    return ledger, quarantine


def run(
    argv: list[str], ledger: ScriptedLedger, store: InMemoryQuarantineStore
) -> tuple[int, list[dict[str, Any]]]:
    out = io.StringIO()
    code = redrive(argv, ledger=ledger, store=store, out=out)  # type: ignore[arg-type]
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_redrive_applies_quarantined_records_after_the_fix_and_reports_what_still_fails() -> None:
    # Given two records quarantined, for seqs 8 (a trade) and 12 (an amend)
    ledger, store = quarantined({8, 12})
    assert [(i.first_seq, i.last_seq) for i in store.items("settlement")] == [(6, 10), (11, 15)]
    code, listed = run(["list", "--consumer", "settlement"], ledger, store)
    assert code == 0
    assert [(line["first_seq"], line["redriven_ns"]) for line in listed] == [(6, None), (11, None)]
    # When seq 8's cause is fixed and the records are replayed
    ledger.refused = {12}
    code, replayed = run(["replay", "--consumer", "settlement"], ledger, store)
    # Then the first is applied and marked redriven; the second still fails, and the exit says so
    assert code == 1
    assert [(r["first_seq"], r["status"]) for r in replayed] == [(6, "redriven"), (11, "failed")]
    assert replayed[0]["applied"] == 1
    assert "UnknownReservation" in replayed[1]["error"]
    assert 8 in ledger.applied
    assert [i.first_seq for i in store.items("settlement")] == [11]
    # When the rest is fixed, Then one more replay clears it, and nothing is left to replay
    ledger.refused = set()
    assert run(["replay", "--consumer", "settlement", "--symbol", "BTC-USD"], ledger, store)[0] == 0
    assert run(["replay", "--consumer", "settlement"], ledger, store) == (0, [])
    assert len(run(["list", "--consumer", "settlement", "--all"], ledger, store)[1]) == 2
    assert sorted(ledger.applied) == list(range(1, 20))


def test_redrive_of_another_symbol_touches_nothing() -> None:
    ledger, store = quarantined({8})
    ledger.refused = set()
    assert run(["replay", "--consumer", "settlement", "--symbol", "ETH-USD"], ledger, store) == (
        0,
        [],
    )
    assert len(store.items("settlement")) == 1


def test_redrive_knows_only_the_settlement_consumer() -> None:
    ledger, store = quarantined(set())
    with pytest.raises(SystemExit) as exited:
        run(["replay", "--consumer", "fanout"], ledger, store)
    assert exited.value.code == 2


def test_a_refused_batch_is_retried_one_event_at_a_time() -> None:
    # The ledger refuses the batch's transaction as a whole: the good events still apply
    ledger = ScriptedLedger(refused={3})
    settled = settlement_consumer.settle(ledger, journal()[0].events)  # type: ignore[arg-type]
    assert settled.applied == 4
    assert [event.seq for event, _ in settled.refused] == [3]
    assert isinstance(settled.refused[0][1], LedgerError)


def test_a_record_too_large_for_one_item_is_kept_as_its_parts_that_hold_a_refusal() -> None:
    from exchange.journal.quarantine import pieces  # noqa: PLC0415

    market = busy_market()
    (record,) = records(market.events, len(market.events))
    size = len(encode_record(record))
    # Small enough: the record itself, when it holds a refusal; nothing when it does not
    assert pieces(record, {record.first_seq}, max_bytes=size) == [record]
    assert pieces(record, set(), max_bytes=size) == []
    # Too large: gap-free parts, each within the limit, only those holding a refused seq
    refused = {record.first_seq + 1, record.last_seq}
    parts = pieces(record, refused, max_bytes=size // 5)
    assert 2 <= len(parts) < len(record.events)
    for part in parts:
        assert len(encode_record(part)) <= size // 5
        assert part.epoch == record.epoch
        assert part.events == record.events[part.first_seq - record.first_seq :][: len(part.events)]
        assert any(part.first_seq <= s <= part.last_seq for s in refused)
    assert {s for p in parts for s in refused if p.first_seq <= s <= p.last_seq} == refused


def test_the_parts_of_a_large_record_are_redriven_one_by_one_and_long_errors_are_cut() -> None:
    from exchange.journal.quarantine import MAX_ERROR_CHARS, MAX_PAYLOAD_BYTES, Quarantined  # noqa: PLC0415
    from tests.unit.engine_service.test_runtime import commands, uninterrupted  # noqa: PLC0415

    record = JournalRecord.of(uninterrupted(commands(8_000))[:14_000])
    assert len(encode_record(record)) > 2 * MAX_PAYLOAD_BYTES
    early, late = record.first_seq + 10, record.last_seq - 3
    ledger, store = ScriptedLedger({early, late}), InMemoryQuarantineStore()
    sink = Settlement(ledger, InMemoryCursorStore(), store)  # type: ignore[arg-type]
    assert consume(sink, record, {}) == len(record.events)
    parts = store.items("settlement")
    assert len(parts) == 2  # one part per refused seq here; the parts between hold none
    assert [p.first_seq <= early <= p.last_seq for p in parts] == [True, False]
    assert [p.first_seq <= late <= p.last_seq for p in parts] == [False, True]
    # When only the late refusal is fixed, Then its part is redriven and the early one still fails
    ledger.refused = {early}
    code, replayed = run(["replay", "--consumer", "settlement"], ledger, store)
    assert code == 1
    assert [(r["first_seq"], r["status"]) for r in replayed] == [
        (parts[0].first_seq, "failed"),
        (parts[1].first_seq, "redriven"),
    ]
    ledger.refused = set()
    assert run(["replay", "--consumer", "settlement"], ledger, store)[0] == 0
    assert store.items("settlement") == []
    assert set(ledger.applied) == {e.seq for e in record.events}
    # And an error text is cut to MAX_ERROR_CHARS characters, multi-byte ones too
    long = Quarantined.of("settlement", record, error="é" * 20_000, now_ns=1)
    assert len(long.error) == MAX_ERROR_CHARS
    assert long.error.endswith("…")
