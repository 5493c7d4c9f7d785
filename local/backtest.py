"""Replay the archive through the real engine core, with a strategy trading in it: the backtest.

    python -m local.backtest --source .cache/local/archive [--symbol S] [--strategy marketmaker]
    python -m local.backtest --source s3://archive-bucket --rate 2

Each symbol's archived events are read in seq order (``exchange.archive.reader``). The orders
history placed, cancelled and amended, and the operators' commands, are submitted again as
commands, at their times, to a fresh ``engine_service.core.Engine``; the consequences history
recorded (trades, deltas, expiries, triggers) are the engine's to produce again. The strategy
(``exchange_client.strategy``) sees the engine's book, trades and its own fills, and its timer
ticks ``rate`` times a second of replayed time; its intents become commands of the account
``backtest`` at the time they are made, and the engine matches them with history's. The output is
a table of the strategy's fills and its P&L (``local.pnl``: exact, gross of fees), then the same
as one JSON line, the last line.

``replay_books`` is the other use of the archive: the final books rebuilt with ``Engine.replay``
(no matching), to compare with the engine's own.
"""

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal

from engine_service.core import Engine
from exchange.archive.reader import read_events
from exchange.domain import (
    AmendOrder,
    BookDelta,
    CancelOrder,
    EngineCommand,
    Event,
    Instrument,
    InstrumentCatalog,
    InstrumentListed,
    NewOrder,
    OrderAccepted,
    OrderRejected,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)
from exchange.domain.errors import InvalidNumber
from exchange_client.strategy import (
    BookTop,
    Cancel,
    Intent,
    OwnFill,
    Place,
    QuoteParams,
    Quoter,
    SideName,
    Strategy,
    TradeTick,
)
from local.pnl import PnL
from local.replay import history_commands, replay_books

type Liquidity = Literal["maker", "taker"]
ACCOUNT: Final = "backtest"
SECOND_NS: Final = 10**9
BOOK_DEPTH: Final = 10
MAX_FOLLOW_UPS: Final = 100  # intents answering intents, per event: a strategy that loops stops


