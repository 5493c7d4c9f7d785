"""The recorder and the operators' events: statuses and listings into the instruments store (only
forwards), an operator's cancel like any cancel, a freeze that changes no order, a symbol listed
at run time, and the audit chain over all of them."""

from decimal import Decimal

import pytest

from exchange.domain import (
    AccountFrozen,
    AnyEvent,
    CancelReason,
    InstrumentCatalog,
    InstrumentListed,
    InstrumentStatus,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
    Trade,
    TradingStatusChanged,
)
from exchange.instruments.live import LiveCatalog
from exchange.instruments.store import InMemoryInstrumentStore
from exchange.journal.audit import verify
from exchange.journal.batch import consume
from exchange.messaging import ShardMap
from exchange.orders.lifecycle import OrderState
from exchange.orders.recorder import Recorder
from exchange.settings import DEFAULT_ASSET_SCALES
from exchange.testing.stores import InMemoryRecorderStore
from exchange.wire import JournalRecord

CATALOG = InstrumentCatalog.demo()
BTC = CATALOG.get("BTC-USD")
SOL_BTC = BTC.model_copy(
    update={"symbol": "SOL-BTC", "base": "SOL", "quote": "BTC", "tick_size": Decimal("0.000001"),
            "lot_size": Decimal("0.01"), "min_qty": Decimal("0.01"), "max_qty": Decimal("10000"),
            "reference_price": Decimal("0.002"), "band_min_qty": None,
            "max_price": Decimal("1"), "max_notional": Decimal("1000")}
)  # fmt: skip


def status(seq: int, now: InstrumentStatus, was: InstrumentStatus) -> TradingStatusChanged:
    return TradingStatusChanged(
        symbol="BTC-USD", ts=seq, seq=seq, command_id=f"adm_{seq}", status=now, previous=was,
        actor="olga", reason="incident 42",
    )  # fmt: skip


def accepted(
    order_id: str,
    seq: int,
    *,
    symbol: str = "BTC-USD",
    side: Side = Side.BUY,
    price: int = 6_500_000,
    qty: int = 5_000,
    account: str = "alice",
) -> OrderAccepted:
    return OrderAccepted(
        symbol=symbol, ts=seq, seq=seq, order_id=order_id, account_id=account,
        client_order_id=f"c-{order_id}", side=side, order_type=OrderType.LIMIT,
        tif=TimeInForce.GTC, qty=qty, price=price,
    )  # fmt: skip


class World:
    """A recorder over in-memory tables and an instruments store seeded from the demo file."""

    def __init__(self) -> None:
        self.instruments = InMemoryInstrumentStore(clock=lambda: 1)
        self.instruments.seed(CATALOG, ShardMap.demo(), now_ns=1)
        self.catalog = LiveCatalog(self.instruments, CATALOG, shards=ShardMap.demo(), ttl_s=0)
        self.store = InMemoryRecorderStore()
        self.recorder = Recorder(
            self.store,
            catalog=self.catalog,
            asset_scales=DEFAULT_ASSET_SCALES,
            instruments=self.instruments,
            clock=lambda: 7,
        )
        self.positions: dict[str, int] = {}

    def record(self, *events: AnyEvent) -> None:
        consume(self.recorder, JournalRecord.of(list(events)), self.positions)


@pytest.fixture
def world() -> World:
    return World()


def test_a_status_change_becomes_the_symbols_status_in_the_store(world: World) -> None:
    # When the engine journals a halt, then a resume to post-only, in two records
    world.record(accepted("o1", 1), status(2, InstrumentStatus.HALTED, InstrumentStatus.TRADING))
    halted = world.instruments.get("BTC-USD")
    world.record(status(3, InstrumentStatus.POST_ONLY, InstrumentStatus.HALTED))
    # Then the store held each in turn, with the seq that set it; the catalog serves the last
    assert halted is not None
    assert (halted.status, halted.status_seq) == (InstrumentStatus.HALTED, 2)
    listing = world.instruments.get("BTC-USD")
    assert listing is not None
    assert (listing.status, listing.status_seq) == (InstrumentStatus.POST_ONLY, 3)
    assert world.catalog.get("BTC-USD").status is InstrumentStatus.POST_ONLY
    # And the events are in the events table like any other
    assert isinstance(world.store.events[("BTC-USD", 2)], TradingStatusChanged)


