"""``LiveCatalog``: the file's instruments overlaid by the store's listings, refreshed lazily
(every ``ttl_s``; at most once a second for a symbol it does not know), each served with its
status; a store that fails keeps the last good catalog."""

from decimal import Decimal

import pytest

from exchange.domain import InstrumentStatus
from exchange.domain.errors import UnknownInstrument
from exchange.instruments.errors import InstrumentStoreUnavailable
from exchange.instruments.live import LiveCatalog
from exchange.instruments.model import Listing
from exchange.instruments.store import InMemoryInstrumentStore
from exchange.messaging import ShardMap
from exchange.observability import metrics
from tests.unit.instruments.conftest import ACME, BTC, FILE, SHARDS, Clock


class CountingStore(InMemoryInstrumentStore):
    """Counts the catalog's reads; fails them while ``down``."""

    def __init__(self) -> None:
        super().__init__(clock=lambda: 1)
        self.reads = 0
        self.down = False

    def listings(self) -> list[Listing]:
        self.reads += 1
        if self.down:
            raise InstrumentStoreUnavailable("ProvisionedThroughputExceededException")
        return super().listings()


def live(store: CountingStore | None, clock: Clock) -> LiveCatalog:
    return LiveCatalog(store, FILE, shards=SHARDS, ttl_s=5.0, clock=clock)


def test_without_a_store_it_serves_the_files_instruments_as_version_0() -> None:
    catalog = live(None, Clock())
    assert catalog.symbols == FILE.symbols
    assert list(catalog) == list(FILE)
    assert catalog.get("BTC-USD") == BTC
    listing = catalog.listing("ETH-USD")
    assert (listing.version, listing.shard, listing.actor) == (0, "s1", "file")
    with pytest.raises(UnknownInstrument):
        catalog.get("ACME-USD")


def test_the_stores_listings_replace_the_files_and_add_new_symbols() -> None:
    # Given a store seeded from the file, BTC-USD's fee changed and ACME-USD listed on s2
    store, clock = CountingStore(), Clock()
    store.seed(FILE, SHARDS, now_ns=1)
    store.put(
        BTC.model_copy(update={"taker_fee_bps": 9}),
        shard="s1",
        version=2,
        actor="ops",
        reason="fees",
    )
    store.put(ACME, shard="s2", version=1, actor="ops", reason="new")
    catalog = live(store, clock)
    # Then the catalog serves version 2 of BTC-USD and ACME-USD with the others
    assert catalog.get("BTC-USD").taker_fee_bps == 9
    assert catalog.listing("BTC-USD").version == 2
    assert catalog.listing("ETH-USD").version == 1
    assert sorted(catalog.symbols) == ["ACME-USD", "BTC-USD", "ETH-USD", "SOL-USD"]
    assert len(catalog) == 4
    assert "ACME-USD" in catalog
    assert catalog.get("ACME-USD") == ACME


def test_a_change_is_served_once_the_ttl_has_passed_and_not_before() -> None:
    store, clock = CountingStore(), Clock()
    store.put(ACME, shard="s2", version=1, actor="ops", reason="new")
    catalog = live(store, clock)
    assert catalog.get("ACME-USD").max_qty == Decimal("10000")
    assert store.reads == 1
    # When an operator changes it
    store.put(
        ACME.model_copy(update={"max_qty": Decimal("500")}),
        shard="s2",
        version=2,
        actor="ops",
        reason="limit",
    )
    # Then within the TTL the catalog serves what it read, without reading again
    clock.advance(4.9)
    assert catalog.get("ACME-USD").max_qty == Decimal("10000")
    assert store.reads == 1
    # And from the TTL on, the change
    clock.advance(0.1)
    assert catalog.get("ACME-USD").max_qty == Decimal("500")
    assert store.reads == 2


def test_a_symbol_listed_a_moment_ago_is_read_at_once_but_at_most_once_a_second() -> None:
    store, clock = CountingStore(), Clock()
    catalog = live(store, clock)
    assert catalog.get("BTC-USD") == BTC  # the first read
    clock.advance(1.0)
    # When ACME-USD is listed just after, and asked for before the TTL
    store.put(ACME, shard="s2", version=1, actor="ops", reason="new")
    assert catalog.get("ACME-USD") == ACME  # read again for the unknown symbol
    assert store.reads == 2
    # Then made-up symbols cost at most one read a second
    for _ in range(50):
        with pytest.raises(UnknownInstrument):
            catalog.get("NOPE-USD")
    assert store.reads == 2
    clock.advance(1.0)
    with pytest.raises(UnknownInstrument):
        catalog.get("NOPE-USD")
    assert "NOPE-USD" not in catalog
    assert store.reads == 3


