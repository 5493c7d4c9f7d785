"""Scenarios: every rejection reason, dedupe of redelivered commands, and the dedupe window."""

import pytest

from engine_service.core import Engine
from exchange.domain import (
    Command,
    InstrumentStatus,
    NewOrder,
    OrderCancelled,
    OrderRejected,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from tests.unit.engine.helpers import (
    INSTRUMENT,
    SYMBOL,
    amend,
    cancel,
    kinds,
    make_instrument,
    new,
    run,
    set_status,
)

BUY, SELL = Side.BUY, Side.SELL
R = RejectReason

# (reason, commands to apply in order; the last one must be refused for that reason)
CASES: list[tuple[RejectReason, list[Command]]] = [
    (R.UNKNOWN_SYMBOL, [new("o1", symbol="ETH-USD")]),
    (R.INVALID_QUANTITY, [new("o1", qty=0)]),
    (R.INVALID_QUANTITY, [new("o1", qty=-3)]),
    (R.QUANTITY_BELOW_MIN, [new("o1", qty=1)]),
    (R.QUANTITY_ABOVE_MAX, [new("o1", qty=11)]),
    (R.INVALID_PRICE, [new("o1", price=None)]),
    (R.INVALID_PRICE, [new("o1", price=0)]),
    (R.INVALID_PRICE, [new("o1", price=-1)]),
    (R.INVALID_PRICE, [new("o1", price=100, order_type=OrderType.MARKET)]),
    (R.INVALID_PRICE, [new("o1", price=100, order_type=OrderType.STOP, stop_price=100)]),
    (R.INVALID_PRICE, [new("o1", price=None, order_type=OrderType.STOP, stop_price=0)]),
    (R.INVALID_ORDER, [new("o1", price=None, order_type=OrderType.STOP)]),
    (R.INVALID_ORDER, [new("o1", price=100, order_type=OrderType.STOP_LIMIT)]),
    (R.INVALID_ORDER, [new("o1", price=100, stop_price=99)]),
    (R.INVALID_ORDER, [new("o1", post_only=True, tif=TimeInForce.IOC)]),
    (R.INVALID_ORDER, [new("o1", post_only=True, tif=TimeInForce.FOK)]),
    (R.INVALID_ORDER, [new("o1", price=None, post_only=True, order_type=OrderType.MARKET)]),
    (R.INVALID_PRICE, [new("o1", price=10_001)]),
    (R.INVALID_PRICE, [new("o1", price=None, order_type=OrderType.STOP, stop_price=10_001)]),
    (R.INVALID_PRICE, [new("o1", price=None, order_type=OrderType.MARKET, protection=10_001)]),
    (R.INVALID_PRICE, [new("o1", price=None, order_type=OrderType.MARKET, protection=0)]),
    (R.INVALID_PRICE, [new("o1", protection=100)]),
    (R.INVALID_PRICE, [new("o1"), amend("o1", price=10_001)]),
    (R.DUPLICATE_ORDER_ID, [cancel("o1"), new("o1")]),
    (R.PRICE_OUT_OF_BAND, [new("s", SELL, account="a2"), new("b"), new("o1", price=111)]),
    (R.POST_ONLY_WOULD_TAKE, [new("s", SELL, account="a2"), new("o1", post_only=True)]),
    (R.DUPLICATE_ORDER_ID, [new("o1"), new("o1", price=99)]),
    (R.UNKNOWN_ORDER, [cancel("nope")]),
    (R.UNKNOWN_ORDER, [amend("nope", qty=3)]),
    (R.NOT_ORDER_OWNER, [new("o1"), cancel("o1", account="a2")]),
    (R.NOT_ORDER_OWNER, [new("o1"), amend("o1", qty=3, account="a2")]),
    (R.INVALID_ORDER, [new("o1"), amend("o1")]),
    (R.INVALID_PRICE, [new("o1"), amend("o1", price=0)]),
    (R.INVALID_QUANTITY, [new("o1"), amend("o1", qty=0)]),
    (R.QUANTITY_BELOW_MIN, [new("o1"), amend("o1", qty=1)]),
    (R.QUANTITY_ABOVE_MAX, [new("o1"), amend("o1", qty=11)]),
]


@pytest.mark.parametrize(
    ("reason", "commands"), CASES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(CASES)]
)
def test_every_bad_command_is_rejected_with_its_reason(
    reason: RejectReason, commands: list[Command]
) -> None:
    # Given an engine, and any commands that set the scene
    engine = Engine([INSTRUMENT])
    # When the bad command is applied
    events = run(engine, *commands)
    # Then the one event is a rejection with that reason, naming the order and command
    assert kinds(events) == ["OrderRejected"]
    rejected = events[0]
    assert isinstance(rejected, OrderRejected)
    assert rejected.reason is reason
    assert rejected.detail
    last = commands[-1]
    assert rejected.order_id == last.order_id
    assert rejected.command_id == (None if isinstance(last, NewOrder) else last.command_id)


def test_orders_on_a_halted_symbol_are_rejected_but_cancels_accepted() -> None:
    # Given a book with an order, whose symbol an operator then halts
    halted = Engine([INSTRUMENT])
    run(halted, new("o1"), set_status(InstrumentStatus.HALTED))
    # When new orders and amends arrive they are refused; a cancel goes through
    assert run(halted, new("o2"))[0].reason is R.SYMBOL_HALTED  # type: ignore[attr-defined]
    assert run(halted, amend("o1", qty=3))[0].reason is R.SYMBOL_HALTED  # type: ignore[attr-defined]
    assert kinds(run(halted, cancel("o1"))) == ["OrderCancelled", "BookDelta"]


