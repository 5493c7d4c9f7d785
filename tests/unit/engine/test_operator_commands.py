"""Scenarios: operators' commands. Each status against each kind of command, mass cancel, account
freeze, listings made and changed at run time, and the kill switch."""

from collections.abc import Callable
from decimal import Decimal

import msgspec
import pytest

from engine_service.core import Engine, ReplayError
from exchange.domain import (
    AccountFrozen,
    AssetClass,
    BookDelta,
    CancelReason,
    EngineCommand,
    Event,
    InstrumentListed,
    InstrumentStatus,
    OrderCancelled,
    OrderRejected,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
    TradingStatusChanged,
)
from tests.unit.engine.helpers import (
    INSTRUMENT,
    SYMBOL,
    amend,
    cancel,
    freeze,
    kinds,
    listing,
    make_instrument,
    market,
    mass_cancel,
    new,
    run,
    set_status,
)

BUY, SELL = Side.BUY, Side.SELL
S = InstrumentStatus
R = RejectReason
ETH = make_instrument(symbol="ETH-USD", base="ETH")
SOL = make_instrument(symbol="SOL-USD", base="SOL")


def scene(status: InstrumentStatus = S.TRADING, *instruments: object) -> Engine:
    """A bid of a1 at 100 and an ask of a2 at 104 resting, a buy stop of a1 held; then
    ``status``."""
    engine = Engine([INSTRUMENT, *instruments])  # type: ignore[list-item]
    run(
        engine,
        new("bid", BUY, 5, 100, account="a1"),
        new("ask", SELL, 5, 104, account="a2"),
        new("stop", BUY, 3, None, order_type=OrderType.STOP, stop_price=110, account="a1"),
        set_status(status),
    )
    return engine


def refusal(events: list[Event]) -> OrderRejected:
    assert kinds(events) == ["OrderRejected"]
    assert isinstance(events[0], OrderRejected)
    return events[0]


# -- each status against each kind of command ---------------------------------------------------
ACC, AMD, CXL = "OrderAccepted", "OrderAmended", "OrderCancelled"
SH, SCO, SPO, INT = (
    R.SYMBOL_HALTED,
    R.SYMBOL_CANCEL_ONLY,
    R.SYMBOL_POST_ONLY,
    R.INSTRUMENT_NOT_TRADING,
)
Outcome = str | RejectReason  # the first event's kind, or the reason it is refused for
# (name, command, outcome in TRADING, POST_ONLY, CANCEL_ONLY, HALTED, DELISTED)
MATRIX: list[tuple[str, Callable[[], EngineCommand], tuple[Outcome, ...]]] = [
    ("limit that rests", lambda: new("n", BUY, 4, 99, account="a3"), (ACC, ACC, SCO, SH, INT)),
    ("limit that takes", lambda: new("n", BUY, 5, 104, account="a3"), (ACC, SPO, SCO, SH, INT)),
    (
        "post-only that rests",
        lambda: new("n", SELL, 4, 105, post_only=True, account="a3"),
        (ACC, ACC, SCO, SH, INT),
    ),
    (
        "post-only that would take",
        lambda: new("n", SELL, 4, 100, post_only=True, account="a3"),
        (R.POST_ONLY_WOULD_TAKE, R.POST_ONLY_WOULD_TAKE, SCO, SH, INT),
    ),
    ("market", lambda: market("n", BUY, 2, account="a3"), (ACC, SPO, SCO, SH, INT)),
    (
        "stop",
        lambda: new("n", SELL, 2, None, order_type=OrderType.STOP, stop_price=90, account="a3"),
        (ACC, SPO, SCO, SH, INT),
    ),
    (
        "stop-limit",
        lambda: new("n", SELL, 2, 95, order_type=OrderType.STOP_LIMIT, stop_price=96),
        (ACC, SPO, SCO, SH, INT),
    ),
    (
        "IOC limit that would rest",
        lambda: new("n", BUY, 2, 99, tif=TimeInForce.IOC, account="a3"),
        (ACC, SPO, SCO, SH, INT),
    ),
    (
        "FOK limit",
        lambda: new("n", BUY, 2, 104, tif=TimeInForce.FOK, account="a3"),
        (ACC, SPO, SCO, SH, INT),
    ),
    ("amend to less", lambda: amend("bid", qty=3), (AMD, AMD, AMD, SH, INT)),
    ("amend to more", lambda: amend("bid", qty=7), (AMD, AMD, SCO, SH, INT)),
    ("amend the price", lambda: amend("bid", price=101), (AMD, AMD, SCO, SH, INT)),
    ("amend to a taking price", lambda: amend("bid", price=104), (AMD, SPO, SCO, SH, INT)),
    ("amend to less, moved", lambda: amend("bid", qty=3, price=99), (AMD, AMD, SCO, SH, INT)),
    ("cancel", lambda: cancel("bid"), (CXL, CXL, CXL, CXL, CXL)),
    ("cancel a held stop", lambda: cancel("stop"), (CXL, CXL, CXL, CXL, CXL)),
    ("mass cancel", mass_cancel, (CXL, CXL, CXL, CXL, CXL)),
    ("freeze", lambda: freeze("a1"), ("AccountFrozen",) * 5),
]
CASES = [
    pytest.param(status, make, outcome, id=f"{status}-{name}")
    for name, make, outcomes in MATRIX
    for status, outcome in zip(InstrumentStatus, outcomes, strict=True)
]


