"""The orders table's sparse ``pending_new`` index on moto's DynamoDB, as the reconciler and the
dead-letter consumer use it through their functions' composition roots."""

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from exchange.domain import CancelOrder, OrderStatus
from exchange.ids import command_id
from exchange.orders.reconcile import DynamoPendingOrders, PendingOrder
from exchange.settings import ReconcilerSettings
from exchange.tables import (
    OPEN_ORDERS_KEY,
    TABLE_SPECS,
    OrderKeyRecord,
    OrderRecord,
    bind_tables,
    symbol_status_key,
)
from exchange.tables.models import pending_since
from exchange.testing.fakes import InMemoryCommandSink
from lambdas.reconciler.handler import compose

S = 1_000_000_000
NOW = 50_000 * S


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReconcilerSettings]:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with mock_aws():
        settings = ReconcilerSettings()
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        for spec in TABLE_SPECS:
            dynamodb.create_table(
                **spec.create_table_kwargs(getattr(settings, spec.settings_field))
            )
        bind_tables(settings)
        yield settings


def record(order_id: str, age_s: int, *, symbol: str = "BTC-USD", status: str = "PENDING_NEW",
           pending: bool | None = None) -> None:  # fmt: skip
    """An order row as the API writes it (``pending_new_ns`` while PENDING_NEW); ``pending``
    forces the attribute on or off (a writer that forgot to remove it)."""
    created = NOW - age_s * S
    keep = pending if pending is not None else status == "PENDING_NEW"
    OrderRecord(
        account_id="alice", order_id=order_id, symbol_status=symbol_status_key(symbol, status,
        order_id), client_order_id=order_id, symbol=symbol, status=status, side="BUY",
        order_type="LIMIT", tif="GTC", qty="0.5", price="65000.00", created_ns=created,
        updated_ns=created, open_order_id=order_id,
        pending_new_ns=created if keep else pending_since(status, created),
    ).save()  # fmt: skip


def in_index(symbol: str = "BTC-USD") -> list[str]:
    return sorted(row.order_id for row in OrderRecord.pending_new.query(symbol))


@pytest.mark.usefixtures("tables")
def test_orders_pending_past_the_cutoff_are_found_per_symbol_oldest_first() -> None:
    record("o-old", 300)
    record("o-late", 90)
    record("o-young", 10)
    record("o-eth", 300, symbol="ETH-USD")
    record("o-live", 300, status="NEW")
    found = DynamoPendingOrders().older_than("BTC-USD", NOW - 60 * S, limit=10)
    assert [order.order_id for order in found] == ["o-old", "o-late"]
    assert found[0] == PendingOrder("alice", "o-old", "BTC-USD", NOW - 300 * S)
    assert in_index() == ["o-late", "o-old", "o-young"]  # only PENDING_NEW rows are indexed


@pytest.mark.usefixtures("tables")
def test_an_entry_left_on_an_order_that_moved_on_is_skipped_and_removed() -> None:
    # Given an order the recorder moved to NEW without removing its pending_new_ns
    record("o-moved", 300, status="NEW", pending=True)
    assert in_index() == ["o-moved"]
    # Then it is not reconciled, and its index entry is gone
    assert DynamoPendingOrders().older_than("BTC-USD", NOW, limit=10) == []
    assert in_index() == []
    assert OrderRecord.get("alice", "o-moved").status == "NEW"


@pytest.mark.usefixtures("tables")
def test_reject_moves_only_a_pending_order_and_takes_it_out_of_both_indexes() -> None:
    record("o-dead", 300)
    order = PendingOrder("alice", "o-dead", "BTC-USD", NOW - 300 * S)
    orders = DynamoPendingOrders()
    assert orders.reject(order, reason="DEAD_LETTERED", detail="d", now_ns=NOW) is True
    assert orders.reject(order, reason="DEAD_LETTERED", detail="d", now_ns=NOW) is False
    row = OrderRecord.get("alice", "o-dead")
    assert (row.status, row.reject_reason, row.open_qty) == ("REJECTED", "DEAD_LETTERED", "0")
    assert {"pending_new_ns", "open_order_id"}.isdisjoint(row.attribute_values)
    assert row.symbol_status == symbol_status_key("BTC-USD", "REJECTED", "o-dead")
    assert orders.status("alice", "o-dead") == (OrderStatus.REJECTED, "DEAD_LETTERED")
    assert orders.status("alice", "missing") is None


def test_the_reconcilers_composition_root_publishes_the_cancels(
    tables: ReconcilerSettings,
) -> None:
    # Given the function's graph on moto, with an in-memory broker
    record("o-late", 3_600)
    sink = InMemoryCommandSink()
    reconciler = compose(tables, sink=sink)
    # When it runs (its clock is the real one: the order is long past the timeout)
    run = reconciler.run()
    # Then the order got its cancel
    assert run.reconciled == 1
    (cancel,) = sink.commands
    assert isinstance(cancel, CancelOrder)
    assert cancel.command_id == command_id("alice", "o-late", "reconcile")


@pytest.mark.usefixtures("tables")
def test_a_dead_lettered_order_rejected_gives_its_open_order_slot_back_once() -> None:
    # Given a PENDING_NEW order that took one of the account's open-order slots
    record("o-dead", 120)
    OrderKeyRecord("alice", OPEN_ORDERS_KEY, open_orders=1).save()
    orders = DynamoPendingOrders()
    pending = PendingOrder("alice", "o-dead", "BTC-USD", NOW - 120 * S)
    # When the dead-letter consumer rejects it, and a redelivery tries again
    first = orders.reject(pending, reason="DEAD_LETTERED", detail="dlq", now_ns=NOW)
    second = orders.reject(pending, reason="DEAD_LETTERED", detail="dlq", now_ns=NOW)
    # Then it is REJECTED once, and its slot is back exactly once
    assert (first, second) == (True, False)
    assert OrderRecord.get("alice", "o-dead").status == OrderStatus.REJECTED.value
    assert OrderKeyRecord.get("alice", OPEN_ORDERS_KEY).open_orders == 0
