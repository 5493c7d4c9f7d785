"""The market history's archive end to end on ``make run``: the archive poller (Firehose's local
stand-in) writes the journal as Parquet under ``events/symbol=<S>/date=<D>/``; after trading, the
files hold every journal event exactly once, the same events the recorder keeps in the events
table (DynamoDB, read from moto), and replaying them through the engine core
(``local.backtest.replay_books``) rebuilds the books the engine serves (``GET
/v1/markets/{symbol}/book``: the engine's latest snapshot, with its seq).

It runs last in an e2e session (``e2e_last``, before the statements' check), so it checks the
journal of every other test too.
"""

import asyncio
import functools
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from exchange.archive.parquet import read_table
from exchange.archive.reader import archive_files, read_events
from exchange.domain import InstrumentCatalog
from exchange.domain.engine_state import L3View
from exchange.wire import decode_event
from exchange_client import Balance, Book, ExchangeClient, Order
from local.aws import CREDENTIALS
from local.backtest import replay_books
from tests.e2e.conftest import LocalStack, eventually

D = Decimal
Key = tuple[str, int]  # (symbol, seq)


def run[T](coroutine: "asyncio.Future[T] | object") -> T:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def events_table(state: dict[str, Any]) -> dict[Key, Any]:
    """Every event the recorder wrote to the events table, decoded: (symbol, seq) -> event."""
    dynamodb = boto3.client(
        "dynamodb",
        region_name=state["region"],
        endpoint_url=state["aws_endpoint_url"],
        **CREDENTIALS,
    )
    found: dict[Key, Any] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=state["tables"]["events"]):
        for item in page["Items"]:
            key = (item["symbol"]["S"], int(item["seq"]["N"]))
            assert key not in found  # the table's key: one item per event
            found[key] = decode_event(item["payload"]["B"])
    return found


def archived_rows(root: Path) -> Counter[Key]:
    """How many rows each (symbol, seq) has across every Parquet file (no dedupe)."""
    rows: Counter[Key] = Counter()
    for file in archive_files(root):
        for seq in read_table(file.read(), ["seq"]).column("seq").to_pylist():
            assert isinstance(seq, int)
            rows[file.symbol, seq] += 1
    return rows


def levels(view: L3View, side: str) -> list[tuple[Decimal, Decimal, int]]:
    instrument = InstrumentCatalog.demo().get(view.symbol)
    return [
        (
            D(instrument.format_price(level.price)),
            D(instrument.format_qty(level.qty)),
            len(level.orders),
        )
        for level in (view.bids if side == "bids" else view.asks)
    ]


def resting_orders(view: L3View) -> dict[str, tuple[Decimal, Decimal]]:
    """Every order resting in the view: order id -> (price, open quantity)."""
    instrument = InstrumentCatalog.demo().get(view.symbol)
    return {
        order.order_id: (
            D(instrument.format_price(level.price)),
            D(instrument.format_qty(order.open_qty)),
        )
        for level in (*view.bids, *view.asks)
        for order in level.orders
    }


def book_levels(book: Book, side: str) -> list[tuple[Decimal, Decimal, int | None]]:
    return [(level.price, level.qty, level.orders) for level in getattr(book, side)]


def holds(asset: str) -> Callable[[list[Balance]], bool]:
    return lambda balances: any(b.asset == asset for b in balances)


def in_status(status: str) -> Callable[[Order], bool]:
    return lambda order: order.status == status


def at_least(seq: int) -> Callable[[Book], bool]:
    """The engine's snapshot has caught up with the archive's last event of the symbol."""
    return lambda book: book.seq >= seq