def test_an_older_status_never_replaces_a_newer_one(world: World) -> None:
    # Given the (global) store holds a status journaled at seq 9, e.g. written by the other
    # region's recorder, which is ahead of this one
    world.instruments.set_status("BTC-USD", InstrumentStatus.CANCEL_ONLY, 9)
    # When this recorder reaches an earlier change
    world.record(accepted("o1", 1), status(2, InstrumentStatus.HALTED, InstrumentStatus.TRADING))
    # Then the store keeps the newer status, and the record is applied all the same
    listing = world.instruments.get("BTC-USD")
    assert listing is not None
    assert (listing.status, listing.status_seq) == (InstrumentStatus.CANCEL_ONLY, 9)
    assert world.recorder.last_seq("BTC-USD") == 2
    assert world.store.orders[("alice", "o1")].status is OrderStatus.NEW


def test_a_listing_change_is_marked_listed_at_its_seq(world: World) -> None:
    # Given four events of trading, and an operator wrote version 2 of BTC-USD (a fee change)
    world.record(*(accepted(f"o{seq}", seq) for seq in range(1, 5)))
    world.instruments.put(
        BTC.model_copy(update={"taker_fee_bps": 7}), shard="s1", version=2, actor="olga",
        reason="fees",
    )  # fmt: skip
    # When the engine journals it
    listed = InstrumentListed(
        symbol="BTC-USD", ts=5, seq=5, command_id="list:BTC-USD:2",
        instrument=BTC.model_copy(update={"taker_fee_bps": 7}).model_dump_json(), version=2,
        actor="olga", reason="fees",
    )  # fmt: skip
    world.record(listed)
    # Then version 2 carries the seq it took effect at
    listing = world.instruments.get("BTC-USD")
    assert listing is not None
    assert (listing.version, listing.listed_seq) == (2, 5)


def test_a_symbol_listed_at_run_time_records_its_orders_and_trades(world: World) -> None:
    # Given SOL-BTC listed by an operator after this process started (not in its file)
    world.instruments.put(SOL_BTC, shard="s1", version=1, actor="olga", reason="new market")
    listed = InstrumentListed(
        symbol="SOL-BTC", ts=1, seq=1, command_id="list:SOL-BTC:1",
        instrument=SOL_BTC.model_dump_json(), version=1, actor="olga", reason="new market",
    )  # fmt: skip
    maker = accepted("m1", 2, symbol="SOL-BTC", side=Side.SELL, price=2_000, qty=300)
    taker = accepted("t1", 3, symbol="SOL-BTC", price=2_000, qty=100, account="bob")
    trade = Trade(
        symbol="SOL-BTC", ts=4, seq=4, maker_order_id="m1", taker_order_id="t1",
        maker_account_id="alice", taker_account_id="bob", price=2_000, qty=100,
        aggressor_side=Side.BUY,
    )  # fmt: skip
    # When its first record comes
    world.record(listed, maker, taker, trade)
    # Then its orders, fills and trade are recorded at its ticks and lots, and it is listed
    assert world.store.orders[("bob", "t1")].status is OrderStatus.FILLED
    assert world.store.orders[("alice", "m1")].status is OrderStatus.PARTIALLY_FILLED
    assert world.store.trades[("SOL-BTC", 4)].price == 2_000
    listing = world.instruments.get("SOL-BTC")
    assert listing is not None
    assert listing.listed_seq == 1


