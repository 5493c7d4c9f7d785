"""Scenarios: L2/L3 views, routing between symbols, memory under churn, and doc examples."""

import doctest
import importlib
import json
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest

from engine_service.core import Engine, L2View, LevelView, build
from exchange.domain import Instrument, Side
from tests.unit.engine.helpers import INSTRUMENT, SYMBOL, cancel, kinds, new, run

BUY, SELL = Side.BUY, Side.SELL
ETH = Instrument(
    symbol="ETH-USD",
    base="ETH",
    quote="USD",
    tick_size=Decimal(1),
    lot_size=Decimal(1),
    min_qty=Decimal(1),
    max_qty=Decimal(100),
    price_band_pct=Decimal(5),
)


def test_l2_view_shows_top_levels_best_first_with_counts_and_seq() -> None:
    # Given bids at 99 (two orders), 98 and 97 and an offer at 101
    engine = Engine([INSTRUMENT])
    run(
        engine,
        new("b1", BUY, 2, 99),
        new("b2", BUY, 3, 99),
        new("b3", BUY, 4, 98),
        new("b4", BUY, 5, 97),
        new("s1", SELL, 6, 101, account="a2"),
    )
    # When the top two levels are asked for
    view = engine.l2(SYMBOL, depth=2)
    # Then they come best first, aggregated, with the seq they reflect
    assert view == L2View(
        symbol=SYMBOL,
        seq=10,
        bids=[LevelView(99, 5, 2), LevelView(98, 4, 1)],
        asks=[LevelView(101, 6, 1)],
    )


def test_l3_view_lists_each_levels_orders_in_queue_order() -> None:
    engine = Engine([INSTRUMENT])
    run(engine, new("b1", BUY, 2, 99), new("b2", BUY, 3, 99, account="a2"), new("b3", BUY, 4, 99))
    run(engine, cancel("b2", account="a2"))
    level = engine.l3(SYMBOL, depth=1).bids[0]
    assert [(o.order_id, o.account_id, o.open_qty) for o in level.orders] == [
        ("b1", "a1", 2),
        ("b3", "a1", 4),
    ]
    assert level.qty == 6


def test_engine_routes_each_command_to_its_symbols_book_and_seq() -> None:
    # Given one engine for two symbols
    engine = Engine([INSTRUMENT, ETH])
    # When orders arrive for both
    btc = run(engine, new("o1", BUY, 2, 100))
    eth = run(engine, new("o1", SELL, 2, 100, symbol="ETH-USD"))
    # Then each symbol has its own book, its own ids and its own seq from 1
    assert [e.seq for e in btc] == [e.seq for e in eth] == [1, 2]
    assert {e.symbol for e in eth} == {"ETH-USD"}
    assert engine.l2("ETH-USD").asks == [LevelView(100, 2, 1)]
    assert engine.l2(SYMBOL).asks == []


def test_last_price_is_the_last_trade() -> None:
    engine = Engine([INSTRUMENT])
    assert engine.last_price(SYMBOL) is None
    run(engine, new("s1", SELL, 2, 101, account="a2"), new("b1", BUY, 2, 103))
    assert engine.last_price(SYMBOL) == 101


def test_cancel_churn_keeps_memory_bounded() -> None:
    # Given a book with one resting order far from the action
    engine = Engine([INSTRUMENT], dedupe_window=100)
    run(engine, new("anchor", BUY, 2, 90))

    def churn(rounds: int, start: int) -> None:
        for i in range(start, start + rounds):
            run(engine, new(f"o{i}", BUY, 2, 95 + i % 3), cancel(f"o{i}"))
            run(engine, new(f"p{i}", BUY, 2, 99), new(f"q{i}", BUY, 2, 99), cancel(f"p{i}"))
            run(engine, cancel(f"q{i}"))

    # When orders are placed and cancelled many times over
    churn(2_000, 0)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    churn(5_000, 10_000)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    # Then memory does not grow with the number of commands (dedupe windows are full already)
    assert grown < 200_000, grown
    assert engine.l3(SYMBOL).bids[0].orders[0].order_id == "anchor"


def test_a_level_compacts_its_queue_once_dead_entries_outnumber_live_ones() -> None:
    engine = Engine([INSTRUMENT])
    run(engine, *(new(f"o{i}", BUY, 2, 99) for i in range(100)))
    run(engine, *(cancel(f"o{i}") for i in range(0, 100, 2)))
    run(engine, *(cancel(f"o{i}") for i in range(1, 90, 2)))
    level = engine.books[SYMBOL].bids.levels[99]
    assert level.count == 5
    assert len(level.orders) <= 2 * 16
    assert kinds(run(engine, new("s1", SELL, 2, 99, account="a2")))[1] == "Trade"


@pytest.mark.parametrize(
    "module",
    [
        "book",
        "build",
        "engine",
        "matcher",
        "recent",
        "replay",
        "rules",
        "snapshot",
        "state",
        "stops",
        "symbol",
    ],
)
def test_docstring_examples_of_the_core_hold(module: str) -> None:
    imported = importlib.import_module(f"engine_service.core.{module}")
    result = doctest.testmod(imported)
    assert result.failed == 0


def test_a_compiled_build_older_than_its_sources_is_reported_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given compiled files whose stamp names other sources than those on disk
    stamp = tmp_path / "stamp.json"
    stamp.write_text(json.dumps(dict.fromkeys(build.COMPILED, "old")))
    monkeypatch.setattr(build, "STAMP", stamp)
    monkeypatch.setattr(build, "compiled_files", lambda: [tmp_path / "book.so"])
    # Then every compiled source is stale; with no compiled files, none is
    assert build.stale_sources() == build.COMPILED
    monkeypatch.setattr(build, "compiled_files", list)
    assert build.stale_sources() == []
