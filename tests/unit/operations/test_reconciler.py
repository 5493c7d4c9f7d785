"""The reconciler settles orders the engine left PENDING_NEW: one idempotent cancel per order
past the timeout, through the function's handler on a scheduled event."""

import json

import pytest

from exchange.domain import CancelOrder, OrderStatus
from exchange.ids import command_id
from exchange.orders.reconcile import PendingOrder, Reconciler, reconcile_cancel
from exchange.testing.fakes import InMemoryCommandSink
from exchange.testing.lambda_events import LambdaContextStub, scheduled_event
from lambdas.reconciler.handler import handler
from tests.unit.operations.fakes import InMemoryPendingOrders

S = 1_000_000_000
NOW = 10_000 * S
TIMEOUT_S = 60


def reconciler(orders: InMemoryPendingOrders, sink: InMemoryCommandSink) -> Reconciler:
    return Reconciler(
        orders=orders,
        sink=sink,
        symbols=lambda: ["BTC-USD", "ETH-USD"],
        timeout_s=TIMEOUT_S,
        clock=lambda: NOW,
    )


def pending(order_id: str, age_s: int, symbol: str = "BTC-USD") -> PendingOrder:
    return PendingOrder("alice", order_id, symbol, NOW - age_s * S)


def test_an_order_pending_past_the_timeout_gets_the_one_cancel_that_settles_it() -> None:
    # Given an order PENDING_NEW for 90 s (the publish was ambiguous; the engine never answered)
    orders, sink = InMemoryPendingOrders(), InMemoryCommandSink()
    orders.add(pending("o-late", 90))
    # When the reconciler runs twice
    reconciler(orders, sink).run()
    reconciler(orders, sink).run()
    # Then it published a cancel of that order, with a command id that follows from the order,
    # so the engine acts on the first and drops the second
    first, second = sink.commands
    assert isinstance(first, CancelOrder)
    assert isinstance(second, CancelOrder)
    assert (first.symbol, first.order_id, first.account_id) == ("BTC-USD", "o-late", "alice")
    assert first.command_id == command_id("alice", "o-late", "reconcile") == second.command_id
    # And it changed no order itself: only the engine's answer settles it
    assert orders.status("alice", "o-late") == (OrderStatus.PENDING_NEW, None)


def test_orders_within_the_timeout_are_left_to_the_engine() -> None:
    orders, sink = InMemoryPendingOrders(), InMemoryCommandSink()
    orders.add(pending("o-young", 30))
    assert reconciler(orders, sink).run().reconciled == 0
    assert sink.commands == []


def test_an_order_the_engine_answered_is_not_reconciled() -> None:
    orders, sink = InMemoryPendingOrders(), InMemoryCommandSink()
    orders.add(pending("o-live", 600), status=OrderStatus.NEW)
    orders.add(pending("o-eth", 600, symbol="ETH-USD"))
    run = reconciler(orders, sink).run()
    assert [c.order_id for c in sink.commands if isinstance(c, CancelOrder)] == ["o-eth"]
    assert run.reconciled == 1


def test_an_order_still_pending_a_timeout_after_its_reconcile_counts_as_stuck() -> None:
    # Given one order just past the timeout and one pending for more than two timeouts
    orders, sink = InMemoryPendingOrders(), InMemoryCommandSink()
    orders.add(pending("o-new", 61))
    orders.add(pending("o-stuck", 121))
    # Then both get their cancel, and the older one counts as stuck (the engine is not answering)
    run = reconciler(orders, sink).run()
    assert (run.reconciled, run.stuck) == (2, 1)
    assert [c.order_id for c in sink.commands if isinstance(c, CancelOrder)] == [
        "o-stuck",
        "o-new",
    ]  # oldest first


def test_a_run_publishes_at_most_its_limit_per_symbol() -> None:
    orders, sink = InMemoryPendingOrders(), InMemoryCommandSink()
    for n in range(5):
        orders.add(pending(f"o-{n}", 100 + n))
    limited = Reconciler(
        orders=orders,
        sink=sink,
        symbols=lambda: ["BTC-USD"],
        timeout_s=60,
        limit=3,
        clock=lambda: NOW,
    )
    assert limited.run().reconciled == 3


def test_a_symbol_listed_while_the_function_is_warm_is_reconciled_on_the_next_run() -> None:
    listed = ["BTC-USD"]
    orders, sink = InMemoryPendingOrders(), InMemoryCommandSink()
    warm = Reconciler(
        orders=orders, sink=sink, symbols=lambda: listed, timeout_s=60, clock=lambda: NOW
    )
    orders.add(pending("o-new", 100, symbol="SOL-BTC"))
    assert warm.run().reconciled == 0
    listed.append("SOL-BTC")  # an operator lists it; the live catalog now serves it
    assert warm.run().reconciled == 1


def test_the_scheduled_handler_runs_the_reconciler_and_counts_what_it_did(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an order pending past the timeout
    orders, sink = InMemoryPendingOrders(), InMemoryCommandSink()
    orders.add(pending("o-late", 200))
    # When EventBridge's schedule invokes the function
    result = handler(
        scheduled_event("exchange-prod-reconciler"),
        LambdaContextStub(function_name="reconciler"),
        reconciler=reconciler(orders, sink),
    )
    # Then the order got its cancel, and the metrics say so
    assert result == {"reconciled": 1, "stuck": 1}
    assert sink.commands == [reconcile_cancel(pending("o-late", 200), NOW)]
    emf = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert emf["OrdersReconciled"] in (1, [1.0])
    assert emf["ReconcilerStuckOrders"] in (1, [1.0])
