"""The recorder: the order state machine, fills with the ledger's fees, trades, events."""

from dataclasses import replace
from decimal import Decimal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from exchange.domain import (
    Event,
    OrderAccepted,
    OrderRejected,
    OrderStatus,
    RejectReason,
    Side,
    Trade,
)
from exchange.journal.batch import consume
from exchange.ledger.holds import fill, new_hold
from exchange.orders.lifecycle import OrderState, Role, step
from exchange.orders.recorder import Recorder
from exchange.settings import DEFAULT_ASSET_SCALES
from exchange.testing.stores import InMemoryRecorderStore
from tests.unit.streams.helpers import BTC, CATALOG, Market, busy_market, records

SCALES = DEFAULT_ASSET_SCALES


def run(market: Market, *, pending: bool = True, size: int = 3) -> InMemoryRecorderStore:
    store = InMemoryRecorderStore()
    if pending:
        for order_id, command in market.orders.items():
            store.orders[(command.account_id, order_id)] = market.pending(order_id)
    sink = Recorder(store, catalog=CATALOG, asset_scales=SCALES)
    positions: dict[str, int] = {}
    for record in records(market.events, size):
        consume(sink, record, positions)
    return store


def order(store: InMemoryRecorderStore, market: Market, order_id: str) -> OrderState:
    return store.orders[(market.orders[order_id].account_id, order_id)]


def test_orders_move_from_pending_new_through_fills_to_their_end_states() -> None:
    # Given the busy market's events recorded over rows the API wrote as PENDING_NEW
    market = busy_market()
    store = run(market)
    # Then each order ends where the engine left it
    statuses = {oid: order(store, market, oid).status for oid in market.orders}
    assert statuses == {
        "o1": OrderStatus.FILLED,
        "o2": OrderStatus.FILLED,
        "o3": OrderStatus.FILLED,
        "o4": OrderStatus.CANCELLED,
        "o5": OrderStatus.EXPIRED,
    }
    o5 = order(store, market, "o5")
    assert (BTC.format_qty(o5.filled), o5.open) == ("0.2000", 0)
    o4 = order(store, market, "o4")
    assert (BTC.format_qty(o4.qty), o4.symbol_status) == ("0.0500", "BTC-USD#CANCELLED#o4")
    # And o3 bought 0.5 at 65000 and 0.1 at 65010: its notional is exact
    assert order(store, market, "o3").notional == Decimal("39001.00")


def test_each_trade_writes_a_fill_per_side_with_the_fee_the_ledger_charges() -> None:
    # Given a taker buy that fills against two makers
    market = busy_market()
    store = run(market)
    carol = sorted(
        (row for row in store.fills.values() if row.order_id == "o3"), key=lambda r: r.seq
    )
    # Then its fills are taker fills, with fees equal to the ledger's own hold arithmetic
    hold = new_hold(
        order_id="o3", account_id="carol", instrument=BTC, side=Side.BUY,
        order_type=market.orders["o3"].order_type, qty_lots=market.orders["o3"].qty,
        price_ticks=market.orders["o3"].price, protection_ticks=None, quote_scale=8,
        base_scale=8,
    )  # fmt: skip
    expected = []
    for row in carol:
        result = fill(
            hold, BTC, price_ticks=row.price, qty_lots=row.qty,
            fee_bps=BTC.taker_fee_bps, quote_scale=8, base_scale=8,
        )  # fmt: skip
        expected.append(result.fee)
        hold = result.after
    assert [row.role for row in carol] == [Role.TAKER, Role.TAKER]
    assert [row.fee for row in carol] == expected
    assert all(fee > 0 for fee in expected)
    # And every trade has a maker and a taker fill, and a tape row
    trades = [event for event in market.events if isinstance(event, Trade)]
    assert len(store.fills) == 2 * len(trades)
    assert sorted(seq for _, seq in store.trades) == [trade.seq for trade in trades]


def test_a_replay_into_a_region_without_the_api_rows_creates_them_from_accepted() -> None:
    # Given no PENDING_NEW rows at all (the DR region replaying the journal)
    market = busy_market()
    store = run(market, pending=False)
    # Then every order exists, in the same end state as with the rows
    with_rows = run(market)
    for oid in market.orders:
        assert replace(order(store, market, oid), created_ns=0, updated_ns=0) == replace(
            order(with_rows, market, oid), created_ns=0, updated_ns=0
        )


