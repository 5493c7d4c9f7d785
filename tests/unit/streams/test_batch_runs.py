"""A symbol's chaining records in one Kinesis batch are applied as one record
(``exchange.journal.batch.merge_runs``): one read, one write of each order, one push per run."""

from collections.abc import Sequence

import msgspec
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from exchange.domain import AnyEvent
from exchange.journal import batch
from exchange.journal.batch import consume_batch, merge_runs
from exchange.journal.cursors import CursoredSink
from exchange.testing.stores import InMemoryCursorStore
from exchange.wire import JournalRecord, encode_record
from tests.unit.streams.helpers import busy_market, failures, kinesis_event, records


class Applying(CursoredSink):
    """Keeps each apply's (symbol, first_seq, last_seq), and can fail on a seq."""

    name = "applying"

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__(InMemoryCursorStore(), clock=lambda: 7)
        self.applied: list[tuple[str, int, int]] = []
        self.seqs: list[tuple[str, int]] = []
        self._fail_at = fail_at

    def handle(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        if self._fail_at is not None and any(e.seq == self._fail_at for e in events):
            raise RuntimeError(f"store down at seq {self._fail_at}")
        self.applied.append((record.symbol, record.first_seq, record.last_seq))
        self.seqs.extend((event.symbol, event.seq) for event in events)


def other_symbol(events: Sequence[AnyEvent]) -> list[AnyEvent]:
    return [msgspec.structs.replace(event, symbol="ETH-USD") for event in events]


def test_chaining_records_of_a_symbol_are_applied_once() -> None:
    events = busy_market().events
    journal = records(events, 3)
    sink = Applying()
    response = consume_batch(kinesis_event([encode_record(r) for r in journal]), sink)
    assert failures(response) == []
    assert sink.applied == [("BTC-USD", 1, events[-1].seq)]  # one apply, every event
    assert [seq for _, seq in sink.seqs] == [event.seq for event in events]


def test_symbols_interleaved_in_a_batch_each_make_one_run() -> None:
    events = busy_market().events[:12]
    btc = records(events, 3)
    eth = records(other_symbol(events), 3)
    interleaved = [record for pair in zip(btc, eth, strict=True) for record in pair]
    sink = Applying()
    assert (
        failures(consume_batch(kinesis_event([encode_record(r) for r in interleaved]), sink)) == []
    )
    assert sorted(sink.applied) == [("BTC-USD", 1, 12), ("ETH-USD", 1, 12)]


def test_records_that_do_not_chain_are_applied_on_their_own() -> None:
    first, second, third, *_ = records(busy_market().events, 3)
    # A duplicate of the first between the first and the second: the second chains on from it
    # (seqs 1..3 then 4..6), so those two merge; the first stays alone.
    sink = Applying()
    payloads = [encode_record(r) for r in (first, first, second, third)]
    assert failures(consume_batch(kinesis_event(payloads), sink)) == []
    # The run (the duplicate, the second, the third) overlaps what was applied: trimmed to 4..9.
    assert sink.applied == [("BTC-USD", 1, 3), ("BTC-USD", 1, 9)]
    assert [seq for _, seq in sink.seqs] == list(range(1, 10))


def test_a_failed_run_reports_every_record_of_it_and_nothing_is_skipped() -> None:
    journal = records(busy_market().events, 3)[:3]  # seqs 1..9
    event = kinesis_event([encode_record(r) for r in journal])
    sink = Applying(fail_at=5)
    with pytest.raises(BatchProcessingError):  # every record failed: Lambda retries the batch
        consume_batch(event, sink)
    assert sink.applied == []
    sink._fail_at = None  # the store is back: the retry applies all of it, once
    assert failures(consume_batch(event, sink)) == []
    assert sink.applied == [("BTC-USD", 1, 9)]


def test_a_run_stops_at_a_poison_record_and_at_the_size_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    journal = records(busy_market().events, 3)[:4]
    numbered = [(str(n), encode_record(r)) for n, r in enumerate(journal)]
    runs = merge_runs([*numbered[:2], ("x", b"not a record"), *numbered[2:]])
    assert {n: run.members for n, run in runs.items()} == {
        "0": ["0", "1"], "1": ["0", "1"], "2": ["2", "3"], "3": ["2", "3"],
    }  # fmt: skip
    monkeypatch.setattr(batch, "MAX_RUN_EVENTS", 6)
    capped = merge_runs(numbered)
    assert capped["0"].members == ["0", "1"]
    assert capped["2"].members == ["2", "3"]


def test_settlement_and_its_replication_gate_take_records_as_journaled() -> None:
    """Settlement quarantines a refused record whole: a merged run would hold back the good
    events beside it, so neither it nor the gate in front of it merges."""
    from exchange.journal.gate import ReplicationGate  # noqa: PLC0415
    from exchange.ledger.consumer import Settlement  # noqa: PLC0415

    assert Settlement.merges_records is False
    gate = ReplicationGate.__new__(ReplicationGate)
    inner = Applying()
    inner.merges_records = False
    ReplicationGate.__init__(gate, inner, copy=None)  # type: ignore[arg-type]
    assert gate.merges_records is False
    journal = records(busy_market().events, 3)[:3]
    assert failures(consume_batch(kinesis_event([encode_record(r) for r in journal]), inner)) == []
    assert inner.applied == [("BTC-USD", 1, 3), ("BTC-USD", 4, 6), ("BTC-USD", 7, 9)]