@dataclass
class Backtest:
    """One symbol's replay with one strategy. ``instrument``: the symbol's static definition
    (None: the archive lists it, from its first event)."""

    symbol: str
    strategy: Strategy
    instrument: Instrument | None = None
    rate: float = 1.0  # strategy timer ticks per second of replayed time; 0: none
    fills: list[OwnFill] = field(default_factory=list)
    pnl: PnL = field(default_factory=PnL)
    engine: Engine = field(init=False)
    _orders: dict[str, str] = field(default_factory=dict)  # the strategy's key -> order id
    _keys: dict[str, str] = field(default_factory=dict)  # order id -> key
    _count: int = 0
    _next_timer_ns: int | None = None
    _now_ns: int = 0

    def __post_init__(self) -> None:
        self.engine = Engine([] if self.instrument is None else [self.instrument])

    def run(self, events: Iterable[Event]) -> "Backtest":
        for command in history_commands(events):
            self._tick_until(command.ts)
            self._now_ns = command.ts
            self._observe(self.engine.apply(command))
        return self

    # -- the strategy's side ---------------------------------------------------------------------
    def _tick_until(self, ts_ns: int) -> None:
        if self.rate <= 0 or self.symbol not in self.engine.books:
            return
        interval = int(SECOND_NS / self.rate)
        if self._next_timer_ns is None:
            self._next_timer_ns = ts_ns
        while self._next_timer_ns <= ts_ns:
            self._now_ns = self._next_timer_ns
            self._execute(self.strategy.on_timer(self._now_ns))
            self._next_timer_ns += interval

    def _execute(self, intents: Sequence[Intent], depth: int = 0) -> None:
        for intent in intents:
            command = self._command(intent)
            if isinstance(command, str):
                self._refused(intent, command, depth)
                continue
            events = self.engine.apply(command)
            if events and isinstance(events[0], OrderRejected):
                self._refused(intent, events[0].reason.value, depth)
            self._observe(events, depth)

    def _refused(self, intent: Intent, reason: str, depth: int) -> None:
        if depth < MAX_FOLLOW_UPS:
            self._execute(self.strategy.on_rejected(intent, reason), depth + 1)

    def _command(self, intent: Intent) -> EngineCommand | str:
        """The engine command of an intent, or why there is none."""
        instrument = self.engine.books[self.symbol].instrument
        self._count += 1
        symbol, ts = self.symbol, self._now_ns
        try:
            if isinstance(intent, Place):
                order_id = f"{ACCOUNT}-{self._count}"
                self._orders[intent.key], self._keys[order_id] = order_id, intent.key
                return NewOrder(
                    symbol=symbol, ts=ts, account_id=ACCOUNT, order_id=order_id,
                    client_order_id=intent.key,
                    side=Side.BUY if intent.side == "buy" else Side.SELL,
                    order_type=OrderType.LIMIT, tif=TimeInForce.GTC,
                    qty=instrument.qty_to_lots(intent.qty),
                    price=instrument.price_to_ticks(intent.price), post_only=intent.post_only,
                )  # fmt: skip
            order_id = self._orders.get(intent.key, "")
            if not order_id:
                return f"no order {intent.key}"
            command_id = f"{ACCOUNT}-c{self._count}"
            if isinstance(intent, Cancel):
                return CancelOrder(
                    symbol=symbol, ts=ts, account_id=ACCOUNT, command_id=command_id,
                    order_id=order_id,
                )  # fmt: skip
            return AmendOrder(
                symbol=symbol, ts=ts, account_id=ACCOUNT, command_id=command_id,
                order_id=order_id, price=instrument.price_to_ticks(intent.price),
                qty=None if intent.qty is None else instrument.qty_to_lots(intent.qty),
            )  # fmt: skip
        except InvalidNumber as exc:
            return str(exc)

    # -- what the engine did ---------------------------------------------------------------------
    def _observe(self, events: Sequence[Event], depth: int = 0) -> None:
        if self.symbol not in self.engine.books:
            return
        instrument = self.engine.books[self.symbol].instrument
        for event in events:
            if not isinstance(event, Trade):
                continue
            price, qty = instrument.ticks_to_price(event.price), instrument.lots_to_qty(event.qty)
            self.pnl.mark(price)
            aggressor: SideName = "buy" if event.aggressor_side is Side.BUY else "sell"
            tick = TradeTick(self.symbol, event.seq, event.ts, price, qty, aggressor)
            self._execute(self.strategy.on_trade(tick), depth)
            sides: tuple[tuple[str, SideName, Liquidity], ...] = (
                (event.maker_order_id, _other(aggressor), "maker"),
                (event.taker_order_id, aggressor, "taker"),
            )
            for order_id, side, liquidity in sides:
                key = self._keys.get(order_id)
                if key is None:
                    continue
                fill = OwnFill(key, self.symbol, event.seq, event.ts, side, price, qty, liquidity)
                self.fills.append(fill)
                self.pnl.fill(side, price, qty)
                self._execute(self.strategy.on_fill(fill), depth)
        if any(isinstance(event, BookDelta) for event in events):
            self._execute(self.strategy.on_book(self._top(events[-1])), depth)

    def _top(self, last: Event) -> BookTop:
        instrument = self.engine.books[self.symbol].instrument
        view = self.engine.l2(self.symbol, BOOK_DEPTH)

        def levels(side: Iterable[Any]) -> tuple[tuple[Decimal, Decimal], ...]:
            return tuple(
                (instrument.ticks_to_price(level.price), instrument.lots_to_qty(level.qty))
                for level in side
            )

        return BookTop(self.symbol, view.seq, last.ts, levels(view.bids), levels(view.asks))


def _other(side: SideName) -> SideName:
    return "sell" if side == "buy" else "buy"


def market_maker(symbol: str, instrument: Instrument, first_price: Decimal) -> Strategy:
    """The market-maker bot's quoting (``exchange_client.marketmaker``), around ``first_price``."""
    return Quoter(
        QuoteParams(
            symbol=symbol, mid=first_price, tick=instrument.tick_size,
            size=instrument.min_qty * 10,
        )
    )  # fmt: skip