def test_a_reject_for_a_reused_order_id_leaves_the_live_order_alone() -> None:
    # Given o1 resting, and a second order reusing the id o1
    market = Market()
    market.order("o1", Side.SELL, "0.5", "65000.00", account="alice")
    rejected = market.order("o1", Side.SELL, "0.1", "65000.00", account="alice")
    assert isinstance(rejected[0], OrderRejected)
    assert rejected[0].reason is RejectReason.DUPLICATE_ORDER_ID
    # When recorded
    store = run(market, pending=False)
    # Then o1 is still the first order, open
    o1 = order(store, market, "o1")
    assert (o1.status, BTC.format_qty(o1.qty)) == (OrderStatus.NEW, "0.5000")


def test_stale_events_do_not_regress_an_order_that_is_further_along() -> None:
    # Given the orders table ahead of the journal being replayed (the global table replicated
    # the end state while this region's recorder starts over)
    market = busy_market()
    ahead = run(market)
    store = InMemoryRecorderStore()
    store.orders = dict(ahead.orders)
    sink = Recorder(store, catalog=CATALOG, asset_scales=SCALES)
    # When the whole journal is replayed from seq 1
    for record in records(market.events):
        consume(sink, record, {})
    # Then no order moved, and no fill was written a second time with another fee
    assert store.orders == ahead.orders
    assert store.fills == {}


def _events_of(market: Market, order_id: str) -> list[Event]:
    return [
        event
        for event in market.events
        if getattr(event, "order_id", None) == order_id
        or (isinstance(event, Trade) and order_id in (event.maker_order_id, event.taker_order_id))
    ]


def _apply(state: OrderState | None, events: list[Event]) -> OrderState | None:
    for event in events:
        result = step(state, event, instrument=BTC, scales=SCALES)  # type: ignore[arg-type]
        state = result.state if result.changed else state
    return state


MARKET = busy_market()
O2_EVENTS = _events_of(MARKET, "o2")


@given(st.lists(st.integers(min_value=0, max_value=len(O2_EVENTS) - 1), max_size=20), st.data())
def test_duplicates_anywhere_in_the_stream_change_nothing(
    redeliver: list[int], data: st.DataObject
) -> None:
    # Given o2's events in order, with earlier events delivered again at random points
    noisy: list[Event] = []
    for index, event in enumerate(O2_EVENTS):
        noisy.append(event)
        for again in redeliver:
            if again <= index and data.draw(st.booleans()):
                noisy.append(O2_EVENTS[again])
    # Then the order ends exactly as with a clean stream
    pending = MARKET.pending("o2")
    assert _apply(pending, noisy) == _apply(pending, O2_EVENTS)


@given(st.permutations(O2_EVENTS))
def test_out_of_order_events_never_move_an_order_backwards(shuffled: list[Event]) -> None:
    # Given o2's events in any order
    state: OrderState | None = MARKET.pending("o2")
    for event in shuffled:
        before = state
        state = _apply(state, [event])
        # Then its last_seq never decreases and an ended order never comes back to life
        assert state is not None
        assert before is not None
        assert state.last_seq >= before.last_seq
        if before.status in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED):
            assert state == before
        assert state.filled >= before.filled


def test_an_accept_for_a_row_already_accepted_is_ignored() -> None:
    market = Market()
    accepted = market.order("o1", Side.BUY, "0.1", "65000.00", account="a")[0]
    assert isinstance(accepted, OrderAccepted)
    live = _apply(market.pending("o1"), [accepted])
    assert live is not None
    again = step(live, replace_seq(accepted, 99), instrument=BTC, scales=SCALES)
    assert (again.changed, again.problem) == (False, "OrderAccepted while NEW")


def replace_seq(event: OrderAccepted, seq: int) -> OrderAccepted:
    return msgspec.structs.replace(event, seq=seq)


def test_fills_are_keyed_by_time_symbol_seq_and_role() -> None:
    store = run(busy_market())
    row = next(iter(store.fills.values()))
    assert row.fill_id.split("#")[1:] == ["BTC-USD", f"{row.seq:012d}", row.role.value]
