"""The DynamoDB instruments store on moto: versions, the race for a version, the status only
forwards, a listing's seq for its version only, seeding once, and the live catalog over it.

``put`` is one ``TransactWriteItems`` (the version's item under ``attribute_not_exists``, and
``current`` under its version check): "The actions are completed atomically so that either all
of them succeed, or all of them fail", and a failed condition cancels the whole transaction
("TransactWriteItems", Amazon DynamoDB API reference,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html;
"Amazon DynamoDB Transactions: How it works", developer guide). In a global table those
conditions hold in the region that takes the write ("Using transactional APIs with global
tables", same page; "Write modes with DynamoDB global tables"): the admin API writes in one.
"""

from decimal import Decimal

import pytest

from exchange.domain import InstrumentStatus
from exchange.domain.errors import UnknownInstrument
from exchange.instruments.errors import ImmutableField, VersionConflict
from exchange.instruments.live import LiveCatalog
from exchange.instruments.model import Listing
from exchange.instruments.store_dynamo import DynamoInstrumentStore
from exchange.tables import CURRENT, version_record
from tests.integration.instruments.conftest import Table
from tests.unit.instruments.conftest import ACME, BTC, FILE, SHARDS, Clock

FEES = ACME.model_copy(update={"taker_fee_bps": 9, "max_qty": Decimal("20000")})


class StaleStore(DynamoInstrumentStore):
    """An operator who read the listing before another one wrote the next version."""

    def __init__(self, seen: Listing | None) -> None:
        super().__init__(sleep=lambda _: None)
        self._seen = seen

    def get(self, symbol: str) -> Listing | None:
        return self._seen


def test_versions_1_and_2_are_kept_and_current_is_the_newest(table: Table) -> None:
    store = DynamoInstrumentStore()
    first = store.put(ACME, shard="s2", version=1, actor="alice", reason="new", now_ns=10)
    assert store.get("ACME-USD") == first
    # Given the engine halted it and listed version 1
    assert store.set_status("ACME-USD", InstrumentStatus.HALTED, 4)
    assert store.mark_listed("ACME-USD", 1, 1)
    # When version 2 is written
    second = store.put(FEES, shard="s2", version=2, actor="bob", reason="fees", now_ns=20)
    # Then it is in force with the journaled status kept, not yet listed
    current = store.get("ACME-USD")
    assert current == second
    assert current is not None
    assert (current.version, current.status, current.status_seq) == (2, "HALTED", 4)
    assert current.listed_seq is None
    assert current.instrument.taker_fee_bps == 9
    assert (current.actor, current.reason, current.created_ns) == ("bob", "fees", 20)
    # And both versions are there, oldest first, as written
    history = store.history("ACME-USD")
    assert [(v.version, v.actor, v.instrument.taker_fee_bps) for v in history] == [
        (1, "alice", 5),
        (2, "bob", 9),
    ]
    assert table.records("ACME-USD") == [CURRENT, version_record(1), version_record(2)]
    assert store.listings() == [current]


def test_of_two_operators_writing_version_2_the_second_gets_a_conflict(table: Table) -> None:
    store = DynamoInstrumentStore()
    store.put(ACME, shard="s2", version=1, actor="alice", reason="new")
    seen = store.get("ACME-USD")
    # Alice writes version 2 first
    store.put(FEES, shard="s2", version=2, actor="alice", reason="fees")
    # Bob, who read version 1, writes his own version 2
    slower = ACME.model_copy(update={"maker_fee_bps": -1})
    with pytest.raises(VersionConflict):
        StaleStore(seen).put(slower, shard="s2", version=2, actor="bob", reason="rebate")
    # Alice's is in force and is version 2
    current = store.get("ACME-USD")
    assert current is not None
    assert (current.actor, current.instrument) == ("alice", FEES)
    assert [v.actor for v in store.history("ACME-USD")] == ["alice", "alice"]


def test_a_failed_condition_on_current_writes_no_version_item(table: Table) -> None:
    # Given current moved on to version 3 while v#2 was never written (only a race, or a
    # hand edit, leaves the table so): the version item's own condition would pass
    store = DynamoInstrumentStore()
    store.put(ACME, shard="s2", version=1, actor="alice", reason="new")
    seen = store.get("ACME-USD")
    table.dynamodb.update_item(
        TableName=table.name,
        Key={"symbol": {"S": "ACME-USD"}, "record": {"S": CURRENT}},
        UpdateExpression="SET version = :v",
        ExpressionAttributeValues={":v": {"N": "3"}},
    )
    # When a writer who saw version 1 writes version 2
    with pytest.raises(VersionConflict):
        StaleStore(seen).put(FEES, shard="s2", version=2, actor="bob", reason="fees")
    # Then the transaction wrote nothing: no v#2 either
    assert table.item("ACME-USD", version_record(2)) is None


