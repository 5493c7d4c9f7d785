"""The ``orders`` channel, published by the recorder: every event carries its order's
``client_order_id``, every fill the fee the recorder wrote for it, only to the order's owner,
once the record is written."""

import json
from decimal import Decimal
from typing import Any

import pytest

from exchange.domain import Side
from exchange.domain.numbers import plain
from exchange.journal.batch import consume
from exchange.orders.recorder import Recorder
from exchange.realtime.fanout import Broadcaster
from exchange.realtime.orders_feed import OrdersFeed, PublishingRecorderStore
from exchange.settings import DEFAULT_ASSET_SCALES
from exchange.testing.stores import InMemoryRecorderStore, InMemorySender
from tests.unit.realtime.helpers import World
from tests.unit.streams.helpers import CATALOG, Market, busy_market, records


def recorded(
    world: World, market: Market, *, size: int = 3, scales: dict[str, int] | None = None
) -> InMemoryRecorderStore:
    """The market's events through the recorder (over the rows the API wrote) with the feed."""
    store = InMemoryRecorderStore()
    for order_id, command in market.orders.items():
        store.orders[(command.account_id, order_id)] = market.pending(order_id)
    feed = OrdersFeed(Broadcaster(world.connections, world.sender), catalog=CATALOG)
    sink = Recorder(
        PublishingRecorderStore(store, feed),
        catalog=CATALOG,
        asset_scales=scales or DEFAULT_ASSET_SCALES,
    )
    positions: dict[str, int] = {}
    for record in records(market.events, size):
        consume(sink, record, positions)
    return store


def items(world: World, connection_id: str) -> list[dict[str, Any]]:
    return [item for frame in world.received(connection_id) for item in frame["events"]]


def subscribed(*pairs: tuple[str, str]) -> World:
    world = World()
    for connection_id, account in pairs:
        world.connect(connection_id, account)
        world.send(connection_id, {"action": "subscribe", "channel": "orders"})
    world.sender.sent.clear()
    return world


def test_each_event_carries_its_client_order_id_and_each_fill_its_recorded_fee() -> None:
    # Given carol (twice) and alice subscribed to their orders
    world = subscribed(("carol-1", "carol"), ("carol-2", "carol"), ("alice-1", "alice"))
    # When the busy market's events are recorded
    market = busy_market()
    store = recorded(world, market)
    # Then carol's connections get carol's orders only, each event with its client order id
    carol = items(world, "carol-1")
    assert world.received("carol-1") == world.received("carol-2")
    assert {(i["order_id"], i["client_order_id"]) for i in carol} == {("o3", "c-o3"),
                                                                      ("o5", "c-o5")}  # fmt: skip
    assert [i["event"] for i in carol if i["order_id"] == "o5"] == ["accepted", "fill", "expired"]
    # And each fill has the fee the recorder wrote for it (what GET /v1/fills shows), in USD
    fills = [i for i in carol if i["event"] == "fill"]
    written = {(row.order_id, row.seq): row for row in store.fills.values()}
    assert [(f["role"], f["side"], f["price"], f["qty"], f["fee_asset"]) for f in fills] == [
        ("TAKER", "BUY", "65000.00", "0.5000", "USD"),
        ("TAKER", "BUY", "65010.00", "0.1000", "USD"),
        ("TAKER", "BUY", "65010.00", "0.2000", "USD"),
    ]
    assert [f["fee"] for f in fills] == [plain(written[(f["order_id"], f["seq"])].fee)
                                         for f in fills]  # fmt: skip
    # 5 bps of the notional, at the quote's scale in the ledger (8 places by default)
    assert [Decimal(f["fee"]) for f in fills] == [Decimal("16.25"), Decimal("3.2505"),
                                                  Decimal("6.501")]  # fmt: skip
    alice = items(world, "alice-1")
    assert {i["client_order_id"] for i in alice} == {"c-o1"}
    assert [(i["role"], Decimal(i["fee"])) for i in alice if i["event"] == "fill"] == [
        ("MAKER", Decimal("6.5"))
    ]