@pytest.mark.parametrize(("status", "make", "outcome"), CASES)
def test_each_status_allows_or_refuses_each_command_with_its_reason(
    status: InstrumentStatus, make: Callable[[], EngineCommand], outcome: Outcome
) -> None:
    # Given the scene in the status
    engine = scene(status)
    seq, book = engine.seq(SYMBOL), engine.l3(SYMBOL, depth=100)
    # When the command arrives
    events = run(engine, make())
    # Then it goes through, or is refused for the status's reason, taking the next seq and
    # leaving the book as it was
    assert events[0].seq == seq + 1
    if isinstance(outcome, RejectReason):
        rejected = refusal(events)
        assert (rejected.reason, bool(rejected.detail)) == (outcome, True)
        assert engine.l3(SYMBOL, depth=100).bids == book.bids
        assert engine.l3(SYMBOL, depth=100).asks == book.asks
    else:
        assert kinds(events)[0] == outcome
    # And nothing ever trades outside TRADING
    if status is not S.TRADING:
        assert "Trade" not in kinds(events)


def test_a_symbol_listed_halted_or_delisted_refuses_orders_from_the_start() -> None:
    halted = Engine([make_instrument(S.HALTED)])
    delisted = Engine([make_instrument(S.DELISTED)])
    assert refusal(run(halted, new("o1"))).reason is R.SYMBOL_HALTED
    assert refusal(run(delisted, new("o1"))).reason is R.INSTRUMENT_NOT_TRADING


def test_cancel_only_amend_down_keeps_priority_and_releases_exactly_what_it_removes() -> None:
    # Given two bids at 100, a1's first, in CANCEL_ONLY
    engine = Engine([INSTRUMENT])
    run(engine, new("b1", BUY, 5, 100), new("b2", BUY, 5, 100, account="a2"))
    run(engine, set_status(S.CANCEL_ONLY))
    # When a1 amends down to 3
    events = run(engine, amend("b1", qty=3))
    # Then it is amended in place, still first in the queue, the level 2 lots smaller
    assert kinds(events) == ["OrderAmended", "BookDelta"]
    level = engine.l3(SYMBOL).bids[0]
    assert [(o.order_id, o.open_qty) for o in level.orders] == [("b1", 3), ("b2", 5)]


