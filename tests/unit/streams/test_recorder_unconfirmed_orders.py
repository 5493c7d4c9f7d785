"""The recorder settles orders whose publish was ambiguous: the API keeps them PENDING_NEW and
sends a cancel, and only the engine's answer decides. A cancel that found nothing means the
engine never took the order (REJECTED, never by the API); a NewOrder that arrives after it is
refused as a duplicate id, which must change nothing."""

from dataclasses import replace

from exchange.domain import (
    AnyEvent,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from exchange.domain.enums import CancelReason
from exchange.journal.batch import consume
from exchange.orders.lifecycle import OrderState, order_keys, step
from exchange.orders.model import NOT_RECEIVED_REASON
from exchange.orders.recorder import Recorder
from exchange.settings import DEFAULT_ASSET_SCALES
from exchange.testing.stores import InMemoryRecorderStore
from tests.unit.streams.helpers import BTC, CATALOG, records

ORDER, ACCOUNT = "01HF7YAT000000000000000001", "alice"


def pending_order() -> OrderState:
    """An order the API recorded PENDING_NEW; the engine has not seen it."""
    return OrderState(
        account_id=ACCOUNT,
        order_id=ORDER,
        symbol=BTC.symbol,
        client_order_id="c1",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        qty=1000,
        price=6_500_000,
        status=OrderStatus.PENDING_NEW,
    )


def unknown_order(seq: int) -> OrderRejected:
    """The engine's answer to a cancel of an order it never took."""
    return OrderRejected(
        symbol=BTC.symbol, seq=seq, ts=seq, order_id=ORDER, account_id=ACCOUNT,
        reason=RejectReason.UNKNOWN_ORDER, command_id="cancel-1", detail="no such open order",
    )  # fmt: skip


def record(state: OrderState, *events: AnyEvent) -> OrderState:
    store = InMemoryRecorderStore()
    store.orders[state.key] = state
    sink = Recorder(store, catalog=CATALOG, asset_scales=DEFAULT_ASSET_SCALES)
    for journal_record in records(list(events), 2):
        consume(sink, journal_record, {})
    return store.orders[state.key]


def test_a_cancel_that_found_nothing_rejects_the_pending_order_as_never_taken() -> None:
    # Given an order kept PENDING_NEW after an ambiguous publish, and its cancel's answer
    state = pending_order()
    # When the engine says it knows no such order
    recorded = record(state, unknown_order(1))
    # Then the order is REJECTED, saying the engine never took it, and is no longer open
    assert recorded.status is OrderStatus.REJECTED
    assert recorded.reject_reason == NOT_RECEIVED_REASON
    assert recorded.open == 0


def test_a_duplicate_id_reject_after_the_order_is_final_changes_nothing() -> None:
    # Given the cancel's answer, then the NewOrder arriving late and refused as a duplicate id
    state = pending_order()
    duplicate = OrderRejected(
        symbol=BTC.symbol, seq=2, ts=2, order_id=ORDER, account_id=ACCOUNT,
        reason=RejectReason.DUPLICATE_ORDER_ID, detail="order id already used",
    )  # fmt: skip
    # When both are recorded
    recorded = record(state, unknown_order(1), duplicate)
    # Then the order is as the first answer left it
    assert (recorded.status, recorded.reject_reason, recorded.last_seq) == (
        OrderStatus.REJECTED,
        NOT_RECEIVED_REASON,
        1,
    )


def test_a_cancel_of_an_order_the_engine_took_cancels_it_as_usual() -> None:
    # Given the NewOrder reached the engine after all: accepted, then cancelled by the cancel
    state = pending_order()
    accepted = OrderAccepted(
        symbol=BTC.symbol, seq=1, ts=1, order_id=ORDER, account_id=ACCOUNT,
        client_order_id="c1", side=Side.BUY, order_type=state.order_type, tif=state.tif,
        qty=1000, price=6_500_000,
    )  # fmt: skip
    cancelled = OrderCancelled(
        symbol=BTC.symbol, seq=2, ts=2, order_id=ORDER, account_id=ACCOUNT, cancelled_qty=1000,
        reason=CancelReason.USER_REQUESTED, command_id="cancel-1",
    )  # fmt: skip
    assert record(state, accepted, cancelled).status is OrderStatus.CANCELLED


def test_a_refused_cancel_of_a_live_or_finished_order_leaves_it_alone() -> None:
    # Given a live order, and a finished one, each answered UNKNOWN_ORDER for a late cancel
    state = pending_order()
    for status in (OrderStatus.NEW, OrderStatus.FILLED):
        current = replace(state, status=status, open=0, last_seq=5)
        result = step(current, unknown_order(6), instrument=BTC, scales=DEFAULT_ASSET_SCALES)
        # Then nothing changes, and a late cancel is nothing to warn about
        assert (result.changed, result.problem) == (False, None)


def test_other_refused_commands_touch_no_order() -> None:
    refused = OrderRejected(
        symbol=BTC.symbol, seq=1, ts=1, order_id=ORDER, account_id="mallory",
        reason=RejectReason.NOT_ORDER_OWNER, command_id="cancel-2",
    )  # fmt: skip
    assert order_keys(refused) == ()
    assert order_keys(unknown_order(1)) == ((ACCOUNT, ORDER),)