def test_orders_on_a_delisted_symbol_are_rejected_as_not_trading() -> None:
    delisted = Engine([make_instrument(InstrumentStatus.DELISTED)])
    assert run(delisted, new("o1"))[0].reason is R.INSTRUMENT_NOT_TRADING  # type: ignore[attr-defined]


def test_unknown_symbol_rejection_takes_no_seq_of_any_symbol() -> None:
    engine = Engine([INSTRUMENT])
    events = run(engine, new("o1", symbol="ETH-USD"))
    assert events[0].seq == 0
    assert engine.seq(INSTRUMENT.symbol) == 0


def test_a_rejection_takes_the_next_seq() -> None:
    engine = Engine([INSTRUMENT])
    run(engine, new("o1"))
    events = run(engine, new("o2", qty=0))
    assert events[0].seq == 3


def test_order_id_is_a_duplicate_even_after_the_order_has_closed() -> None:
    engine = Engine([INSTRUMENT])
    run(engine, new("o1"), cancel("o1"))
    events = run(engine, new("o1"))
    assert events[0].reason is R.DUPLICATE_ORDER_ID  # type: ignore[attr-defined]


def test_a_redelivered_cancel_yields_no_events_and_takes_no_seq() -> None:
    # Given an order cancelled by command k-1
    engine = Engine([INSTRUMENT])
    run(engine, new("o1"), new("o2"))
    first = run(engine, cancel("o1", command_id="k-1"))
    seq = engine.seq(INSTRUMENT.symbol)
    # When k-1 arrives again (and even names another order)
    again = run(engine, cancel("o1", command_id="k-1"), cancel("o2", command_id="k-1"))
    # Then nothing happens
    assert isinstance(first[0], OrderCancelled)
    assert again == []
    assert engine.seq(INSTRUMENT.symbol) == seq
    assert engine.l2(INSTRUMENT.symbol).bids[0].qty == 5


def test_a_redelivered_amend_yields_no_events() -> None:
    engine = Engine([INSTRUMENT])
    run(engine, new("o1"))
    assert kinds(run(engine, amend("o1", qty=4, command_id="k-1"))) == ["OrderAmended", "BookDelta"]
    assert run(engine, amend("o1", qty=4, command_id="k-1")) == []


def test_a_rejected_cancel_redelivered_is_not_rejected_twice() -> None:
    engine = Engine([INSTRUMENT])
    assert kinds(run(engine, cancel("nope", command_id="k-1"))) == ["OrderRejected"]
    assert run(engine, cancel("nope", command_id="k-1")) == []


def test_dedupe_window_forgets_the_oldest_closed_ids_first() -> None:
    # Given a window of two order ids
    engine = Engine([INSTRUMENT], dedupe_window=2)
    run(engine, new("o1", price=90), cancel("o1"), new("o2", price=91), new("o3", price=92))
    # Then o1 is forgotten, o3 is remembered, and an open order is always known
    assert kinds(run(engine, new("o1", price=93))) == ["OrderAccepted", "BookDelta"]
    assert run(engine, new("o3", price=94))[0].reason is R.DUPLICATE_ORDER_ID  # type: ignore[attr-defined]
    run(engine, new("o4", price=95), new("o5", price=96))
    assert run(engine, new("o2", price=97))[0].reason is R.DUPLICATE_ORDER_ID  # type: ignore[attr-defined]


def test_restore_of_a_symbol_it_does_not_list_builds_it_from_the_snapshots_definition() -> None:
    # (A snapshot from before operators' listings holds no definition: see
    # test_operator_commands for its refusal.)
    engine = Engine([INSTRUMENT])
    run(engine, new("o1"))
    restored = Engine.restore(engine.snapshot(), [])
    assert restored.books[SYMBOL].instrument == INSTRUMENT
    assert restored.snapshot() == engine.snapshot()


def test_an_open_order_id_forgotten_by_the_window_is_still_a_duplicate_after_restore() -> None:
    # Given o1 resting while a window of two has moved past it
    engine = Engine([INSTRUMENT], dedupe_window=2)
    run(engine, new("o1", price=90), new("o2", price=91), new("o3", price=92))
    restored = Engine.restore(engine.snapshot(), [INSTRUMENT], dedupe_window=2)
    # When o1 is sent again, to either engine
    # Then it is a duplicate, because it is still open
    for target in (engine, restored):
        assert run(target, new("o1", price=93))[0].reason is R.DUPLICATE_ORDER_ID  # type: ignore[attr-defined]


def test_is_duplicate_recognises_redelivered_commands_without_applying_them() -> None:
    engine = Engine([INSTRUMENT])
    order, cancel_it = new("o1"), cancel("o1", command_id="k-1")
    assert not engine.is_duplicate(order)
    run(engine, order)
    assert engine.is_duplicate(order)
    assert not engine.is_duplicate(cancel_it)
    run(engine, cancel_it)
    assert engine.is_duplicate(cancel_it)
    assert not engine.is_duplicate(new("o1", symbol="ETH-USD"))
    assert engine.seq(INSTRUMENT.symbol) == 4
