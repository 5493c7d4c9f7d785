"""Book checksums: a client that keeps the book from the frames, as the README says, matches the
checksum of every frame over long random runs of the real engine (frames split at the size
limit, a subscriber joining mid-run, the engine's snapshot ahead of fan-out, fan-out losing its
own copy); and a book that differs in its top 25 levels does not."""

import random
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from exchange.domain import BookDelta, Side, TimeInForce
from exchange.journal.batch import consume
from exchange.l2 import BookLevel, L2Book
from exchange.realtime.checksum import DEPTH, best_first, book_checksum, checksum_text
from exchange.realtime.fanout import MAX_ITEMS_PER_FRAME, Fanout
from exchange.wire import JournalRecord
from tests.unit.realtime.helpers import World
from tests.unit.streams.helpers import SYMBOL, Market


@dataclass
class BookClient:
    """A ``book.{symbol}`` subscriber: prices and quantities kept as the frames' strings."""

    bids: dict[str, str] = field(default_factory=dict)
    asks: dict[str, str] = field(default_factory=dict)
    seq: int | None = None
    verified: int = 0
    unverifiable: list[int] = field(default_factory=list)  # seqs of frames without a checksum

    def checksum(self) -> int:
        return book_checksum(best_first(self.bids, descending=True), best_first(self.asks))

    def receive(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "snapshot":
            self.bids = {price: qty for price, qty, _ in frame["bids"]}
            self.asks = {price: qty for price, qty, _ in frame["asks"]}
            self.seq = frame["seq"]
            assert self.checksum() == frame["checksum"], "snapshot checksum"
            self.verified += 1
            return
        assert frame["type"] == "book"
        assert self.seq is not None
        if frame["seq"] <= self.seq:
            return  # already held
        assert frame["prev_seq"] <= self.seq, f"gap: holding {self.seq}, frame {frame['prev_seq']}"
        for delta in frame["deltas"]:
            if delta["seq"] > self.seq:
                side = self.bids if delta["side"] == "BUY" else self.asks
                if Decimal(delta["qty"]) == 0:
                    side.pop(delta["price"], None)
                else:
                    side[delta["price"]] = delta["qty"]
        self.seq = frame["seq"]
        if frame["checksum"] is None:
            self.unverifiable.append(frame["seq"])
            return
        assert self.checksum() == frame["checksum"], f"book checksum at seq {self.seq}"
        self.verified += 1


def random_market(rng: random.Random, commands: int) -> tuple[Market, dict[int, L2Book]]:
    """Makers around 65,000, takers sweeping levels, cancels; and the engine's full L2 book at
    a few seqs along the way (what its snapshots would publish)."""
    market = Market()
    resting: list[tuple[str, str]] = []
    books: dict[int, L2Book] = {}
    for n in range(commands):
        roll = rng.random()
        account = f"acct-{rng.randrange(8)}"
        if roll < 0.15 and resting:
            order_id, owner = resting.pop(rng.randrange(len(resting)))
            market.cancel(order_id, account=owner)
        elif roll < 0.25:
            side = rng.choice([Side.BUY, Side.SELL])
            limit = 65_000 + (60 if side is Side.BUY else -60)
            qty = f"{Decimal(rng.randint(50, 400)) / 1000}"
            market.order(f"t{n}", side, qty, f"{limit}.00", account=account, tif=TimeInForce.IOC)
        else:
            side = rng.choice([Side.BUY, Side.SELL])
            offset = Decimal(rng.randint(1, 120)) / 2
            price = Decimal(65_000) - offset if side is Side.BUY else Decimal(65_000) + offset
            qty = f"{Decimal(rng.randint(1, 60)) / 1000}"
            market.order(f"m{n}", side, qty, f"{price:.2f}", account=account)
            resting.append((f"m{n}", account))
        if n % 97 == 0:
            view = market.engine.l2(SYMBOL, 10**6)
            books[view.seq] = L2Book(
                symbol=SYMBOL,
                seq=view.seq,
                bids=[BookLevel(lvl.price, lvl.qty, lvl.orders) for lvl in view.bids],
                asks=[BookLevel(lvl.price, lvl.qty, lvl.orders) for lvl in view.asks],
            )
    return market, books


def random_records(market: Market, rng: random.Random) -> list[JournalRecord]:
    events, out, start = market.events, [], 0
    while start < len(events):
        size = rng.choice([1, 3, 10, 40, 150, 2 * MAX_ITEMS_PER_FRAME + 7])
        out.append(JournalRecord.of(events[start : start + size]))
        start += size
    return out


@pytest.mark.parametrize("seed", [7, 1234, 99_001])
def test_a_client_book_matches_every_frames_checksum_over_a_long_random_run(seed: int) -> None:
    # Given a long random market (thousands of book deltas) cut into records of random sizes
    rng = random.Random(seed)
    market, engine_books = random_market(rng, 2_500)
    records = random_records(market, rng)
    deltas = sum(1 for event in market.events if isinstance(event, BookDelta))
    assert deltas > 3_000
    world = World()
    fanout = world.fanout
    positions: dict[str, int] = {}
    early, late = BookClient(), BookClient()
    halfway = next(i for i, r in enumerate(records) if r.first_seq > len(market.events) // 2)
    joins = {len(records) // 4: ("early", early), halfway - 1: ("late", late)}
    restart, cold, ahead = halfway // 2, halfway, 0
    # When fan-out consumes them, one subscriber joining early and one late; the engine twice
    # publishing a snapshot ahead of fan-out, once as fan-out restarts (a new container: its
    # memory gone, its stored copy kept) and once as it loses its stored copy too
    for index, record in enumerate(records):
        if index == restart:
            world.books.books[SYMBOL] = next(
                book for seq, book in sorted(engine_books.items()) if seq > record.last_seq + 50
            )
            fanout = world.fanout
        if index in joins:
            name, _ = joins[index]
            world.connect(name)
            world.send(name, {"action": "subscribe", "channel": f"book.{SYMBOL}"})
        if index == cold:
            ahead = min(seq for seq in engine_books if seq > record.last_seq + 50)
            lost_at = record.first_seq
            world.books.books[SYMBOL] = engine_books[ahead]
            world.tracked.books.clear()
            fanout = world.fanout
        consume(fanout, record, positions)
    # Then every frame each client could verify matched its book, and both end on the engine's
    for name, client in (("early", early), ("late", late)):
        for frame in world.received(name)[1:]:
            client.receive(frame)
        assert client.seq == len(market.events)
        view = market.engine.l2(SYMBOL, 10**6)
        instrument = world.session.catalog.get(SYMBOL)
        assert client.bids == {
            instrument.format_price(lvl.price): instrument.format_qty(lvl.qty) for lvl in view.bids
        }
        assert client.verified > 10
    # And frames went without a checksum only between the lost copy and the engine's snapshot
    assert late.unverifiable
    assert late.unverifiable == early.unverifiable
    assert all(lost_at <= seq < ahead for seq in late.unverifiable)


def test_a_book_that_differs_in_its_top_levels_fails_the_checksum() -> None:
    # Given a client that followed a random run to the end
    rng = random.Random(5)
    market, _ = random_market(rng, 600)
    world = World()
    fanout: Fanout = world.fanout
    first, *rest = random_records(market, rng)
    consume(fanout, first, {})
    world.connect("c1")
    world.send("c1", {"action": "subscribe", "channel": f"book.{SYMBOL}"})
    for record in rest:
        consume(fanout, record, {})
    client = BookClient()
    frames = world.received("c1")[1:]
    for frame in frames:
        client.receive(frame)
    expected = frames[-1]["checksum"]
    assert client.checksum() == expected
    assert len(client.asks) > DEPTH
    # When one quantity in the top 25 is off, or a top level is missing, it no longer matches
    best_ask, qty = best_first(client.asks)[0]
    client.asks[best_ask] = f"{Decimal(qty) + Decimal('0.0001')}"
    assert client.checksum() != expected
    del client.asks[best_ask]
    assert client.checksum() != expected
    # And a level below the top 25 is outside what the checksum covers
    client.asks[best_ask] = qty
    deep, deep_qty = best_first(client.asks)[DEPTH]
    client.asks[deep] = f"{Decimal(deep_qty) * 2}"
    assert client.checksum() == expected


def test_the_checksum_is_the_crc32_of_the_top_levels_text() -> None:
    bids = [(f"{100 - n}.00", "1.5") for n in range(30)]
    asks = [("101.00", "2")]
    text = checksum_text(bids, asks)
    assert text.startswith("100.00:1.5,99.00:1.5,")
    assert text.endswith("|101.00:2")
    assert text.count(",") == DEPTH - 1
    assert book_checksum(bids, asks) == zlib.crc32(text.encode())
    assert book_checksum([], [("1", "1")]) == zlib.crc32(b"|1:1")
