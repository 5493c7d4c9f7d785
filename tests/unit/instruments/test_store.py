"""The store's semantics, on the in-memory store (the DynamoDB store passes the same scenarios
on moto: tests/integration/instruments): one version at a time, fields fixed at listing, the
status only forwards, a listing's seq only for its version, seeding once."""

from decimal import Decimal

import pytest

from exchange.domain import InstrumentCatalog, InstrumentStatus
from exchange.domain.errors import ConfigurationError, InvalidInstrument
from exchange.domain.instruments import IMMUTABLE_FIELDS
from exchange.instruments.errors import ImmutableField, VersionConflict
from exchange.instruments.model import SEED_ACTOR, Listing
from exchange.instruments.store import InMemoryInstrumentStore
from exchange.messaging import ShardMap
from tests.unit.instruments.conftest import ACME, BTC, FILE, SHARDS


def listed(store: InMemoryInstrumentStore) -> InMemoryInstrumentStore:
    store.put(ACME, shard="s2", version=1, actor="ops", reason="new equity", now_ns=10)
    return store


def test_a_new_symbol_is_version_1_with_its_definitions_status() -> None:
    store = listed(InMemoryInstrumentStore())
    listing = store.get("ACME-USD")
    assert listing == Listing(
        instrument=ACME,
        version=1,
        shard="s2",
        status=InstrumentStatus.TRADING,
        actor="ops",
        reason="new equity",
        created_ns=10,
    )
    assert store.listings() == [listing]
    assert store.history("ACME-USD") == [listing]


def test_a_change_is_the_next_version_and_keeps_the_journaled_status() -> None:
    # Given ACME-USD listed, halted by the engine at seq 4, its listing seen at seq 1
    store = listed(InMemoryInstrumentStore())
    assert store.set_status("ACME-USD", InstrumentStatus.HALTED, 4)
    assert store.mark_listed("ACME-USD", 1, 1)
    # When an operator raises the taker fee (the definition says TRADING)
    cheaper = ACME.model_copy(update={"taker_fee_bps": 9, "max_qty": Decimal("20000")})
    written = store.put(cheaper, shard="s2", version=2, actor="ops", reason="fees", now_ns=20)
    # Then version 2 is in force, still HALTED, not yet listed by the engine
    assert store.get("ACME-USD") == written
    assert (written.version, written.status, written.status_seq) == (2, "HALTED", 4)
    assert written.instrument.taker_fee_bps == 9
    assert written.instrument.status is InstrumentStatus.HALTED
    assert written.listed_seq is None
    assert [v.version for v in store.history("ACME-USD")] == [1, 2]


@pytest.mark.parametrize("version", [1, 3, 0])
def test_any_version_but_the_next_is_refused_and_writes_nothing(version: int) -> None:
    store = listed(InMemoryInstrumentStore())
    error = InvalidInstrument if version == 0 else VersionConflict
    with pytest.raises(error):
        store.put(ACME, shard="s2", version=version, actor="ops", reason="")
    assert [v.version for v in store.history("ACME-USD")] == [1]
    assert store.get("ACME-USD").version == 1  # type: ignore[union-attr]


def test_a_first_listing_must_be_version_1() -> None:
    with pytest.raises(VersionConflict, match="version 0 is in force"):
        InMemoryInstrumentStore().put(ACME, shard="s2", version=2, actor="ops", reason="")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tick_size", Decimal("0.05")),
        ("lot_size", Decimal("0.5")),
        ("asset_class", "CRYPTO"),
    ],
)
def test_a_change_of_a_field_fixed_at_listing_is_refused_naming_it(
    field: str, value: object
) -> None:
    store = listed(InMemoryInstrumentStore())
    changed = ACME.model_copy(update={field: value})
    with pytest.raises(ImmutableField, match=field) as raised:
        store.put(changed, shard="s2", version=2, actor="ops", reason="")
    assert raised.value.field == field
    assert raised.value.code == "immutable_field"
    assert store.get("ACME-USD").version == 1  # type: ignore[union-attr]


def test_every_field_the_engine_builds_on_is_fixed() -> None:
    # A valid instrument's symbol is BASE-QUOTE, so a new base or quote is a new symbol; an
    # unvalidated copy that keeps the symbol but changes the quote is refused all the same.
    assert set(IMMUTABLE_FIELDS) == {
        "symbol",
        "base",
        "quote",
        "tick_size",
        "lot_size",
        "asset_class",
    }
    store = listed(InMemoryInstrumentStore())
    with pytest.raises(ImmutableField, match="quote"):
        store.put(
            ACME.model_copy(update={"quote": "EUR"}), shard="s2", version=2, actor="o", reason=""
        )


