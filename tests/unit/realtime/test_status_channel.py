"""The public ``status`` channel: every symbol's trading status on subscribe, then each change as
fan-out posts it; a subscriber never misses a change between its snapshot and the pushes."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from exchange.domain import (
    AnyEvent,
    InstrumentCatalog,
    InstrumentListed,
    InstrumentStatus,
    TradingStatusChanged,
)
from exchange.instruments.live import LiveCatalog
from exchange.instruments.store import InMemoryInstrumentStore
from exchange.journal.batch import consume
from exchange.messaging import ShardMap
from exchange.realtime.statuses import MarketStatus
from exchange.wire import JournalRecord
from tests.unit.realtime.helpers import World

CATALOG = InstrumentCatalog.demo()
TRADING, HALTED = InstrumentStatus.TRADING, InstrumentStatus.HALTED


def change(seq: int, now: InstrumentStatus, was: InstrumentStatus) -> TradingStatusChanged:
    return TradingStatusChanged(
        symbol="BTC-USD", ts=1_000 + seq, seq=seq, command_id=f"adm_{seq}", status=now,
        previous=was, actor="olga", reason="a private note",
    )  # fmt: skip


def markets(frame: dict[str, Any]) -> dict[str, tuple[str, int]]:
    assert (frame["type"], frame["channel"]) == ("status_snapshot", "status")
    return {item["symbol"]: (item["status"], item["seq"]) for item in frame["markets"]}


@dataclass
class Live:
    """A world whose catalog is live over an instruments store seeded from the demo file."""

    world: World
    store: InMemoryInstrumentStore
    catalog: LiveCatalog


@pytest.fixture
def live() -> Live:
    store = InMemoryInstrumentStore(clock=lambda: 1)
    store.seed(CATALOG, ShardMap.demo(), now_ns=1)
    catalog = LiveCatalog(store, CATALOG, shards=ShardMap.demo(), ttl_s=0)
    world = World(catalog=catalog)
    world.connect("anon")
    return Live(world, store, catalog)


def test_subscribing_gets_every_symbols_status_after_the_reply() -> None:
    # Given an anonymous connection and nothing ever changed
    world = World()
    world.connect("anon")
    # When it subscribes to status (no symbol in the name)
    world.send("anon", {"action": "subscribe", "channel": "status", "id": "s1"})
    # Then it is stored under one key for everybody, and it gets the reply, then the snapshot
    assert world.connections.subscribers("status") == ["anon"]
    reply, snapshot = world.received("anon")
    assert reply == {"type": "subscribed", "channel": "status", "id": "s1"}
    assert markets(snapshot) == {
        "BTC-USD": ("TRADING", 0),
        "ETH-USD": ("TRADING", 0),
        "SOL-USD": ("TRADING", 0),
    }


@pytest.mark.parametrize("name", ["status.BTC-USD", "status.x.y"])
def test_status_takes_no_symbol(name: str) -> None:
    world = World()
    world.connect("anon")
    reply = world.send("anon", {"action": "subscribe", "channel": name})
    assert (reply["type"], reply["code"]) == ("error", "invalid_channel")


def test_the_snapshot_shows_the_status_the_store_holds_with_its_seq(live: Live) -> None:
    # Given the recorder materialized a halt of SOL-USD at seq 12
    live.store.set_status("SOL-USD", HALTED, 12)
    # When a client subscribes
    live.world.send("anon", {"action": "subscribe", "channel": "status"})
    # Then its snapshot has it
    assert markets(live.world.received("anon")[1])["SOL-USD"] == ("HALTED", 12)


def test_a_change_is_pushed_to_subscribers_without_the_operators_words(live: Live) -> None:
    # Given a status subscriber and a book subscriber
    live.world.send("anon", {"action": "subscribe", "channel": "status"})
    live.world.connect("books")
    live.world.send("books", {"action": "subscribe", "channel": "book.BTC-USD"})
    # When fan-out handles a record with a halt
    consume(live.world.fanout, JournalRecord.of([change(1, HALTED, TRADING)]), {})
    # Then the status subscriber gets one status frame; the book subscriber no status at all
    pushed = live.world.received("anon")[2:]
    assert pushed == [
        {"type": "status", "channel": "status", "symbol": "BTC-USD", "status": "HALTED",
         "previous": "TRADING", "seq": 1, "ts": 1_001},
    ]  # fmt: skip
    assert all(frame["type"] != "status" for frame in live.world.received("books"))


def test_a_subscriber_after_a_push_sees_the_change_though_the_recorder_is_behind(
    live: Live,
) -> None:
    # Given fan-out posted a halt at seq 1 while the recorder has not yet written it to the store
    consume(live.world.fanout, JournalRecord.of([change(1, HALTED, TRADING)]), {})
    listing = live.catalog.listing("BTC-USD")
    assert (listing.status, listing.status_seq) == (TRADING, 0)
    # When a client subscribes now (after the push it could not receive)
    live.world.send("anon", {"action": "subscribe", "channel": "status"})
    # Then its snapshot holds the halt all the same: fan-out kept it before posting
    assert markets(live.world.received("anon")[1])["BTC-USD"] == ("HALTED", 1)


def test_the_snapshot_takes_the_newer_of_the_store_and_fan_outs_copy(live: Live) -> None:
    # Given fan-out's copy is behind the store for BTC-USD and ahead of it for ETH-USD
    board = live.world.statuses
    board.put(MarketStatus(symbol="BTC-USD", status=InstrumentStatus.POST_ONLY, seq=3))
    live.store.set_status("BTC-USD", HALTED, 5)
    live.store.set_status("ETH-USD", HALTED, 5)
    board.put(MarketStatus(symbol="ETH-USD", status=InstrumentStatus.CANCEL_ONLY, seq=8))
    # When a client subscribes
    live.world.send("anon", {"action": "subscribe", "channel": "status"})
    # Then each symbol shows its latest
    shown = markets(live.world.received("anon")[1])
    assert (shown["BTC-USD"], shown["ETH-USD"]) == (("HALTED", 5), ("CANCEL_ONLY", 8))


def test_a_symbol_listed_at_run_time_is_pushed_with_its_first_status(live: Live) -> None:
    # Given an operator listed ADA-USD (in the store, not in the file) and a status subscriber
    ada = CATALOG.get("SOL-USD").model_copy(
        update={"symbol": "ADA-USD", "base": "ADA", "reference_price": Decimal("0.5"),
                "status": InstrumentStatus.POST_ONLY}
    )  # fmt: skip
    live.store.put(ada, shard="s1", version=1, actor="olga", reason="new")
    live.world.send("anon", {"action": "subscribe", "channel": "status"})
    # When fan-out handles its first record, and later a change of its terms (version 2)
    listed: list[AnyEvent] = [
        InstrumentListed(symbol="ADA-USD", ts=5, seq=1, command_id="list:ADA-USD:1",
                         instrument=ada.model_dump_json(), version=1, actor="olga"),
    ]  # fmt: skip
    consume(live.world.fanout, JournalRecord.of(listed), {})
    changed = InstrumentListed(
        symbol="ADA-USD", ts=6, seq=2, command_id="list:ADA-USD:2",
        instrument=ada.model_copy(update={"taker_fee_bps": 9}).model_dump_json(), version=2,
        actor="olga",
    )  # fmt: skip
    consume(live.world.fanout, JournalRecord.of([changed]), {})
    # Then the subscriber learnt of the new market once (a change of terms is no status change)
    snapshot, *pushed = live.world.received("anon")[1:]
    assert "ADA-USD" in markets(snapshot)
    assert pushed == [
        {"type": "status", "channel": "status", "symbol": "ADA-USD", "status": "POST_ONLY",
         "previous": None, "seq": 1, "ts": 5},
    ]  # fmt: skip


def test_a_listing_whose_instrument_does_not_parse_posts_no_status_and_fails_nothing(
    live: Live,
) -> None:
    live.world.send("anon", {"action": "subscribe", "channel": "status"})
    broken = InstrumentListed(
        symbol="BTC-USD", ts=5, seq=1, command_id="list:BTC-USD:1", instrument="{}", version=1,
        actor="olga",
    )  # fmt: skip
    consume(live.world.fanout, JournalRecord.of([broken]), {})
    assert live.world.fanout.last_seq("BTC-USD") == 1
    assert [f["type"] for f in live.world.received("anon")] == ["subscribed", "status_snapshot"]