STRATEGIES: Final[dict[str, Callable[[str, Instrument, Decimal], Strategy]]] = {
    "marketmaker": market_maker,
}


def first_price(events: Sequence[Event], instrument: Instrument | None) -> Decimal | None:
    """Where the market maker's reference starts: the first trade's price, else the first
    limit order's, else the instrument's reference price."""
    if instrument is None:
        return None
    trades = (event.price for event in events if isinstance(event, Trade))
    limits = (event.price for event in events if isinstance(event, OrderAccepted) and event.price)
    ticks = next(trades, None) or next(limits, None)
    return instrument.reference_price if ticks is None else instrument.ticks_to_price(ticks)


def backtest(
    source: str | Path,
    *,
    strategy: str = "marketmaker",
    symbols: Iterable[str] | None = None,
    instruments: InstrumentCatalog | None = None,
    rate: float = 1.0,
) -> list[Backtest]:
    """Run ``strategy`` over each archived symbol; one finished ``Backtest`` per symbol."""
    catalog = instruments or InstrumentCatalog.demo()
    runs = []
    by_symbol: dict[str, list[Event]] = {}
    for event in read_events(source, symbols=None if symbols is None else set(symbols)):
        by_symbol.setdefault(event.symbol, []).append(event)
    for symbol, events in by_symbol.items():
        instrument = catalog.get(symbol) if symbol in catalog else None
        listed = next((e for e in events if isinstance(e, InstrumentListed)), None)
        spec = instrument or (None if listed is None else _listed_instrument(listed))
        price = first_price(events, spec)
        if spec is None or price is None:
            print(f"{symbol}: no instrument or price to trade at, skipped", file=sys.stderr)
            continue
        run = Backtest(symbol, STRATEGIES[strategy](symbol, spec, price), instrument, rate)
        runs.append(run.run(events))
    return runs


def _listed_instrument(event: InstrumentListed) -> Instrument | None:
    try:
        return Instrument.model_validate_json(event.instrument)
    except ValueError:  # pydantic's ValidationError: the engine refused this listing too
        return None


def report(runs: Sequence[Backtest]) -> str:
    """The fills as a table, the P&L per symbol, then both as one JSON line (the last line)."""
    lines = [f"{'seq':>8} {'symbol':<10} {'side':<4} {'price':>14} {'qty':>12} {'liq':<5} key"]
    fills = [fill for run in runs for fill in run.fills]
    lines += [
        f"{f.seq:>8} {f.symbol:<10} {f.side:<4} {f.price:>14} {f.qty:>12} {f.liquidity:<5} {f.key}"
        for f in fills
    ]
    pnl = {run.symbol: run.pnl.as_dict() for run in runs}
    for symbol, values in pnl.items():
        lines.append(f"{symbol}: " + ", ".join(f"{name} {value}" for name, value in values.items()))
    summary = {
        "fills": [
            {"symbol": f.symbol, "seq": f.seq, "ts_ns": f.ts_ns, "side": f.side,
             "price": format(f.price, "f"), "qty": format(f.qty, "f"),
             "liquidity": f.liquidity, "key": f.key}
            for f in fills
        ],
        "pnl": pnl,
    }  # fmt: skip
    lines.append(json.dumps(summary, separators=(",", ":")))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.backtest", description=__doc__)
    parser.add_argument("--source", required=True, help="archive root: a directory or s3://...")
    parser.add_argument("--symbol", action="append", help="only this symbol (repeatable)")
    parser.add_argument("--strategy", choices=sorted(STRATEGIES), default="marketmaker")
    parser.add_argument("--rate", type=float, default=1.0, help="timer ticks per replayed second")
    parser.add_argument("--instruments", type=Path, help="the instruments file the engine ran")
    args = parser.parse_args(argv)
    catalog = (
        InstrumentCatalog.from_json(args.instruments.read_bytes()) if args.instruments else None
    )
    runs = backtest(
        args.source, strategy=args.strategy, symbols=args.symbol, instruments=catalog,
        rate=args.rate,
    )  # fmt: skip
    print(report(runs))


__all__ = ["Backtest", "backtest", "history_commands", "replay_books", "report"]

if __name__ == "__main__":
    main()
