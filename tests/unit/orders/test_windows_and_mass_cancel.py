"""Time windows as sort-key ranges, and the mass cancel's paging and bounds."""

import pytest

from exchange.domain import CancelOrder
from exchange.ids import new_order_id
from exchange.orders.mass_cancel import PAGE_SIZE, MassCancel
from exchange.orders.model import TimeWindow
from exchange.testing.fakes import InMemoryCommandSink, InMemoryOrderStore
from tests.unit.api.conftest import ALICE, LIMIT_BUY
from tests.unit.orders.fakes import START_NS, InMemoryOrderLookup
from tests.unit.orders.wiring import bulk_exchange

MS = 1_000_000


def order_id(at_ns: int, last: bool = False) -> str:
    return new_order_id(at_ns, (b"\xff" if last else b"\x00") * 10)


def inside(window: TimeWindow, an_id: str) -> bool:
    first, last = window.order_ids()
    return first <= an_id <= last


def test_an_order_window_runs_from_its_start_millisecond_to_before_its_end() -> None:
    window = TimeWindow(start_ns=START_NS, end_ns=START_NS + 10 * MS)
    assert inside(window, order_id(START_NS))
    assert inside(window, order_id(START_NS + 9 * MS, last=True))
    assert not inside(window, order_id(START_NS - 1, last=True))
    assert not inside(window, order_id(START_NS + 10 * MS))


def test_an_order_window_covers_every_millisecond_it_touches() -> None:
    # Order ids hold milliseconds: a window inside one millisecond keeps that whole millisecond
    window = TimeWindow(start_ns=START_NS + 300_000, end_ns=START_NS + 700_000)
    assert inside(window, order_id(START_NS))
    assert inside(window, order_id(START_NS, last=True))
    assert not inside(window, order_id(START_NS + MS))


def test_a_fill_window_is_exact_to_the_nanosecond() -> None:
    window = TimeWindow(start_ns=START_NS, end_ns=START_NS + 5)
    first, last = window.fill_ids()

    def fill_id(ts: int) -> str:
        return f"{ts:020d}#BTC-USD#{999999999999:012d}#TAKER"

    assert first <= fill_id(START_NS) <= last
    assert first <= fill_id(START_NS + 4) <= last
    assert not first <= fill_id(START_NS - 1) <= last
    assert not first <= fill_id(START_NS + 5) <= last


@pytest.mark.parametrize(
    ("window", "empty"),
    [
        (TimeWindow(), False),
        (TimeWindow(start_ns=5, end_ns=5), True),
        (TimeWindow(end_ns=-10), True),
        (TimeWindow(start_ns=-10, end_ns=1), False),
        (TimeWindow(start_ns=10**30), True),
    ],
)
def test_windows_outside_what_ids_can_hold_are_clamped(window: TimeWindow, empty: bool) -> None:
    assert window.empty is empty


def test_mass_cancel_pages_through_every_open_order_up_to_its_limit() -> None:
    # Given more open orders than one page holds
    exchange, fakes = bulk_exchange(max_open_orders=1000)
    ids = []
    small = {**LIMIT_BUY, "qty": "0.01"}
    for _ in range(PAGE_SIZE * 2 + 5):
        reply = exchange.call("POST", "/v1/orders", body=small, account_id=ALICE)
        ids.append(reply.body["order_id"])
    fakes.clock.advance(60)  # older than the index's lag allowance: all read from the index
    store = exchange.store
    assert isinstance(store, InMemoryOrderStore)
    lookup, sink = InMemoryOrderLookup(store), InMemoryCommandSink()
    # When a mass cancel with a limit above them runs, and one with a limit below
    clock = fakes.clock.ns
    everything = MassCancel(lookup=lookup, sink=sink, limit=1000, clock=clock).cancel_all(
        ALICE, source="t"
    )
    reads = lookup.reads
    bounded = MassCancel(
        lookup=lookup, sink=InMemoryCommandSink(), limit=150, clock=clock
    ).cancel_all(ALICE, source="t")
    # Then the first sent one cancel per order over three reads; the second stopped at 150
    assert sorted(c.order_id for c in sink.commands if isinstance(c, CancelOrder)) == sorted(ids)
    assert (reads, everything.truncated) == (3, False)
    assert (len(bounded.sent), bounded.truncated) == (150, True)


def test_mass_cancel_leaves_orders_placed_after_its_cut_off() -> None:
    exchange, fakes = bulk_exchange()
    before = exchange.call("POST", "/v1/orders", body=LIMIT_BUY, account_id=ALICE).body
    cut_off = fakes.clock.ns() + MS
    fakes.clock.advance(0.01)
    exchange.call("POST", "/v1/orders", body=LIMIT_BUY, account_id=ALICE)
    sink = InMemoryCommandSink()
    store = exchange.store
    assert isinstance(store, InMemoryOrderStore)
    result = MassCancel(lookup=InMemoryOrderLookup(store), sink=sink, limit=10).cancel_all(
        ALICE, source="t", placed_before_ns=cut_off
    )
    assert [a.order_id for a in result.sent] == [before["order_id"]]
