"""The replication gate: settlement in the primary applies a journal record only once the DR
region's events table holds every seq of it (``exchange.journal.gate``)."""

from collections.abc import Sequence

import boto3
import pytest
from moto import mock_aws

from exchange.domain import Side
from exchange.domain.events import AnyEvent
from exchange.journal.batch import JournalSink, consume
from exchange.journal.gate import DynamoReplicaCopy, NotReplicated, ReplicationGate
from exchange.tables import TABLE_SPECS
from exchange.wire import JournalRecord
from tests.unit.streams.helpers import Market


class Recording(JournalSink):
    name = "settlement"

    def __init__(self) -> None:
        self.applied: list[int] = []

    def last_seq(self, symbol: str) -> int:
        return self.applied[-1] if self.applied else 0

    def apply(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        self.applied.extend(event.seq for event in events)


class Copy:
    """The DR copy: the seqs it holds, growing as replication lands."""

    def __init__(self) -> None:
        self.held: set[int] = set()
        self.calls = 0

    def count_between(self, symbol: str, first: int, last: int) -> int:
        self.calls += 1
        return sum(1 for seq in self.held if first <= seq <= last)


def records(count: int) -> list[JournalRecord]:
    market = Market()
    for index in range(count):
        side = Side.BUY if index % 2 else Side.SELL
        market.order(f"o{index}", side, "0.01", "65000.00", account=f"a{index % 3}")
    events = market.events
    return [JournalRecord.of(events[i : i + 3]) for i in range(0, len(events), 3)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_record_is_settled_only_once_the_copy_holds_all_of_it() -> None:
    # Given records 1.. of a symbol, and a copy that holds the first record but not all the second
    batch = records(6)
    first, second = batch[0], batch[1]
    copy, sink, clock = Copy(), Recording(), Clock()
    copy.held = set(range(1, second.last_seq))  # the second's last seq has not replicated
    gate = ReplicationGate(sink, copy, timeout_s=1.0, poll_s=0.1, clock=clock, sleep=clock.sleep)
    positions: dict[str, int] = {}
    # When the first is consumed, it is settled
    consume(gate, first, positions)
    assert sink.applied == list(range(first.first_seq, first.last_seq + 1))
    # And the second waits, then fails as not replicated (retried by Lambda, never skipped)
    with pytest.raises(NotReplicated):
        consume(gate, second, positions)
    assert 1.0 <= clock.now <= 1.1 + 1e-9  # it waited its timeout, polling
    assert sink.applied[-1] == first.last_seq
    # When its last seq lands, a retry settles it
    copy.held.add(second.last_seq)
    consume(gate, second, positions)
    assert sink.applied[-1] == second.last_seq


def test_a_hole_in_the_copy_holds_settlement_even_when_later_seqs_arrived() -> None:
    # Given a copy that holds seqs after the record but misses one inside it (replication is per
    # item, in no promised order)
    batch = records(4)
    record = batch[0]
    copy = Copy()
    copy.held = set(range(1, 100)) - {record.first_seq + 1}
    clock = Clock()
    gate = ReplicationGate(
        Recording(), copy, timeout_s=0.5, poll_s=0.1, clock=clock, sleep=clock.sleep
    )
    # Then the gate waits rather than settle a record DR could not rebuild
    with pytest.raises(NotReplicated):
        gate.wait_for(record.symbol, record.last_seq)


def test_the_gate_remembers_how_far_the_copy_is_whole() -> None:
    copy, clock = Copy(), Clock()
    copy.held = set(range(1, 51))
    gate = ReplicationGate(Recording(), copy, clock=clock, sleep=clock.sleep)
    gate.wait_for("S", 30)
    gate.wait_for("S", 20)  # known whole through 30: no read
    gate.wait_for("S", 50)  # reads only 31..50
    assert copy.calls == 2


def test_the_dynamodb_copy_counts_the_seqs_the_other_region_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``Select=COUNT`` with a ``BETWEEN`` key condition on the sort key ("Query", DynamoDB API
    Reference: Select COUNT returns the number of matching items, not the items)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-west-2")
        spec = next(s for s in TABLE_SPECS if s.logical_name == "events")
        client.create_table(**spec.create_table_kwargs("events"))
        for seq in [*range(1, 11), 12]:
            client.put_item(
                TableName="events",
                Item={"symbol": {"S": "BTC-USD"}, "seq": {"N": str(seq)}, "payload": {"B": b"x"}},
            )
        copy = DynamoReplicaCopy(client, "events")
        assert copy.count_between("BTC-USD", 1, 10) == 10
        assert copy.count_between("BTC-USD", 5, 12) == 7  # 11 is missing
        assert copy.count_between("ETH-USD", 1, 10) == 0


def test_a_cold_gate_counts_only_past_what_the_consumer_had_applied() -> None:
    # Given a fresh container whose consumer had applied the symbol through the record's start
    batch = records(8)
    record = batch[-1]
    copy, clock = Copy(), Clock()
    copy.held = set(range(record.first_seq, record.last_seq + 1))  # older seqs: not asked for
    sink = Recording()
    sink.applied = list(range(1, record.first_seq))
    gate = ReplicationGate(sink, copy, clock=clock, sleep=clock.sleep)
    # When it settles the record, it counts only the record's own seqs in the other region
    consume(gate, record, {})
    assert copy.calls == 1
    assert sink.applied[-1] == record.last_seq