async def trade(stack: LocalStack) -> tuple[ExchangeClient, ExchangeClient, list[Order]]:
    """Two SOL-USD traders: three resting orders, trades, and the orders left resting (as the
    API shows them; in a whole session others may have rested SOL-USD orders too)."""
    maker, maker_id = await stack.signup()
    taker, taker_id = await stack.signup()
    await stack.deposit(maker_id, "SOL", D("100"))
    await stack.deposit(maker_id, "USD", D("10000"))
    await stack.deposit(taker_id, "USD", D("10000"))
    await stack.deposit(taker_id, "SOL", D("50"))
    for client, asset in ((maker, "SOL"), (taker, "USD")):
        await eventually(client.balances, holds(asset))
    resting = [
        await maker.place_order("SOL-USD", "sell", "10", "150.5"),
        await maker.place_order("SOL-USD", "sell", "5", "151"),
        await maker.place_order("SOL-USD", "buy", "4", "149"),
    ]
    for order in resting:
        await eventually(functools.partial(maker.get_order, order.order_id), in_status("NEW"))
    lift = await taker.place_order("SOL-USD", "buy", "12", "151")  # 10 @ 150.5, 2 @ 151
    hit = await taker.place_order("SOL-USD", "sell", "1", "149")  # 1 @ 149
    rest = await taker.place_order("SOL-USD", "buy", "2", "148.5")
    for order, status in ((lift, "FILLED"), (hit, "FILLED"), (rest, "NEW")):
        await eventually(functools.partial(taker.get_order, order.order_id), in_status(status))
    left = [await maker.get_order(order.order_id) for order in resting]
    left.append(await taker.get_order(rest.order_id))
    return maker, taker, [order for order in left if order.is_open]


@pytest.mark.e2e_last
def test_the_archive_holds_every_journal_event_once_and_replays_to_the_engines_books(
    stack: LocalStack,
) -> None:
    root = Path(stack.state["archive_dir"])

    async def archived_and_recorded() -> tuple[dict[Key, Any], dict[Key, Any]]:
        await stack.control("archive/flush")  # the poller reads the journal up to now
        archived = {(e.symbol, e.seq): e for e in await asyncio.to_thread(list, read_events(root))}
        return archived, await asyncio.to_thread(events_table, stack.state)

    async def scenario() -> None:
        # Given trades and resting orders on SOL-USD (after whatever the session did before)
        maker, taker, left = await trade(stack)
        assert len(left) >= 3  # the maker's 151 sell and 149 buy, the taker's 148.5 buy

        # When the archive poller has caught up with the journal, and the recorder too
        archived, recorded = await eventually(
            archived_and_recorded, lambda ar: ar[0].keys() == ar[1].keys(), timeout_s=30
        )

        # Then the Parquet files hold every event of the events table, exactly once, the same
        assert archived == recorded
        rows = archived_rows(root)
        assert set(rows) == set(recorded)
        assert [key for key, count in rows.items() if count != 1] == []
        assert any(key[0] == "SOL-USD" for key in archived)
        # and each symbol's history is gap-free from seq 1
        for symbol in {symbol for symbol, _ in archived}:
            seqs = sorted(seq for s, seq in archived if s == symbol)
            assert seqs == list(range(1, len(seqs) + 1)), symbol

        # And replaying them through the engine core rebuilds the engine's final books
        demo = set(InstrumentCatalog.demo().symbols)
        books = await asyncio.to_thread(replay_books, root, symbols=demo)
        assert "SOL-USD" in books
        replayed = resting_orders(books["SOL-USD"])
        for order in left:  # each resting order, at its price, with what is still open
            assert replayed[order.order_id] == (order.price, order.open_qty), order
        for symbol, view in books.items():
            served = await eventually(
                functools.partial(maker.book, symbol, depth=500), at_least(view.seq), timeout_s=30
            )
            assert served.seq == view.seq, symbol
            assert book_levels(served, "bids") == levels(view, "bids"), symbol
            assert book_levels(served, "asks") == levels(view, "asks"), symbol

        # Finally leave nothing resting
        for client in (maker, taker):
            await client.cancel_all(symbol="SOL-USD")
            await client.close()

    run(scenario())
