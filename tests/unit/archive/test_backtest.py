"""The backtest on a tiny archived history, its fills and P&L computed by hand; the strategy
interface's refusals; the market maker over the same history; and the replay of the archive
into the same final book as the engine that made it."""

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from exchange.archive.reader import read_events
from exchange_client.strategy import Amend, Intent, OwnFill, Place, QuietStrategy
from local.backtest import Backtest, backtest, main, replay_books
from tests.unit.archive.history import BTC, SYMBOL, archive, history

D = Decimal
FULL = 2**31


class BuyThenOffer(QuietStrategy):
    """Bids 0.3 at 65,000 on its first tick; offers 0.2 at 65,100 after its first fill; on its
    second tick amends an order it never placed (which must be refused)."""

    def __init__(self) -> None:
        self.ticks = 0
        self.fills: list[OwnFill] = []
        self.refused: list[tuple[Intent, str]] = []

    def on_timer(self, now_ns: int) -> Sequence[Intent]:
        self.ticks += 1
        if self.ticks == 1:
            return [Place("bid", SYMBOL, "buy", D("65000"), D("0.3"))]
        if self.ticks == 2:
            return [Amend("ghost", D("1"))]
        return []

    def on_fill(self, fill: OwnFill) -> Sequence[Intent]:
        self.fills.append(fill)
        if len(self.fills) == 1:
            return [Place("offer", SYMBOL, "sell", D("65100"), D("0.2"), post_only=True)]
        return []

    def on_rejected(self, intent: Intent, reason: str) -> Sequence[Intent]:
        self.refused.append((intent, reason))
        return []


def test_a_strategy_trades_with_history_and_its_pnl_is_exact(tmp_path: Path) -> None:
    # Given the archived history (tests/unit/archive/history.py):
    #   10 s alice sells 1.0 @ 65,000   20 s bob buys 0.5 @ 65,000   30 s carol buys 0.3 @ 65,000
    #   40 s dave buys 0.5 @ 65,100     50 s erin sells 0.1 @ 65,050
    events, _engine = history()
    archive(tmp_path, events)
    strategy = BuyThenOffer()
    # When the strategy runs in it (its first tick at 10 s, before alice's order)
    run = Backtest(SYMBOL, strategy, BTC, rate=1.0).run(read_events(tmp_path))
    # Then, by hand: its bid rests first, so alice's sell fills it (0.3 @ 65,000, maker); it then
    # offers 0.2 @ 65,100; bob and carol take alice's 0.5 and 0.2 (carol rests 0.1); dave's bid
    # at 65,100 lifts the offer (0.2 @ 65,100, maker); erin sells 0.1 to dave at 65,100.
    fills = [(f.side, f.price, f.qty, f.liquidity, f.key) for f in run.fills]
    assert fills == [
        ("buy", D("65000.00"), D("0.3000"), "maker", "bid"),
        ("sell", D("65100.00"), D("0.2000"), "maker", "offer"),
    ]
    # P&L: 0.2 closed at +100 = 20 realized; 0.1 still long, marked at 65,100 (erin's trade): +10.
    assert run.pnl.as_dict() == {
        "position": "0.1000",
        "bought": "0.3000",
        "sold": "0.2000",
        "last_price": "65100.00",
        "realized": "20.000000",
        "unrealized": "10.000000",
        "total": "30.000000",
    }
    assert strategy.refused == [(Amend("ghost", D("1")), "no order ghost")]
    assert strategy.ticks == 41  # 10 s ... 50 s, once a second of replayed time


def test_the_market_maker_runs_over_the_archive_and_prints_json_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events, _engine = history()
    archive(tmp_path, events)
    main(["--source", str(tmp_path), "--symbol", SYMBOL, "--rate", "2"])
    lines = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(lines[-1])
    pnl = summary["pnl"][SYMBOL]
    # Whatever it traded, the books balance: position = bought - sold; total = realized + marked
    assert D(pnl["position"]) == D(pnl["bought"]) - D(pnl["sold"])
    assert D(pnl["total"]) == D(pnl["realized"]) + D(pnl["unrealized"])
    assert summary["fills"]  # its quotes were lifted by dave
    assert len(summary["fills"]) == len(lines) - 3  # header, the fills, the P&L line, the JSON
    assert lines[0].split()[:3] == ["seq", "symbol", "side"]


def test_the_backtest_is_deterministic(tmp_path: Path) -> None:
    events, _engine = history()
    archive(tmp_path, events)
    first, second = (backtest(tmp_path, rate=3)[0] for _ in range(2))
    assert first.fills == second.fills
    assert first.pnl.as_dict() == second.pnl.as_dict()


def test_the_replayed_archive_rebuilds_the_engines_final_book(tmp_path: Path) -> None:
    events, engine = history()
    archive(tmp_path, events)
    books = replay_books(tmp_path)
    assert set(books) == {SYMBOL}
    assert books[SYMBOL] == engine.l3(SYMBOL, FULL)
    assert books[SYMBOL].bids  # dave's and carol's remainders: not a trivially empty book