def test_an_operator_cancel_cancels_the_order_with_its_reason(world: World) -> None:
    # Given an open order of alice
    world.record(accepted("o1", 1))
    # When an operator freezes alice: the engine journals the freeze, then her cancel
    frozen = AccountFrozen(
        symbol="BTC-USD", ts=2, seq=2, command_id="adm_f", account_id="alice", frozen=True,
        actor="olga", reason="fraud review",
    )  # fmt: skip
    cancel = OrderCancelled(
        symbol="BTC-USD", ts=3, seq=3, order_id="o1", account_id="alice", cancelled_qty=5_000,
        reason=CancelReason.OPERATOR, command_id="adm_f",
    )  # fmt: skip
    world.record(frozen, cancel)
    # Then the order is CANCELLED, the reason OPERATOR shown, nothing left open
    order = world.store.orders[("alice", "o1")]
    assert (order.status, order.detail, order.open, order.last_seq) == (
        OrderStatus.CANCELLED, "OPERATOR", 0, 3,
    )  # fmt: skip
    # And the freeze is in the events table
    assert isinstance(world.store.events[("BTC-USD", 2)], AccountFrozen)


def test_the_audit_chain_covers_the_operators_events(world: World) -> None:
    # Given a record of each operator event kind among order events
    world.record(accepted("o1", 1), status(2, InstrumentStatus.HALTED, InstrumentStatus.TRADING))
    world.record(
        AccountFrozen(symbol="BTC-USD", ts=3, seq=3, command_id="adm_f", account_id="bob",
                      frozen=True, actor="olga"),
        InstrumentListed(symbol="BTC-USD", ts=4, seq=4, command_id="list:BTC-USD:9",
                         instrument=BTC.model_dump_json(), version=9, actor="olga"),
    )  # fmt: skip
    # Then the chain verifies end to end, each entry of its event's kind
    entries = list(world.store.audit_entries("BTC-USD"))
    assert [entry.kind for entry in entries] == ["accepted", "status", "frozen", "listed"]
    report = verify("BTC-USD", entries)
    assert report.ok
    assert report.head_seq == 4


def test_without_an_instruments_store_the_events_are_recorded_all_the_same() -> None:
    # A recorder built without a store (a tool replaying the journal into the orders alone)
    store = InMemoryRecorderStore()
    recorder = Recorder(store, catalog=CATALOG, asset_scales=DEFAULT_ASSET_SCALES)
    consume(recorder, JournalRecord.of([status(1, InstrumentStatus.HALTED,
                                              InstrumentStatus.TRADING)]), {})  # fmt: skip
    assert recorder.last_seq("BTC-USD") == 1


def test_an_order_that_slipped_past_the_apis_status_check_is_rejected_with_the_engines_reason(
    world: World,
) -> None:
    # Given an order the API recorded PENDING_NEW before its catalog saw the halt
    world.store.orders[("alice", "o1")] = OrderState(
        account_id="alice", order_id="o1", symbol="BTC-USD", client_order_id="c-o1",
        side=Side.BUY, order_type=OrderType.LIMIT, tif=TimeInForce.GTC, qty=5_000,
        status=OrderStatus.PENDING_NEW, price=6_500_000,
    )  # fmt: skip
    # When the engine, halted at seq 1, rejects it
    world.record(
        status(1, InstrumentStatus.HALTED, InstrumentStatus.TRADING),
        OrderRejected(symbol="BTC-USD", ts=2, seq=2, order_id="o1", account_id="alice",
                      reason=RejectReason.SYMBOL_HALTED, detail="BTC-USD is HALTED"),
    )  # fmt: skip
    # Then the order is REJECTED with the engine's reason, for GET /v1/orders/{id} to show
    order = world.store.orders[("alice", "o1")]
    assert (order.status, order.reject_reason, order.open) == (
        OrderStatus.REJECTED, "SYMBOL_HALTED", 0,
    )  # fmt: skip
