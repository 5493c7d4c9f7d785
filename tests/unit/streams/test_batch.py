"""Kinesis batches: poison records, replays, gaps and overlaps, through the recorder."""

import copy
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from exchange.domain import Side
from exchange.journal.batch import SequenceGap, consume, consume_batch
from exchange.orders.recorder import Recorder
from exchange.settings import DEFAULT_ASSET_SCALES
from exchange.testing.stores import InMemoryRecorderStore
from exchange.wire import JournalRecord, encode_record
from tests.unit.streams.helpers import (
    CATALOG,
    POISON,
    Market,
    busy_market,
    encoded,
    failures,
    kinesis_event,
    records,
)


def recorder(store: InMemoryRecorderStore) -> Recorder:
    return Recorder(store, catalog=CATALOG, asset_scales=DEFAULT_ASSET_SCALES, clock=lambda: 7)


def state(store: InMemoryRecorderStore) -> dict[str, Any]:
    return copy.deepcopy(vars(store))


def test_poison_record_in_the_middle_is_the_only_failure_and_a_replay_changes_nothing() -> None:
    # Given a batch of journal records with one undecodable record in the middle
    market = busy_market()
    payloads = encoded(records(market.events))
    batch = kinesis_event([*payloads[:3], POISON, *payloads[3:]])
    store = InMemoryRecorderStore()
    for order_id in market.orders:
        store.orders[(market.orders[order_id].account_id, order_id)] = market.pending(order_id)
    # When the recorder consumes it
    first = consume_batch(batch, recorder(store))
    # Then only the poison record is reported, and every event was recorded
    assert failures(first) == [batch["Records"][3]["kinesis"]["sequenceNumber"]]
    assert sorted(seq for _, seq in store.events) == [event.seq for event in market.events]
    after_first = state(store)
    # When Lambda delivers the same batch again (it retries from the failed record)
    second = consume_batch(batch, recorder(store))
    # Then the poison record fails again, and nothing else changed
    assert failures(second) == failures(first)
    assert state(store) == after_first


def test_a_gap_fails_its_record_and_the_symbols_later_records_but_not_other_symbols() -> None:
    # Given BTC records 1, 3 and 4 (2 missing) and an ETH record, in one batch
    btc = records(busy_market().events)
    eth_market = Market(symbol="ETH-USD")
    eth_market.order("e1", Side.BUY, "1", "3000.00", account="x")
    eth = records(eth_market.events)
    batch = kinesis_event(encoded([btc[0], btc[2], eth[0], btc[3]]))
    store = InMemoryRecorderStore()
    # When consumed
    response = consume_batch(batch, recorder(store))
    # Then the record after the gap and the next one of its symbol fail; ETH went through
    sequence_numbers = [record["kinesis"]["sequenceNumber"] for record in batch["Records"]]
    assert failures(response) == [sequence_numbers[1], sequence_numbers[3]]
    assert max(seq for symbol, seq in store.events if symbol == "BTC-USD") == btc[0].last_seq
    assert ("ETH-USD", 1) in store.events


def test_a_record_that_overlaps_what_was_applied_applies_only_the_new_events() -> None:
    # Given seqs 1..3 applied
    events = busy_market().events
    store = InMemoryRecorderStore()
    sink = recorder(store)
    consume(sink, JournalRecord.of(events[:3]), {})
    audit_before = dict(store.audit["BTC-USD"])
    # When a record of seqs 2..6 arrives (a producer retry that was split differently)
    applied = consume(sink, JournalRecord.of(events[1:6]), {})
    # Then only 4..6 are new, and the first three audit entries are untouched
    assert applied == 3
    assert sorted(store.audit["BTC-USD"]) == [1, 2, 3, 4, 5, 6]
    assert {seq: store.audit["BTC-USD"][seq] for seq in (1, 2, 3)} == audit_before


def test_a_gap_raises_sequence_gap_naming_what_was_due() -> None:
    events = busy_market().events
    with pytest.raises(SequenceGap) as raised:
        consume(recorder(InMemoryRecorderStore()), JournalRecord.of(events[2:4]), {})
    assert (raised.value.expected, raised.value.first_seq) == (1, 3)


def test_a_batch_of_nothing_but_poison_fails_as_a_whole() -> None:
    # Lambda then retries (and bisects) the batch instead of reading an empty failure list.
    truncated = encode_record(JournalRecord.of(busy_market().events[:1]))[:-3]
    with pytest.raises(BatchProcessingError):
        consume_batch(kinesis_event([POISON, truncated]), recorder(InMemoryRecorderStore()))
