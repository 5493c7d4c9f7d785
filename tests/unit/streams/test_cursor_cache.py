"""A consumer does not read back the cursor it has just written (``CursoredSink.last_seq``): one
read per symbol per trusted period, and a cursor moved elsewhere is still caught."""

from collections.abc import Sequence

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from exchange.domain import AnyEvent
from exchange.journal import cursors as cursors_module
from exchange.journal.batch import consume_batch
from exchange.journal.cursors import Cursor, CursoredSink
from exchange.testing.stores import InMemoryCursorStore
from exchange.wire import JournalRecord, encode_record
from tests.unit.streams.helpers import busy_market, failures, kinesis_event, records


class CountingCursors(InMemoryCursorStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def read(self, consumer: str, symbol: str) -> Cursor:
        self.reads += 1
        return super().read(consumer, symbol)


class Collecting(CursoredSink):
    name = "collecting"

    def __init__(self, cursors: InMemoryCursorStore, now: list[float]) -> None:
        super().__init__(cursors, clock=lambda: 7)
        self._monotonic = lambda: now[0]
        self.handled: list[int] = []

    def handle(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        self.handled.extend(event.seq for event in events)


def batches(size: int = 3) -> list[dict[str, object]]:
    """The busy market's journal, one record per Kinesis batch."""
    return [
        kinesis_event([encode_record(record)]) for record in records(busy_market().events, size)
    ]


def test_the_cursor_is_read_once_then_trusted_while_fresh() -> None:
    store, now = CountingCursors(), [100.0]
    sink = Collecting(store, now)
    events = batches()
    for event in events:
        assert failures(consume_batch(event, sink)) == []
        now[0] += 1.0  # a second between batches
    assert store.reads == 1
    assert sink.handled == list(range(1, len(sink.handled) + 1))
    assert store.get("collecting", "BTC-USD") == sink.handled[-1]


def test_after_the_trusted_age_the_cursor_is_read_again() -> None:
    store, now = CountingCursors(), [100.0]
    sink = Collecting(store, now)
    first, second, *_ = batches()
    consume_batch(first, sink)
    now[0] += cursors_module.CURSOR_TRUSTED_S + 0.1
    consume_batch(second, sink)
    assert store.reads == 2


def test_a_cursor_moved_by_another_environment_fails_the_record_then_it_is_reread() -> None:
    store, now = CountingCursors(), [100.0]
    sink = Collecting(store, now)
    first, second, third, *_ = batches()
    consume_batch(first, sink)
    # Another execution environment applied the second record meanwhile.
    other = Collecting(store, now)
    consume_batch(second, other)
    moved = store.get("collecting", "BTC-USD")
    # This environment's cached cursor is behind: its conditional advance is refused (a batch
    # whose every record failed raises, and Lambda retries it) ...
    with pytest.raises(BatchProcessingError, match="is not at seq"):
        consume_batch(second, sink)
    assert store.get("collecting", "BTC-USD") == moved
    # ... and the retry reads the store again, and goes on from where the other left it.
    assert failures(consume_batch(third, sink)) == []
    assert store.get("collecting", "BTC-USD") > moved