def test_a_failed_condition_on_the_version_item_leaves_current_alone(table: Table) -> None:
    store = DynamoInstrumentStore()
    store.put(ACME, shard="s2", version=1, actor="alice", reason="new")
    table.dynamodb.put_item(
        TableName=table.name,
        Item={"symbol": {"S": "ACME-USD"}, "record": {"S": version_record(2)}},
    )
    with pytest.raises(VersionConflict):
        store.put(FEES, shard="s2", version=2, actor="bob", reason="fees")
    current = table.item("ACME-USD", CURRENT)
    assert current is not None
    assert current["version"] == {"N": "1"}
    assert current["actor"] == {"S": "alice"}


def test_a_new_symbol_listed_twice_at_once_is_written_once(table: Table) -> None:
    DynamoInstrumentStore().put(ACME, shard="s2", version=1, actor="alice", reason="new")
    with pytest.raises(VersionConflict):
        StaleStore(None).put(FEES, shard="s2", version=1, actor="bob", reason="new")
    assert [v.actor for v in DynamoInstrumentStore().history("ACME-USD")] == ["alice"]


def test_a_change_of_a_fixed_field_is_refused_before_anything_is_written(table: Table) -> None:
    store = DynamoInstrumentStore()
    store.put(ACME, shard="s2", version=1, actor="alice", reason="new")
    with pytest.raises(ImmutableField, match="lot_size"):
        store.put(
            ACME.model_copy(update={"lot_size": Decimal("10")}),
            shard="s2",
            version=2,
            actor="bob",
            reason="",
        )
    assert table.records("ACME-USD") == [CURRENT, version_record(1)]


def test_the_status_only_moves_forward(table: Table) -> None:
    store = DynamoInstrumentStore()
    assert not store.set_status("ACME-USD", InstrumentStatus.HALTED, 1)  # not listed
    assert table.item("ACME-USD", CURRENT) is None
    store.put(ACME, shard="s2", version=1, actor="alice", reason="new")
    assert store.set_status("ACME-USD", InstrumentStatus.HALTED, 5)
    assert not store.set_status("ACME-USD", InstrumentStatus.TRADING, 5)
    assert not store.set_status("ACME-USD", InstrumentStatus.TRADING, 2)
    assert store.get("ACME-USD").status is InstrumentStatus.HALTED  # type: ignore[union-attr]
    assert store.set_status("ACME-USD", InstrumentStatus.TRADING, 6)
    listing = store.get("ACME-USD")
    assert listing is not None
    assert (listing.status, listing.status_seq) == (InstrumentStatus.TRADING, 6)


def test_a_listing_seq_is_recorded_for_the_version_in_force_only(table: Table) -> None:
    store = DynamoInstrumentStore()
    assert not store.mark_listed("ACME-USD", 1, 1)
    store.put(ACME, shard="s2", version=1, actor="alice", reason="new")
    store.put(FEES, shard="s2", version=2, actor="alice", reason="fees")
    assert not store.mark_listed("ACME-USD", 1, 1)
    assert store.mark_listed("ACME-USD", 2, 8)
    assert store.mark_listed("ACME-USD", 2, 8)  # a redelivery
    assert store.get("ACME-USD").listed_seq == 8  # type: ignore[union-attr]


def test_seeding_is_idempotent_and_leaves_operators_changes(table: Table) -> None:
    store = DynamoInstrumentStore()
    assert store.seed(FILE, SHARDS, now_ns=1) == 3
    store.put(
        BTC.model_copy(update={"taker_fee_bps": 1}),
        shard="s1",
        version=2,
        actor="ops",
        reason="promo",
    )
    assert store.seed(FILE, SHARDS, now_ns=2) == 0
    by_symbol = {listing.symbol: listing for listing in store.listings()}
    assert sorted(by_symbol) == FILE.symbols
    assert by_symbol["BTC-USD"].version == 2
    assert (by_symbol["ETH-USD"].version, by_symbol["ETH-USD"].actor) == (1, "seed")
    assert by_symbol["ETH-USD"].instrument == FILE.get("ETH-USD")


def test_the_live_catalog_serves_the_table_and_the_last_good_one_when_it_goes(
    table: Table,
) -> None:
    store, clock = DynamoInstrumentStore(), Clock()
    store.seed(FILE, SHARDS, now_ns=1)
    catalog = LiveCatalog(store, FILE, shards=SHARDS, clock=clock)
    assert catalog.listing("BTC-USD").version == 1
    clock.advance(1.0)
    store.put(ACME, shard="s2", version=1, actor="ops", reason="new")
    assert catalog.shard_of("ACME-USD") == "s2"
    # When the table goes away, the catalog serves what it read
    table.dynamodb.delete_table(TableName=table.name)
    clock.advance(5.0)
    assert catalog.get("ACME-USD") == ACME
    with pytest.raises(UnknownInstrument):
        catalog.get("SOL-BTC")
    from exchange.observability import metrics  # noqa: PLC0415

    metrics.clear_metrics()
