"""The table definitions: one source for handlers (pynamodb), local mode and the CDK app."""

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from exchange.settings import ConsumerSettings, TableSettings
from exchange.tables import (
    TABLE_MODELS,
    TABLE_SPECS,
    OrderRecord,
    bind_tables,
    table_spec,
)


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConsumerSettings]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with mock_aws():
        settings = ConsumerSettings(orders_table="t-orders")
        client = boto3.client("dynamodb", region_name="us-east-1")
        for spec in TABLE_SPECS:
            client.create_table(**spec.create_table_kwargs(getattr(settings, spec.settings_field)))
        bind_tables(settings)
        yield settings


def test_each_model_binds_its_own_table_name(tables: ConsumerSettings) -> None:
    # Given settings with distinct names, When bound, Then no two models share a table
    names = [model.Meta.table_name for model in TABLE_MODELS]
    assert names[0] == "t-orders"
    assert len(set(names)) == len(TABLE_MODELS)


def test_spec_round_trips_through_create_table_and_the_model(tables: ConsumerSettings) -> None:
    # Given a table created from the spec, When the model writes and queries its index
    OrderRecord(
        account_id="a-1",
        order_id="0001",
        symbol_status="BTC-USD#NEW#0001",
        client_order_id="c-1",
        symbol="BTC-USD",
        status="NEW",
        side="BUY",
        order_type="LIMIT",
        tif="GTC",
        qty="1.5",
        price="65000.00",
        created_ns=1,
        updated_ns=1,
    ).save()
    found = list(
        OrderRecord.by_symbol_status.query(
            "a-1", OrderRecord.symbol_status.startswith("BTC-USD#NEW#")
        )
    )
    # Then the item comes back through the GSI with its exact decimal strings
    assert [(o.order_id, o.qty, o.price) for o in found] == [("0001", "1.5", "65000.00")]


def test_every_settings_field_names_a_table() -> None:
    assert {spec.settings_field for spec in TABLE_SPECS} == {
        name for name in TableSettings.model_fields if name.endswith("_table")
    }
    assert table_spec(OrderRecord).sort_key is not None
