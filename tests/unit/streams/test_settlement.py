"""The ledger consumer's bookkeeping: only new events reach the ledger, in one call per record.
(Settlement itself, on PostgreSQL, is tests/integration/streams/test_settlement_consumer.py.)"""

from collections.abc import Sequence

import pytest

from exchange.domain import Event
from exchange.journal.batch import SequenceGap, consume
from exchange.ledger.consumer import Settlement
from exchange.testing.stores import InMemoryCursorStore
from exchange.wire import JournalRecord
from tests.unit.streams.helpers import busy_market, records


class RecordingLedger:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def apply_events(self, events: Sequence[Event]) -> list[bool]:
        self.calls.append([event.seq for event in events])
        return [True] * len(events)


def test_each_record_reaches_the_ledger_once_with_only_its_new_events() -> None:
    events = busy_market().events
    ledger = RecordingLedger()
    sink = Settlement(ledger, InMemoryCursorStore())  # type: ignore[arg-type]
    for record in records(events, 4):
        consume(sink, record, {})
    consume(sink, JournalRecord.of(events[:8]), {})  # a replay
    consume(sink, JournalRecord.of(events[:4]), {})  # and another
    assert ledger.calls == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16],
                            [17, 18, 19]]  # fmt: skip


def test_a_gap_never_reaches_the_ledger() -> None:
    events = busy_market().events
    ledger = RecordingLedger()
    sink = Settlement(ledger, InMemoryCursorStore())  # type: ignore[arg-type]
    consume(sink, JournalRecord.of(events[:3]), {})
    with pytest.raises(SequenceGap):
        consume(sink, JournalRecord.of(events[4:6]), {})
    assert ledger.calls == [[1, 2, 3]]