def test_post_only_status_lets_orders_rest_and_trading_resumes_after() -> None:
    # Given POST_ONLY: makers build a book that does not cross
    engine = scene(S.POST_ONLY)
    run(engine, new("b2", BUY, 4, 103, account="a3"), new("a3", SELL, 4, 101, account="a3"))
    assert [lvl.price for lvl in engine.l2(SYMBOL).bids] == [103, 100]
    assert [lvl.price for lvl in engine.l2(SYMBOL).asks] == [104]
    # When trading resumes, a taker trades against them
    run(engine, set_status(S.TRADING))
    assert "Trade" in kinds(run(engine, new("t", SELL, 4, 103, account="a4")))


def test_set_status_always_emits_one_event_even_when_unchanged() -> None:
    engine = Engine([INSTRUMENT])
    first = run(engine, set_status(S.HALTED, command_id="adm-1"))
    again = run(engine, set_status(S.HALTED, command_id="adm-2"))
    assert [(type(e), e.seq) for e in first + again] == [
        (TradingStatusChanged, 1),
        (TradingStatusChanged, 2),
    ]
    changed = again[0]
    assert isinstance(changed, TradingStatusChanged)
    assert (changed.previous, changed.status, changed.actor) == (S.HALTED, S.HALTED, "ops")
    assert run(engine, set_status(S.TRADING, command_id="adm-1")) == []  # a redelivery


# -- mass cancel -------------------------------------------------------------------------------
def open_ids(engine: Engine, symbol: str = SYMBOL) -> set[str]:
    return set(engine.books[symbol].orders)