def test_a_numerically_equal_tick_is_the_same_tick() -> None:
    store = listed(InMemoryInstrumentStore())
    same = ACME.model_copy(update={"tick_size": Decimal("0.010")})
    assert store.put(same, shard="s2", version=2, actor="ops", reason="").version == 2


def test_a_symbol_stays_on_its_shard() -> None:
    store = listed(InMemoryInstrumentStore())
    with pytest.raises(ImmutableField, match="shard") as raised:
        store.put(ACME, shard="s1", version=2, actor="ops", reason="")
    assert raised.value.field == "shard"


def test_the_status_only_moves_forward_in_seq() -> None:
    store = listed(InMemoryInstrumentStore())
    assert store.set_status("ACME-USD", InstrumentStatus.HALTED, 5)
    assert not store.set_status("ACME-USD", InstrumentStatus.TRADING, 5)  # a redelivery
    assert not store.set_status("ACME-USD", InstrumentStatus.TRADING, 3)  # an older event
    assert store.get("ACME-USD").status is InstrumentStatus.HALTED  # type: ignore[union-attr]
    assert store.set_status("ACME-USD", InstrumentStatus.POST_ONLY, 6)
    listing = store.get("ACME-USD")
    assert listing is not None
    assert (listing.status, listing.status_seq) == (InstrumentStatus.POST_ONLY, 6)
    assert listing.instrument.status is InstrumentStatus.POST_ONLY


def test_a_status_for_a_symbol_the_store_does_not_list_is_not_recorded() -> None:
    store = InMemoryInstrumentStore()
    assert not store.set_status("ACME-USD", InstrumentStatus.HALTED, 1)
    assert store.get("ACME-USD") is None


def test_a_listing_seq_is_kept_only_for_the_version_in_force() -> None:
    store = listed(InMemoryInstrumentStore())
    store.put(
        ACME.model_copy(update={"taker_fee_bps": 7}), shard="s2", version=2, actor="o", reason=""
    )
    assert not store.mark_listed("ACME-USD", 1, 1)  # the engine listed an older version
    assert store.mark_listed("ACME-USD", 2, 9)
    assert store.get("ACME-USD").listed_seq == 9  # type: ignore[union-attr]
    assert not store.mark_listed("SOL-BTC", 1, 1)


def test_seeding_writes_version_1_of_each_file_symbol_once() -> None:
    store = InMemoryInstrumentStore()
    assert store.seed(FILE, SHARDS, now_ns=1) == 3
    assert store.seed(FILE, SHARDS, now_ns=2) == 0
    btc = store.get("BTC-USD")
    assert btc is not None
    assert (btc.version, btc.shard, btc.actor, btc.created_ns) == (1, "s1", SEED_ACTOR, 1)
    assert btc.instrument == BTC


def test_seeding_leaves_a_symbol_an_operator_changed() -> None:
    store = InMemoryInstrumentStore()
    store.put(BTC, shard="s1", version=1, actor="ops", reason="early")
    store.put(
        BTC.model_copy(update={"taker_fee_bps": 1}),
        shard="s1",
        version=2,
        actor="ops",
        reason="promo",
    )
    assert store.seed(FILE, SHARDS, now_ns=1) == 2
    assert store.get("BTC-USD").version == 2  # type: ignore[union-attr]


def test_seeding_a_symbol_no_shard_trades_fails_the_deploy() -> None:
    store = InMemoryInstrumentStore()
    with pytest.raises(ConfigurationError, match="SOL-USD"):
        store.seed(FILE, ShardMap({"s1": ["BTC-USD", "ETH-USD"]}), now_ns=1)


def test_a_listing_serves_its_status_on_its_instrument() -> None:
    listing = Listing(
        instrument=BTC, version=0, shard="s1", status=InstrumentStatus.HALTED, actor="file"
    )
    assert listing.instrument.status is InstrumentStatus.HALTED
    assert listing.instrument.tick_size == BTC.tick_size
    assert BTC.status is InstrumentStatus.TRADING  # the file's own is left alone
    assert InstrumentCatalog([listing.instrument]).get("BTC-USD").is_trading is False
