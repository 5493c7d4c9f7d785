"""Fan-out: a book subscriber's snapshot and deltas chain without a gap and match their
checksums; private events are not fan-out's; Gone connections are removed."""

from decimal import Decimal
from typing import Any

from exchange.domain import BookDelta, Side
from exchange.journal.batch import consume
from exchange.realtime.checksum import best_first, book_checksum
from exchange.wire import JournalRecord
from tests.unit.realtime.helpers import World
from tests.unit.streams.helpers import BTC, Market, busy_market, records

Book = dict[str, dict[Decimal, str]]


def checksum(book: Book) -> int:
    def side(levels: dict[Decimal, str], descending: bool) -> list[tuple[str, str]]:
        texts = {BTC.format_price(BTC.price_to_ticks(str(p))): q for p, q in levels.items()}
        return best_first(texts, descending=descending)

    return book_checksum(side(book["BUY"], True), side(book["SELL"], False))


def follow_book(frames: list[dict[str, Any]]) -> tuple[Book, int]:
    """A client of book.BTC-USD, as the README tells it to behave: start from the snapshot,
    drop frames it already holds, require each frame to start where the last one ended, and
    check each frame's checksum against the book it holds after the frame."""
    snapshot = frames[0]
    assert snapshot["type"] == "snapshot"
    book: Book = {
        "BUY": {Decimal(p): q for p, q, _ in snapshot["bids"]},
        "SELL": {Decimal(p): q for p, q, _ in snapshot["asks"]},
    }
    last = snapshot["seq"]
    assert checksum(book) == snapshot["checksum"]
    for frame in frames[1:]:
        assert frame["type"] == "book"
        if frame["seq"] <= last:
            continue
        assert frame["prev_seq"] <= last, f"gap: holding {last}, frame from {frame['prev_seq']}"
        for delta in frame["deltas"]:
            if delta["seq"] > last:
                side = book[delta["side"]]
                if Decimal(delta["qty"]) == 0:
                    side.pop(Decimal(delta["price"]), None)
                else:
                    side[Decimal(delta["price"])] = delta["qty"]
        last = frame["seq"]
        assert checksum(book) == frame["checksum"], f"checksum at seq {last}"
    return book, last


def engine_book(market: Market) -> Book:
    view = market.engine.l2("BTC-USD", 1000)
    return {
        "BUY": {BTC.ticks_to_price(level.price): BTC.format_qty(level.qty) for level in view.bids},
        "SELL": {BTC.ticks_to_price(level.price): BTC.format_qty(level.qty) for level in view.asks},
    }


def test_a_book_subscriber_gets_the_snapshot_then_deltas_that_rebuild_the_engines_book() -> None:
    # Given a market whose first events fan-out has already handled (keeping the Redis book)
    world = World()
    market = busy_market()
    done = len(market.events)
    for record in records(market.events, 4):
        consume(world.fanout, record, {})
    # When a client subscribes to the book, and trading goes on
    world.connect("c1")
    world.send("c1", {"action": "subscribe", "channel": "book.BTC-USD"})
    market.order("o6", Side.SELL, "0.25", "65020.00", account="erin")
    market.order("o7", Side.BUY, "0.1", "65020.00", account="frank")
    market.order("o8", Side.BUY, "0.3", "64000.00", account="frank")
    for record in records(market.events[done:], 2):
        consume(world.fanout, record, {})
    # Then it received the acknowledgement, the snapshot, then book frames in seq order
    frames = world.received("c1")
    assert frames[0] == {"type": "subscribed", "channel": "book.BTC-USD"}
    book_frames = frames[1:]
    assert [frame["type"] for frame in book_frames] == ["snapshot"] + ["book"] * (
        len(book_frames) - 1
    )
    assert book_frames[0]["seq"] == done
    assert [f["seq"] for f in book_frames[1:]] == sorted(f["seq"] for f in book_frames[1:])
    # And following them rebuilds exactly the engine's book, up to its last seq
    book, last = follow_book(book_frames)
    assert (book, last) == (engine_book(market), len(market.events))


