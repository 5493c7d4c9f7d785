"""The migrate function on deploy, with the instruments table named in its environment (as the
catalog gives it): after the ledger, version 1 of each instruments-file symbol, once; a second
deploy writes nothing."""

import secrets
from collections.abc import Iterator

import pytest

from exchange.instruments.store_dynamo import DynamoInstrumentStore
from exchange.settings import MigrateSettings
from exchange.testing.lambda_events import LambdaContextStub
from lambdas.migrate.handler import compose, handler
from tests.integration.instruments.conftest import Table
from tests.integration.ledger.conftest import _create_database as create_database
from tests.integration.ledger.conftest import _drop_database as drop_database
from tests.unit.instruments.conftest import FILE


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    name = f"ledger_test_{secrets.token_hex(4)}_seed"
    url = create_database(postgres_url, name)
    try:
        yield url
    finally:
        drop_database(postgres_url, name)


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_each_deploy_seeds_the_symbols_the_store_lacks(database: str, table: Table) -> None:
    settings = MigrateSettings(database_url=database, instruments_table=table.name)
    migration = compose(settings)
    first = handler({"RequestType": "Create"}, LambdaContextStub(), deploy=migration)
    again = handler({"RequestType": "Update"}, LambdaContextStub(), deploy=migration)
    assert (first["instruments_seeded"], again["instruments_seeded"]) == (3, 0)
    assert again["applied"] == []
    listings = DynamoInstrumentStore().listings()
    assert sorted(listing.symbol for listing in listings) == FILE.symbols
    assert {(listing.version, listing.shard, listing.actor) for listing in listings} == {
        (1, "s1", "seed")
    }