def assert_operator_cancels(
    events: list[Event], command_id: str, expected: list[tuple[str, int]]
) -> None:
    """One OrderCancelled (OPERATOR, the command's id) per order in ``expected`` (order id,
    cancelled qty), in that order; each resting one followed by its level's delta."""
    cancels = [e for e in events if isinstance(e, OrderCancelled)]
    assert [(e.order_id, e.cancelled_qty) for e in cancels] == expected
    assert {(e.reason, e.command_id) for e in cancels} == {(CancelReason.OPERATOR, command_id)}
    assert all(isinstance(e, OrderCancelled | BookDelta) for e in events)
    seqs = [e.seq for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_mass_cancel_of_a_symbol_cancels_every_open_order_oldest_first() -> None:
    # Given orders of three accounts, one partly filled, and a held stop
    engine = scene()
    run(engine, new("b2", BUY, 4, 99, account="a2"), new("t", SELL, 2, 100, account="a3"))
    # When the operator cancels everything in the symbol
    events = run(engine, mass_cancel(command_id="adm-all"))
    # Then each open order is cancelled once, oldest first, for exactly its open remainder;
    # the held stop has no delta
    assert_operator_cancels(events, "adm-all", [("bid", 3), ("ask", 5), ("stop", 3), ("b2", 4)])
    assert kinds(events) == [CXL, "BookDelta", CXL, "BookDelta", CXL, CXL, "BookDelta"]
    assert open_ids(engine) == set()
    assert engine.l2(SYMBOL).bids == engine.l2(SYMBOL).asks == []


def test_mass_cancel_goes_by_arrival_also_for_triggered_stops_and_after_a_restore() -> None:
    # Given a stop-limit accepted first, orders after it, then a trade at 101 that triggers it
    # to rest at 99 below the book, and a bid re-queued by an amend
    engine = Engine([INSTRUMENT])
    run(
        engine,
        new("stop", BUY, 2, 99, order_type=OrderType.STOP_LIMIT, stop_price=101),
        new("b1", BUY, 2, 98, account="a2"),
        new("b2", BUY, 2, 97, account="a2"),
        new("s1", SELL, 2, 101, account="a3"),
        new("t", BUY, 2, 101, account="a4"),
        amend("b1", qty=3, account="a2"),
    )
    assert open_ids(engine) == {"stop", "b1", "b2"}
    restored = Engine.restore(engine.snapshot(), [INSTRUMENT])
    # When everything is cancelled, in the engine and in its restored copy
    expected = [("stop", 2), ("b2", 2), ("b1", 3)]
    for target in (engine, restored):
        events = run(target, mass_cancel(command_id="adm-all"))
        # Then by arrival: the stop (first accepted), b2, then b1 (its amend re-queued it)
        assert_operator_cancels(events, "adm-all", expected)


def test_mass_cancel_of_an_account_leaves_the_others_orders() -> None:
    engine = scene()
    run(engine, new("a1-ask", SELL, 2, 106, account="a1"), new("a3-bid", BUY, 2, 98, account="a3"))
    events = run(engine, mass_cancel("a1", command_id="adm-a1"))
    assert_operator_cancels(events, "adm-a1", [("bid", 5), ("stop", 3), ("a1-ask", 2)])
    assert open_ids(engine) == {"ask", "a3-bid"}


def test_mass_cancel_of_an_account_in_one_symbol_leaves_its_orders_in_another() -> None:
    engine = scene(S.TRADING, ETH)
    run(engine, new("eth-bid", BUY, 5, 100, account="a1", symbol="ETH-USD"))
    events = run(engine, mass_cancel("a1", command_id="adm-a1"))
    assert_operator_cancels(events, "adm-a1", [("bid", 5), ("stop", 3)])
    assert open_ids(engine, "ETH-USD") == {"eth-bid"}


def test_mass_cancel_with_nothing_open_is_one_journaled_refusal_and_a_redelivery_is_a_no_op() -> (
    None
):
    # Given a book where a9 has nothing open
    engine = scene()
    seq = engine.seq(SYMBOL)
    # When a mass cancel of a9 arrives, then once more (redelivered) after a9 placed an order
    first = run(engine, mass_cancel("a9", command_id="adm-9"))
    run(engine, new("late", BUY, 2, 99, account="a9"))
    again = run(engine, mass_cancel("a9", command_id="adm-9"))
    # Then the first is refused UNKNOWN_ORDER with the next seq (so the id is journaled and
    # remembered) and the redelivered copy cancels nothing
    rejected = refusal(first)
    assert (rejected.order_id, rejected.account_id, rejected.command_id, rejected.seq) == (
        "",
        "a9",
        "adm-9",
        seq + 1,
    )
    assert rejected.reason is R.UNKNOWN_ORDER
    assert again == []
    assert "late" in open_ids(engine)


def test_a_mass_cancel_remembered_across_snapshot_and_replay_is_not_applied_twice() -> None:
    # Given a mass cancel applied, then new orders
    engine = scene()
    commands: list[EngineCommand] = [mass_cancel(command_id="adm-x"), new("n", BUY, 2, 99)]
    journal = [event for command in commands for event in run(engine, command)]
    restored = Engine.restore(engine.snapshot(), [INSTRUMENT])
    replayed = scene()
    replayed.replay(journal)
    # When it is redelivered to each
    for target in (engine, restored, replayed):
        assert target.is_duplicate(mass_cancel(command_id="adm-x"))
        # Then it is a no-op, and the new order stays
        assert run(target, mass_cancel(command_id="adm-x")) == []
        assert open_ids(target) == {"n"}


# -- freeze ---------------------------------------------------------------------------------------
def test_freezing_an_account_cancels_its_orders_and_refuses_its_new_ones() -> None:
    # Given a1 with a resting bid and a held stop, and a2 with an ask
    engine = scene()
    # When a1 is frozen
    events = run(engine, freeze("a1", command_id="adm-f"))
    # Then AccountFrozen, then a1's orders are cancelled as by a mass cancel
    frozen = events[0]
    assert isinstance(frozen, AccountFrozen)
    assert (frozen.account_id, frozen.frozen, frozen.command_id) == ("a1", True, "adm-f")
    assert_operator_cancels(events[1:], "adm-f", [("bid", 5), ("stop", 3)])
    assert open_ids(engine) == {"ask"}
    # And a1's new orders are refused, while a2 trades on
    assert refusal(run(engine, new("n1", BUY, 2, 99))).reason is R.ACCOUNT_FROZEN
    assert "OrderAccepted" in kinds(run(engine, new("n2", BUY, 2, 99, account="a2")))
    # And once unfrozen, a1 trades again
    unfrozen = run(engine, freeze("a1", frozen=False))
    assert kinds(unfrozen) == ["AccountFrozen"]
    assert kinds(run(engine, new("n3", BUY, 2, 104)))[:2] == ["OrderAccepted", "Trade"]


def test_a_frozen_accounts_amend_is_refused_and_its_cancel_goes_through() -> None:
    # Freezing cancels an account's orders, so only a book frozen some other way (here, by
    # hand) holds one: the rule still stands for it.
    engine = scene()
    engine.books[SYMBOL].set_frozen("a1", True)
    assert refusal(run(engine, amend("bid", qty=3))).reason is R.ACCOUNT_FROZEN
    assert kinds(run(engine, cancel("bid"))) == [CXL, "BookDelta"]


def test_freezing_an_account_with_nothing_open_is_the_freeze_alone() -> None:
    engine = scene(S.HALTED)
    assert kinds(run(engine, freeze("a9"))) == ["AccountFrozen"]


# -- listings -------------------------------------------------------------------------------------
def test_listing_a_new_symbol_creates_its_book_at_seq_1_in_its_first_status() -> None:
    # Given an engine without ETH-USD
    engine = Engine([INSTRUMENT])
    # When ETH-USD is listed, halted
    events = run(engine, listing(make_instrument(S.HALTED, symbol="ETH-USD", base="ETH"), 1))
    # Then its first event is the listing, and it refuses orders until trading is set
    assert [(type(e), e.seq, e.symbol) for e in events] == [(InstrumentListed, 1, "ETH-USD")]
    eth = "ETH-USD"
    assert refusal(run(engine, new("e1", symbol=eth))).reason is R.SYMBOL_HALTED
    run(engine, set_status(S.TRADING, symbol=eth))
    assert kinds(run(engine, new("e2", symbol=eth))) == ["OrderAccepted", "BookDelta"]
    assert engine.seq(eth) == 5


def test_a_change_puts_new_limits_and_band_in_force_and_keeps_the_status_and_orders() -> None:
    # Given a book with a bid, halted
    engine = scene(S.HALTED)
    # When a change raises the minimum to 3 and sets an opening reference of 200 (band 180..220);
    # its JSON says TRADING, which a change does not set
    changed = make_instrument(min_qty=Decimal(3), reference_price=Decimal(200))
    events = run(engine, listing(changed, 1))
    # Then the listing is journaled and in force from now on; the bid stays; still halted
    listed = events[0]
    assert isinstance(listed, InstrumentListed)
    assert (listed.version, listed.instrument) == (1, changed.model_dump_json())
    assert engine.books[SYMBOL].status is S.HALTED
    assert "bid" in open_ids(engine)
    run(engine, set_status(S.TRADING))
    assert refusal(run(engine, new("q", BUY, 2, 200))).reason is R.QUANTITY_BELOW_MIN
    assert refusal(run(engine, new("p", BUY, 3, 170))).reason is R.PRICE_OUT_OF_BAND
    assert engine.band_reference(SYMBOL) == 200


def test_a_listing_at_or_below_the_books_version_is_ignored() -> None:
    engine = Engine([INSTRUMENT])
    run(engine, listing(make_instrument(min_qty=Decimal(3)), 2))
    seq = engine.seq(SYMBOL)
    stale = listing(make_instrument(min_qty=Decimal(4)), 1)
    same = msgspec.structs.replace(listing(INSTRUMENT, 2), command_id="other-id")
    for command in (stale, same):
        assert engine.is_duplicate(command)
        assert run(engine, command) == []
    assert engine.seq(SYMBOL) == seq
    assert engine.books[SYMBOL].instrument.min_qty == 3


@pytest.mark.parametrize(
    "changed",
    [
        make_instrument(tick_size=Decimal(2)).model_dump_json(),
        make_instrument(lot_size=Decimal(2)).model_dump_json(),
        make_instrument(asset_class=AssetClass.EQUITY).model_dump_json(),
        make_instrument(symbol="ETH-USD", base="ETH").model_dump_json(),
        make_instrument(symbol="BTC-EUR", quote="EUR").model_dump_json(),
        '{"symbol": "BTC-USD"}',
        "not json",
    ],
    ids=["tick", "lot", "asset-class", "base", "quote", "incomplete", "not-json"],
)
def test_a_change_of_a_field_fixed_at_listing_is_refused_and_journaled(changed: str) -> None:
    # Given a book with a bid
    engine = scene()
    seq = engine.seq(SYMBOL)
    # When a listing changes what may not change (or is no instrument at all)
    command = listing(changed, 1, symbol=SYMBOL)
    events = run(engine, command)
    # Then it is refused INVALID_COMMAND with the next seq; nothing changes; a redelivery is a
    # no-op
    rejected = refusal(events)
    assert (rejected.reason, rejected.order_id, rejected.command_id, rejected.seq) == (
        R.INVALID_COMMAND,
        "",
        command.command_id,
        seq + 1,
    )
    assert engine.books[SYMBOL].instrument == INSTRUMENT
    assert engine.books[SYMBOL].version == 0
    assert run(engine, command) == []


@pytest.mark.parametrize(
    ("text", "version"),
    [
        (make_instrument(symbol="ETH-USD", base="ETH").model_dump_json(), 0),
        (make_instrument(symbol="SOL-USD", base="SOL").model_dump_json(), 1),
        ("{}", 1),
    ],
    ids=["version-0", "other-symbol", "not-an-instrument"],
)
def test_a_new_listing_that_cannot_be_listed_is_refused_outside_every_stream(
    text: str, version: int
) -> None:
    engine = Engine([INSTRUMENT])
    rejected = refusal(run(engine, listing(text, version, symbol="ETH-USD")))
    assert (rejected.reason, rejected.seq) == (R.INVALID_COMMAND, 0)
    assert "ETH-USD" not in engine.books


# -- the kill switch, unknown symbols, dedupe -----------------------------------------------------
@pytest.mark.parametrize("status", [S.HALTED, S.CANCEL_ONLY])
def test_the_kill_switch_reaches_every_symbol_of_the_engine(status: InstrumentStatus) -> None:
    # Given three symbols, each with a resting bid
    engine = Engine([INSTRUMENT, ETH, SOL])
    for symbol in engine.books:
        run(engine, new(f"{symbol}-bid", BUY, 5, 100, symbol=symbol))
    # When the admin service sends the status to every symbol (the kill switch)
    changes = [e for symbol in engine.books for e in run(engine, set_status(status, symbol=symbol))]
    # Then each symbol journals its change, refuses new orders, and still takes cancels
    assert [(e.symbol, e.seq) for e in changes] == [(s, 3) for s in engine.books]
    for symbol in engine.books:
        assert engine.books[symbol].status is status
        reason = refusal(run(engine, new(f"{symbol}-2", symbol=symbol))).reason
        assert reason is (R.SYMBOL_HALTED if status is S.HALTED else R.SYMBOL_CANCEL_ONLY)
        take_off = cancel(f"{symbol}-bid")
        assert kinds(run(engine, msgspec.structs.replace(take_off, symbol=symbol)))[0] == CXL


@pytest.mark.parametrize(
    "command",
    [
        set_status(S.HALTED, symbol="DOGE-USD"),
        mass_cancel("a1", symbol="DOGE-USD"),
        freeze("a1", symbol="DOGE-USD"),
    ],
    ids=["status", "mass-cancel", "freeze"],
)
def test_an_operator_command_for_an_unknown_symbol_takes_no_seq(command: EngineCommand) -> None:
    engine = Engine([INSTRUMENT])
    rejected = refusal(run(engine, command))
    assert (rejected.reason, rejected.seq, rejected.order_id) == (R.UNKNOWN_SYMBOL, 0, "")
    assert rejected.command_id == command.command_id  # type: ignore[union-attr]
    assert rejected.account_id == ("" if "status" in type(command).__name__.lower() else "a1")
    assert not engine.is_duplicate(command)


def test_is_duplicate_knows_each_operator_command_once_applied() -> None:
    engine = scene()
    commands: list[EngineCommand] = [
        set_status(S.HALTED),
        mass_cancel("a2"),
        freeze("a1"),
        listing(make_instrument(min_qty=Decimal(3)), 1),
    ]
    for command in commands:
        assert not engine.is_duplicate(command)
        run(engine, command)
        assert engine.is_duplicate(command)


# -- snapshots and replay of operators' state -------------------------------------------------
def test_a_snapshot_keeps_the_status_frozen_accounts_and_listing_over_the_files() -> None:
    # Given a halted book with a frozen account and a listing at version 1
    engine = scene(S.HALTED)
    run(engine, freeze("a2"), listing(make_instrument(min_qty=Decimal(3)), 1))
    # When it is restored with the file's (trading, older) definition
    restored = Engine.restore(engine.snapshot(), [INSTRUMENT])
    # Then the journaled state wins
    book = restored.books[SYMBOL]
    assert (book.status, book.frozen, book.version, book.min_lots) == (S.HALTED, {"a2"}, 1, 3)
    assert restored.snapshot() == engine.snapshot()


def as_version_2(snapshot: bytes) -> bytes:
    """The snapshot as the engine wrote it before version 3: no operator state."""
    version, books = msgspec.msgpack.decode(snapshot)
    assert version == 3
    return msgspec.msgpack.encode([2, [book[:10] for book in books]])


def test_a_snapshot_before_operators_takes_the_status_from_the_instruments_file() -> None:
    engine = scene()
    restored = Engine.restore(as_version_2(engine.snapshot()), [make_instrument(S.HALTED)])
    assert restored.books[SYMBOL].status is S.HALTED
    assert refusal(run(restored, new("n"))).reason is R.SYMBOL_HALTED
    assert kinds(run(restored, cancel("bid")))[0] == CXL


def test_restore_builds_a_symbol_listed_at_run_time_from_the_snapshot_alone() -> None:
    # Given ETH-USD listed at run time, with an order
    engine = Engine([INSTRUMENT])
    run(engine, listing(ETH, 1), new("e", BUY, 5, 100, symbol="ETH-USD"))
    # When restored with the static instruments only
    restored = Engine.restore(engine.snapshot(), [INSTRUMENT])
    # Then the book is there as it was; an older snapshot without its JSON cannot be restored
    assert restored.snapshot() == engine.snapshot()
    assert restored.l3("ETH-USD") == engine.l3("ETH-USD")
    with pytest.raises(ValueError, match="not among the instruments"):
        Engine.restore(as_version_2(engine.snapshot()), [INSTRUMENT])


def test_replay_creates_a_symbol_listed_at_run_time_and_refuses_one_never_listed() -> None:
    engine = Engine([INSTRUMENT])
    journal = run(engine, listing(ETH, 1)) + run(engine, new("e", symbol="ETH-USD"))
    rebuilt = Engine([INSTRUMENT])
    rebuilt.replay(journal)
    assert rebuilt.snapshot() == engine.snapshot()
    with pytest.raises(ReplayError, match="does not list"):
        Engine([INSTRUMENT]).replay(journal[1:])