def test_a_subscriber_racing_fanout_still_chains_its_snapshot_to_the_next_frame() -> None:
    # Given a subscription made after fan-out advanced the book for a record but before it
    # posted it (the snapshot then already holds that record, and the frame arrives too)
    world = World()
    market = busy_market()
    first, second, *_ = records(market.events, 6)
    consume(world.fanout, first, {})
    deltas = [event for event in second.events if isinstance(event, BookDelta)]
    world.books.advance("BTC-USD", prev_seq=first.last_seq, seq=second.last_seq, deltas=deltas)
    world.connect("c1")
    world.send("c1", {"action": "subscribe", "channel": "book.BTC-USD"})
    # When fan-out posts that record, then the rest
    for record in records(market.events[first.last_seq :], 6):
        consume(world.fanout, record, {})
    # Then the client drops the frame it already holds and rebuilds the book without a gap
    assert follow_book(world.received("c1")[1:]) == (engine_book(market), len(market.events))


def test_fanout_posts_the_public_channels_and_leaves_orders_to_the_recorder() -> None:
    # Given carol subscribed to her orders and an anonymous trade feed
    world = World()
    world.connect("carol-1", "carol")
    world.send("carol-1", {"action": "subscribe", "channel": "orders"})
    world.connect("anon")
    world.send("anon", {"action": "subscribe", "channel": "trades.BTC-USD"})
    world.sender.sent.clear()
    # When the busy market's events fan out
    market = busy_market()
    for record in records(market.events, 5):
        consume(world.fanout, record, {})
    # Then carol gets nothing from fan-out (the recorder posts her orders and fills, with their
    # client ids and fees: see test_orders_feed)
    assert world.received("carol-1") == []
    # And the public trade feed carries the trades without accounts
    tape = [trade for frame in world.received("anon") for trade in frame["trades"]]
    assert [t["qty"] for t in tape] == ["0.5000", "0.1000", "0.2000"]
    assert "account" not in str(world.received("anon"))


def test_a_gone_connection_is_removed_with_its_subscriptions() -> None:
    # Given two book subscribers, one of which has gone away without a $disconnect
    world = World()
    for connection_id in ("live", "gone"):
        world.connect(connection_id)
        world.send(connection_id, {"action": "subscribe", "channel": "book.BTC-USD"})
        world.send(connection_id, {"action": "subscribe", "channel": "trades.BTC-USD"})
    world.sender.gone.add("gone")
    # When fan-out posts to them
    market = busy_market()
    consume(world.fanout, JournalRecord.of(market.events), {})
    # Then the gone one is deleted entirely and the live one still gets frames
    assert world.connections.get("gone") is None
    assert world.connections.channels("gone") == []
    assert world.connections.subscribers("book.BTC-USD") == ["live"]
    assert world.received("live")[-1]["type"] in {"book", "trades"}


def test_a_replayed_record_is_not_posted_again() -> None:
    world = World()
    world.connect("c1")
    world.send("c1", {"action": "subscribe", "channel": "trades.BTC-USD"})
    record = JournalRecord.of(busy_market().events)
    consume(world.fanout, record, {})
    sent = len(world.sender.sent)
    consume(world.fanout, record, {})
    assert len(world.sender.sent) == sent


def test_a_record_larger_than_a_frame_is_split_into_chained_frames() -> None:
    # Given one record with more book deltas than one frame takes
    world = World()
    market = Market()
    for n in range(600):
        market.order(f"s{n}", Side.SELL, "0.01", f"{60000 + n * 10}.00", account="s")
    world.connect("c1")
    world.send("c1", {"action": "subscribe", "channel": "book.BTC-USD"})
    consume(world.fanout, JournalRecord.of(market.events), {})
    frames = [f for f in world.received("c1") if f["type"] == "book"]
    # Then the frames' ranges chain from 0 to the record's end
    assert len(frames) == 2
    assert [(f["prev_seq"], f["seq"]) for f in frames] == [
        (0, frames[0]["deltas"][-1]["seq"]),
        (frames[0]["deltas"][-1]["seq"], len(market.events)),
    ]
