"""A seq is never reused silently: after a failover, a record that repeats seqs a consumer applied
under another epoch (or, for the recorder and the ledger, with other events) fails with
``SeqReused``, is counted and refuses its epoch, where it used to be skipped as a duplicate.
(The ledger on PostgreSQL: tests/integration/ledger/test_seq_reuse.py; the settlement handler
with its cursor on moto: tests/integration/streams/test_settlement_consumer.py.)"""

from collections.abc import Sequence

import msgspec
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from exchange.domain import AnyEvent, Event, Side
from exchange.journal import batch
from exchange.journal.batch import consume, consume_batch
from exchange.journal.cursors import Cursor, CursoredSink
from exchange.journal.epochs import (
    EpochRefused,
    SeqReused,
    after_applying,
    epoch_at,
    history_of,
)
from exchange.ledger.consumer import Settlement
from exchange.orders.recorder import Recorder
from exchange.settings import DEFAULT_ASSET_SCALES
from exchange.testing.stores import (
    InMemoryCursorStore,
    InMemoryQuarantineStore,
    InMemoryRecorderStore,
)
from exchange.wire import JournalRecord, decode_record, encode_record
from tests.unit.streams.helpers import (
    CATALOG,
    SYMBOL,
    Market,
    busy_market,
    encoded,
    failures,
    kinesis_event,
)


