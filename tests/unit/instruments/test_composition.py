"""``live_catalog(settings)`` reads the store only when the environment names the instruments
table (the catalog's functions with ``"instruments"`` among their tables); the migrate function
seeds it."""

from typing import Any

import pytest

from exchange.instruments.composition import instrument_store, live_catalog, static_shards
from exchange.instruments.store import InMemoryInstrumentStore
from exchange.instruments.store_dynamo import DynamoInstrumentStore
from exchange.settings import MigrateSettings, OrdersSettings, RecorderSettings
from lambdas.migrate.handler import compose
from tests.unit.instruments.conftest import FILE


def test_without_the_tables_name_the_catalog_is_the_files_and_touches_no_aws() -> None:
    catalog = live_catalog(RecorderSettings())
    assert catalog.symbols == FILE.symbols
    assert instrument_store(RecorderSettings()) is None


def test_with_the_tables_name_the_store_is_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    bound: list[Any] = []
    monkeypatch.setattr("exchange.tables.bind_tables", bound.append)
    settings = RecorderSettings(instruments_table="exchange-test-instruments")
    assert isinstance(instrument_store(settings), DynamoInstrumentStore)
    assert bound == [settings]  # bound before the first read


def test_the_shard_map_is_the_settings_where_they_have_one() -> None:
    shards = {"a": ["BTC-USD"], "b": ["ETH-USD", "SOL-USD"]}
    orders = OrdersSettings(database_url="postgresql://x/y", shards=shards)
    assert static_shards(orders).shard_of("SOL-USD") == "b"
    assert static_shards(RecorderSettings()).shard_of("SOL-USD") == "s1"
    assert live_catalog(orders).shard_of("ETH-USD") == "b"


def test_the_deploy_seeds_the_store_with_the_files_symbols_once() -> None:
    store = InMemoryInstrumentStore()
    migration = compose(MigrateSettings(database_url="postgresql://x/y"), store=store)
    assert migration.seed is not None
    assert migration.seed() == 3
    assert migration.seed() == 0
    assert sorted(listing.symbol for listing in store.listings()) == FILE.symbols


def test_without_an_instruments_table_the_deploy_seeds_nothing() -> None:
    assert compose(MigrateSettings(database_url="postgresql://x/y")).seed is None