def test_an_outage_keeps_the_last_good_catalog_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a catalog that read ACME-USD
    store, clock = CountingStore(), Clock()
    store.put(ACME, shard="s2", version=1, actor="ops", reason="new")
    catalog = live(store, clock)
    assert catalog.get("ACME-USD") == ACME
    # When the store fails
    store.down = True
    clock.advance(5.0)
    # Then what it knew is still served, and the failure logged
    assert catalog.get("ACME-USD") == ACME
    assert catalog.shard_of("ACME-USD") == "s2"
    assert store.reads == 2
    assert "instruments store unreadable" in caplog.text
    assert "InstrumentsRefreshFailed" in metrics.metric_set
    metrics.clear_metrics()
    # And a symbol it never knew is unknown, with no more than one read a second
    with pytest.raises(UnknownInstrument):
        catalog.get("SOL-BTC")
    assert store.reads == 2
    # And once the store answers again, the catalog catches up
    store.down = False
    store.set_status("ACME-USD", InstrumentStatus.HALTED, 3)
    clock.advance(5.0)
    assert catalog.status("ACME-USD") is InstrumentStatus.HALTED


def test_a_store_down_from_the_start_leaves_the_files_instruments() -> None:
    store = CountingStore()
    store.down = True
    catalog = live(store, Clock())
    assert catalog.get("BTC-USD") == BTC
    assert catalog.symbols == FILE.symbols
    metrics.clear_metrics()


def test_each_instrument_carries_the_status_the_engine_journaled() -> None:
    store, clock = CountingStore(), Clock()
    store.seed(FILE, SHARDS, now_ns=1)
    store.set_status("ETH-USD", InstrumentStatus.CANCEL_ONLY, 12)
    catalog = live(store, clock)
    assert catalog.status("ETH-USD") is InstrumentStatus.CANCEL_ONLY
    assert catalog.get("ETH-USD").status is InstrumentStatus.CANCEL_ONLY
    assert not catalog.get("ETH-USD").is_trading
    assert catalog.listing("ETH-USD").status_seq == 12
    assert {i.symbol: i.status for i in catalog}["ETH-USD"] is InstrumentStatus.CANCEL_ONLY
    assert catalog.status("BTC-USD") is InstrumentStatus.TRADING


def test_the_shard_is_the_static_maps_else_the_listings() -> None:
    store, clock = CountingStore(), Clock()
    store.put(ACME, shard="s2", version=1, actor="ops", reason="new")
    catalog = live(store, clock)
    assert catalog.shard_of("BTC-USD") == "s1"
    assert catalog.shard_of("ACME-USD") == "s2"
    assert catalog.shard_for("NOPE-USD") is None
    with pytest.raises(UnknownInstrument, match="no shard trades"):
        catalog.shard_of("NOPE-USD")


def test_a_shard_map_routes_a_runtime_listing_through_the_catalog() -> None:
    # The orders function's ShardMap: shards.json, then the live catalog for the rest
    store, clock = CountingStore(), Clock()
    catalog = live(store, clock)
    shards = ShardMap.demo(fallback=catalog.shard_for)
    assert shards.shard_of("BTC-USD") == "s1"
    clock.advance(1.0)
    store.put(ACME, shard="s2", version=1, actor="ops", reason="new")
    assert shards.shard_of("ACME-USD") == "s2"
    with pytest.raises(UnknownInstrument):
        shards.shard_of("NOPE-USD")
    assert shards.shards == {"s1": ["BTC-USD", "ETH-USD", "SOL-USD"]}  # the static map


def test_refresh_reads_now_whatever_the_ttl() -> None:
    store, clock = CountingStore(), Clock()
    catalog = live(store, clock)
    catalog.listings()
    store.put(ACME, shard="s2", version=1, actor="ops", reason="new")
    catalog.refresh()
    assert [listing.symbol for listing in catalog.listings()][-1] == "ACME-USD"
    assert store.reads == 2


def test_a_listing_just_written_is_served_before_any_read_sees_it() -> None:
    """A Scan is eventually consistent (DynamoDB "Read consistency"): the writer adopts what it
    wrote, so a command for the new symbol is routed to its shard at once."""
    store, clock = CountingStore(), Clock()
    catalog = live(store, clock)
    assert catalog.shard_for("ACME-USD") is None
    written = InMemoryInstrumentStore(clock=lambda: 1).put(
        ACME, shard="s2", version=1, actor="ops", reason="new"
    )  # a write the catalog's store does not show yet
    catalog.adopt(written)
    assert (catalog.get("ACME-USD"), catalog.shard_for("ACME-USD")) == (ACME, "s2")
    # And an older version than the one served changes nothing
    catalog.adopt(Listing(instrument=ACME, version=0, shard="s9", status=ACME.status, actor="ops"))
    assert catalog.shard_for("ACME-USD") == "s2"