class Collecting(CursoredSink):
    """A cursored consumer that keeps the seqs it handled."""

    name = "collecting"

    def __init__(self, cursors: InMemoryCursorStore) -> None:
        super().__init__(cursors, clock=lambda: 7)
        self.handled: list[int] = []

    def handle(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        self.handled.extend(event.seq for event in events)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The metrics ``exchange.journal.batch`` counts, by name (once per count)."""
    seen: list[str] = []
    monkeypatch.setattr(batch, "count", lambda name, value=1: seen.append(name))
    return seen


def primary() -> list[AnyEvent]:
    return busy_market().events  # BTC-USD seqs 1..19


def other_events(first_seq: int, count: int) -> list[AnyEvent]:
    """Events the DR engine emitted at ``first_seq``..: other orders, so other content."""
    market = Market()
    for i in range(count):
        market.order(f"dr{i}", Side.BUY, "0.01", f"{60000 + i}.00", account="erin")
    return [
        msgspec.structs.replace(event, seq=first_seq + i)
        for i, event in enumerate(market.events[:count])
    ]


def at(events: Sequence[Event], epoch: int) -> JournalRecord:
    return JournalRecord.of(events, epoch=epoch)


def cursor(cursors: InMemoryCursorStore) -> Cursor:
    return cursors.read(Collecting.name, SYMBOL)


# -- the epoch history ----------------------------------------------------------------------------


def test_the_history_names_the_epoch_of_every_seq_and_grows_only_at_a_change() -> None:
    history = ((7, 1), (12, 2))
    assert [epoch_at(history, seq) for seq in (1, 6, 7, 11, 12, 99)] == [0, 0, 1, 1, 2, 2]
    assert epoch_at((), 5) == 0  # none: epoch 0 from seq 1
    assert after_applying(history, 20, 2) is None
    assert after_applying(history, 20, 3) == ((7, 1), (12, 2), (20, 3))
    assert after_applying((), 1, 0) is None
    assert history_of([[12, 2], [7, 1]]) == history  # as DynamoDB gives it back


# -- cursored consumers ---------------------------------------------------------------------------


def test_a_duplicate_of_the_epoch_that_applied_it_is_skipped_as_before(counted: list[str]) -> None:
    # Given seqs 1..6 applied at epoch 0 and 7..9 at epoch 1 (a clean failover at seq 7)
    events = primary()
    cursors = InMemoryCursorStore()
    sink = Collecting(cursors)
    consume(sink, at(events[:6], 0), {})
    consume(sink, at(events[6:9], 1), {})
    assert cursor(cursors) == Cursor(9, ((7, 1),))
    # When each is delivered again (a retry), by a later invocation
    again = Collecting(cursors)
    applied = [consume(again, at(events[:6], 0), {}), consume(again, at(events[6:9], 1), {})]
    # Then they are duplicates: nothing applied, nothing raised, nothing refused
    assert applied == [0, 0]
    assert again.handled == []
    assert counted.count("JournalDuplicateRecords") == 2
    assert "JournalSeqReused" not in counted
    assert cursor(cursors) == Cursor(9, ((7, 1),))


def test_a_duplicate_under_another_epoch_raises_counts_and_refuses_that_epoch(
    counted: list[str],
) -> None:
    # Given seqs 1..6 applied from the primary (epoch 0)
    events = primary()
    cursors = InMemoryCursorStore()
    consume(Collecting(cursors), at(events[:6], 0), {})
    # When the DR engine (epoch 1) journals other events at seqs 4..6
    sink = Collecting(cursors)
    positions: dict[str, int] = {}
    with pytest.raises(SeqReused) as raised:
        consume(sink, at(other_events(4, 3), 1), positions)
    # Then it is a reuse of 4..6, applied under 0, met under 1: counted, not skipped
    error = raised.value
    assert (error.consumer, error.symbol, error.seqs) == ("collecting", SYMBOL, (4, 5, 6))
    assert (error.applied_epoch, error.record_epoch) == (0, 1)
    assert counted.count("JournalSeqReused") == 1
    assert "JournalDuplicateRecords" not in counted
    # And nothing moved, and epoch 1 is refused for the symbol
    assert sink.handled == []
    assert cursor(cursors) == Cursor(6, (), frozenset({1}))
    assert SYMBOL not in positions
    # And the DR engine's next record, though it starts right after the cursor, is refused too
    # (a later invocation: the refusal is the cursor's, not the batch's)
    with pytest.raises(EpochRefused):
        consume(Collecting(cursors), at(other_events(7, 3), 1), {})
    assert cursor(cursors).last_seq == 6
    assert counted.count("JournalSeqReused") == 2
    # While the primary's late duplicates still pass
    assert consume(Collecting(cursors), at(events[3:6], 0), {}) == 0


def test_a_trimmed_record_checks_its_overlap_before_applying_anything() -> None:
    # Given seqs 1..3 applied at epoch 0 and 4..6 at epoch 1
    events = primary()
    cursors = InMemoryCursorStore()
    consume(Collecting(cursors), at(events[:3], 0), {})
    consume(Collecting(cursors), at(events[3:6], 1), {})
    # When an epoch-1 record of 5..8 comes: its overlap (5, 6) is epoch 1's, so 7..8 apply
    sink = Collecting(cursors)
    assert consume(sink, at(events[4:8], 1), {}) == 2
    assert sink.handled == [7, 8]
    # When an epoch-1 record of 3..10 comes: seq 3 was epoch 0's
    with pytest.raises(SeqReused) as raised:
        consume(sink, at(events[2:10], 1), {})
    # Then nothing of it applied (9, 10 included), and epoch 1 is refused from then on
    assert raised.value.seqs == (3,)
    assert (raised.value.applied_epoch, raised.value.record_epoch) == (0, 1)
    assert sink.handled == [7, 8]
    assert cursor(cursors) == Cursor(8, ((4, 1),), frozenset({1}))


def test_a_cursor_and_records_from_before_epochs_are_epoch_0() -> None:
    # Given a cursor written before epochs (a seq, no history) and a record in the old layout
    events = primary()
    cursors = InMemoryCursorStore()
    cursors.positions[(Collecting.name, SYMBOL)] = 6
    legacy = b"\x01" + msgspec.msgpack.encode([SYMBOL, 4, 6, events[3:6]])
    # When the old record is delivered again, Then it is a duplicate of epoch 0
    assert consume(Collecting(cursors), decode_record(legacy), {}) == 0
    # When a promoted engine journals seqs 4..6 at epoch 1, Then they are reused
    with pytest.raises(SeqReused) as raised:
        consume(Collecting(cursors), at(events[3:6], 1), {})
    assert (raised.value.applied_epoch, raised.value.record_epoch) == (0, 1)


def test_a_new_epoch_after_the_cursor_applies_and_an_old_writer_after_it_is_refused() -> None:
    # Given seqs 1..6 applied at epoch 0, and the DR engine starting cleanly at seq 7 (epoch 1)
    events = primary()
    cursors = InMemoryCursorStore()
    consume(Collecting(cursors), at(events[:6], 0), {})
    assert consume(Collecting(cursors), at(events[6:9], 1), {}) == 3
    assert cursor(cursors).epochs == ((7, 1),)
    # When the old primary, not yet fenced, journals its own 7..9 at epoch 0
    with pytest.raises(SeqReused) as raised:
        consume(Collecting(cursors), at(other_events(7, 3), 0), {})
    # Then that is a reuse (of epoch 1's seqs), and epoch 0 is refused from then on
    assert (raised.value.applied_epoch, raised.value.record_epoch) == (1, 0)
    assert cursor(cursors).refused == frozenset({0})


def test_the_batch_reports_the_reused_record_and_the_symbols_later_ones_as_failed() -> None:
    # Given seqs 1..6 applied from the primary
    events = primary()
    cursors = InMemoryCursorStore()
    consume(Collecting(cursors), at(events[:6], 0), {})
    # And a batch: a late primary duplicate, DR's reuse of 5..6, DR's 7..8, and an ETH record
    eth = Market(symbol="ETH-USD")
    eth.order("e1", Side.BUY, "1", "3000.00", account="x")
    journal = [
        at(events[3:6], 0),
        at(other_events(5, 2), 1),
        at(other_events(7, 2), 1),
        at(eth.events, 1),
    ]
    event = kinesis_event(encoded(journal))
    numbers = [record["kinesis"]["sequenceNumber"] for record in event["Records"]]
    sink = Collecting(cursors)
    # When it is consumed
    response = consume_batch(event, sink)
    # Then the reuse and the DR record after it failed (Lambda retries from the first), the
    # duplicate and ETH passed, and BTC did not move
    assert failures(response) == numbers[1:3]
    assert sink.handled == [event.seq for event in eth.events]
    assert cursor(cursors).last_seq == 6
    # And the retry fails the same records again: the symbol stays stopped
    assert failures(consume_batch(event, Collecting(cursors))) == numbers[1:3]


def test_a_batch_of_nothing_but_a_reused_record_fails_as_a_whole() -> None:
    events = primary()
    cursors = InMemoryCursorStore()
    consume(Collecting(cursors), at(events[:6], 0), {})
    with pytest.raises(BatchProcessingError):
        consume_batch(kinesis_event(encoded([at(other_events(4, 3), 1)])), Collecting(cursors))


def test_a_refusal_the_store_cannot_keep_still_fails_the_record(counted: list[str]) -> None:
    class Forgetful(InMemoryCursorStore):
        def refuse(self, consumer: str, symbol: str, epoch: int, *, now_ns: int) -> None:
            raise ConnectionError("DynamoDB unreachable")

    cursors = Forgetful()
    consume(Collecting(cursors), at(primary()[:6], 0), {})
    with pytest.raises(SeqReused):
        consume(Collecting(cursors), at(other_events(4, 3), 1), {})
    assert counted.count("JournalSeqReused") == 1


# -- the recorder: its audit log holds the events themselves ------------------------------------


def recorder(store: InMemoryRecorderStore) -> Recorder:
    return Recorder(store, catalog=CATALOG, asset_scales=DEFAULT_ASSET_SCALES, clock=lambda: 7)


def test_the_recorder_refuses_other_events_at_seqs_it_recorded(counted: list[str]) -> None:
    # Given the primary's seqs 1..6 recorded
    events = primary()
    store = InMemoryRecorderStore()
    consume(recorder(store), at(events[:6], 0), {})
    audit = dict(store.audit[SYMBOL])
    # When the same events come again, even stamped with a later epoch, Then they are duplicates
    assert consume(recorder(store), at(events[3:6], 1), {}) == 0
    # When other events come at seqs 5..8
    with pytest.raises(SeqReused) as raised:
        consume(recorder(store), at(other_events(5, 4), 1), {})
    # Then seqs 5 and 6 are named, and nothing was recorded
    assert raised.value.seqs == (5, 6)
    assert store.audit[SYMBOL] == audit
    assert counted.count("JournalSeqReused") == 1


def test_the_recorder_blocks_the_epoch_for_the_rest_of_the_batch() -> None:
    events = primary()
    store = InMemoryRecorderStore()
    consume(recorder(store), at(events[:6], 0), {})
    event = kinesis_event(encoded([at(other_events(5, 2), 1), at(other_events(7, 2), 1)]))
    with pytest.raises(BatchProcessingError):  # both failed: the whole batch is retried
        consume_batch(event, recorder(store))
    assert max(store.audit[SYMBOL]) == 6


# -- settlement: the ledger's own check is no refusal to quarantine ------------------------------


class ReusedLedger:
    """A ledger that holds other events at ``taken`` seqs."""

    def __init__(self, taken: set[int]) -> None:
        self.taken = taken
        self.applied: list[int] = []

    def apply_events(self, events: Sequence[Event]) -> list[bool]:
        for event in events:
            if event.seq in self.taken:
                raise SeqReused("ledger", event.symbol, [event.seq], None, None)
        self.applied.extend(event.seq for event in events)
        return [True] * len(events)

    def apply_event(self, event: Event) -> bool:
        return self.apply_events([event])[0]


def test_settlement_fails_a_seq_the_ledger_holds_other_content_for_and_quarantines_nothing(
    counted: list[str],
) -> None:
    # Given a settlement cursor that did not replicate as far as the ledger (at 3; the ledger
    # settled the primary's seq 5)
    events = primary()
    cursors, quarantine = InMemoryCursorStore(), InMemoryQuarantineStore()
    ledger = ReusedLedger(taken={5})
    sink = Settlement(ledger, cursors, quarantine)  # type: ignore[arg-type]
    consume(sink, at(events[:3], 0), {})
    # When the DR engine's 4..6 come
    with pytest.raises(SeqReused):
        consume(sink, at(other_events(4, 3), 1), {})
    # Then the record failed whole: nothing quarantined, the cursor still at 3, epoch 1 refused
    assert quarantine.stored == {}
    assert ledger.applied == [1, 2, 3]
    assert cursors.read(Settlement.name, SYMBOL) == Cursor(3, (), frozenset({1}))
    assert counted.count("JournalSeqReused") == 1


def test_a_refusal_before_any_record_leaves_a_cursor_at_0_the_first_record_can_advance() -> None:
    cursors = InMemoryCursorStore()
    cursors.refuse(Collecting.name, SYMBOL, 1, now_ns=1)
    assert consume(Collecting(cursors), at(primary()[:3], 0), {}) == 3
    assert cursor(cursors) == Cursor(3, (), frozenset({1}))


def test_an_epoch_0_record_is_encoded_as_before_epochs() -> None:
    record = at(primary()[:3], 0)
    assert encode_record(record)[1:] == msgspec.msgpack.encode(
        [record.symbol, record.first_seq, record.last_seq, list(record.events)]
    )