def test_a_fills_fee_follows_the_orders_earlier_fills() -> None:
    # Given USD kept to the cent, so fees round up cumulatively per order
    world = subscribed(("carol-1", "carol"))
    # When carol's o3 fills twice and her o5 once
    recorded(world, busy_market(), scales={"USD": 2, "BTC": 8})
    # Then o3's second fill pays what takes its total from 16.25 to ceil(19.5005) = 19.51, which
    # no trade alone says; o5's single fill pays ceil(6.501)
    fills = [(i["order_id"], i["fee"]) for i in items(world, "carol-1") if i["event"] == "fill"]
    assert fills == [("o3", "16.25"), ("o3", "3.26"), ("o5", "6.51")]


def test_a_refused_cancel_of_another_accounts_order_does_not_show_its_client_id() -> None:
    # Given alice's resting order and mallory subscribed to her own orders
    world = subscribed(("mallory-1", "mallory"), ("alice-1", "alice"))
    market = Market()
    market.order("o1", Side.SELL, "0.5", "65000.00", account="alice")
    # When mallory tries to cancel it, in the same record as alice's own events
    market.cancel("o1", account="mallory")
    recorded(world, market, size=10)
    # Then mallory learns of her refused command, without alice's client order id
    (refused,) = items(world, "mallory-1")
    assert (refused["event"], refused["reason"]) == ("rejected", "NOT_ORDER_OWNER")
    assert refused["client_order_id"] is None
    assert refused["command_id"]
    assert {i["client_order_id"] for i in items(world, "alice-1")} == {"c-o1"}


def test_frames_go_out_only_after_the_record_is_written() -> None:
    # Given a sender that looks at the recorder's store when a frame goes out
    world = subscribed(("carol-1", "carol"))
    market = busy_market()
    store = InMemoryRecorderStore()
    for order_id, command in market.orders.items():
        store.orders[(command.account_id, order_id)] = market.pending(order_id)
    heads: list[tuple[int, int]] = []

    class Watching(InMemorySender):
        def send(self, connection_id: str, data: bytes) -> bool:
            frame = json.loads(data)
            head = store.audit_head("BTC-USD")
            heads.append((max(i["seq"] for i in frame["events"]), head.seq if head else 0))
            return super().send(connection_id, data)

    feed = OrdersFeed(Broadcaster(world.connections, Watching()), catalog=CATALOG)
    sink = Recorder(
        PublishingRecorderStore(store, feed), catalog=CATALOG, asset_scales=DEFAULT_ASSET_SCALES
    )
    for record in records(market.events, 4):
        consume(sink, record, {})
    # Then every frame was posted once its record's audit entries (the commit point) existed
    assert heads
    assert all(event_seq <= head for event_seq, head in heads)


def test_a_push_that_fails_never_fails_the_record() -> None:
    # Given a Management API that fails every post
    world = subscribed(("carol-1", "carol"))

    class Failing(InMemorySender):
        def send(self, connection_id: str, data: bytes) -> bool:
            raise ConnectionError("endpoint down")

    world.sender = Failing()
    # When the market's events are recorded
    market = busy_market()
    store = recorded(world, market)
    # Then the orders are recorded all the same
    assert store.orders[("carol", "o5")].status.value == "EXPIRED"
    assert store.heads["BTC-USD"].seq == len(market.events)


@pytest.mark.parametrize("size", [1, 100])
def test_a_replayed_record_is_recorded_and_posted_once(size: int) -> None:
    world = subscribed(("carol-1", "carol"))
    market = busy_market()
    recorded(world, market, size=size)
    posted = list(world.sender.sent)
    store = InMemoryRecorderStore()
    feed = OrdersFeed(Broadcaster(world.connections, world.sender), catalog=CATALOG)
    sink = Recorder(
        PublishingRecorderStore(store, feed), catalog=CATALOG, asset_scales=DEFAULT_ASSET_SCALES
    )
    positions: dict[str, int] = {}
    for record in records(market.events, size):
        consume(sink, record, positions)
    sent = len(world.sender.sent)
    for record in records(market.events, size):
        consume(sink, record, positions)
    assert len(world.sender.sent) == sent
    assert posted
