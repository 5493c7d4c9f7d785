"""Command streams over several symbols that reach every path of the engine, for the differential
tests of the two cores: hypothesis strategies and a seeded generator of long streams.

A stream trades on BTC-USD (from the static instruments file, or listed at run time by its first
command), on ETH-USD (listed at run time, changed, relisted with stale or refused versions) and
sends commands to XRP-USD, which is never listed. Each symbol's commands come from the engine
tests' own stream builder, so they name earlier orders and command ids (duplicates, other
accounts' orders, ids used before their order arrives) and break every rule now and then.
"""

import random
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import strategies as st

from engine_service.core import Engine, cores
from engine_service.core.engine import DEFAULT_DEDUPE_WINDOW
from exchange.domain import (
    AmendOrder,
    CancelOrder,
    EngineCommand,
    Instrument,
    InstrumentStatus,
    ListInstrument,
    NewOrder,
    OrderType,
    Side,
    StpMode,
    TimeInForce,
)
from exchange.domain.instruments import MAX_LOTS
from tests.unit.engine.helpers import (
    BANDED,
    INSTRUMENT,
    LISTINGS,
    REFUSED_LISTINGS,
    SYMBOL,
    TOO_HIGH,
    _operators,
    _other,
    _StreamBuilder,
    _trading_order,
    listing,
    make_instrument,
    new_orders,
)

ETH, XRP = "ETH-USD", "XRP-USD"
# No maximum price and a huge maximum quantity: prices and quantities near the int64 limit get
# past the rules, into the band arithmetic and the book.
WIDE = make_instrument(max_price=None, max_qty=Decimal(MAX_LOTS))
STATICS = {"plain": INSTRUMENT, "banded": BANDED, "wide": WIDE}
# Small windows evict ids (and ids flagged as cancelled before their order) within a stream.
WINDOWS = (3, 8, DEFAULT_DEDUPE_WINDOW)
# Listings no symbol accepts: not JSON, and another symbol's instrument.
NOT_LISTINGS = ["{not json", make_instrument(symbol="SOL-USD", base="SOL").model_dump_json()]
EXTREMES = [2**63 - 1, 2**62, -(2**63), 2**63, 2**64 - 1]
ODD_IDS = ["", "\x00", "a\x00b", "é✓", "o" * 300]


class SymbolStreams:
    """One stream builder per symbol; a command built for BTC-USD is moved to its symbol (an
    ETH-USD listing then lists ETH-USD; an XRP-USD one stays a listing of BTC-USD, refused).

    A shadow pure-core engine follows the stream, so that a cancel or amend with an even
    ``target`` names an order open at that moment (its owner's, unless an intruder's): the
    builder alone mostly names orders already gone.
    """

    def __init__(self, static: list[Instrument], listed: set[str], window: int) -> None:
        self.shadow = Engine(static, dedupe_window=window, core=cores.PURE)
        self.builders: dict[str, _StreamBuilder] = {}
        for symbol in (SYMBOL, ETH, XRP):
            self.builders[symbol] = _StreamBuilder()
            self.builders[symbol].version = int(symbol in listed)

    def first(self, commands: list[EngineCommand]) -> list[EngineCommand]:
        for command in commands:
            self.shadow.apply(command)
        return commands

    def build(self, symbol: str, spec: dict[str, Any], ts: int) -> EngineCommand:
        command = self._moved(symbol, self.builders[symbol].build(spec, ts))
        book = self.shadow.books.get(symbol)
        if isinstance(command, CancelOrder | AmendOrder) and book and spec["target"] % 2 == 0:
            live = sorted(book.orders)
            if live:
                order = book.orders[live[spec["target"] // 2 % len(live)]]
                owner = spec["account"] if spec["intruder"] else order.account_id
                command = msgspec.structs.replace(
                    command, order_id=order.order_id, account_id=owner
                )
        self.shadow.apply(command)
        return command

    def _moved(self, symbol: str, command: EngineCommand) -> EngineCommand:
        if symbol == SYMBOL:
            return command
        changes: dict[str, Any] = {"symbol": symbol}
        if isinstance(command, ListInstrument):
            changes["command_id"] = command.command_id.replace(SYMBOL, symbol)
            if symbol == ETH:
                changes["instrument"] = command.instrument.replace("BTC", "ETH")
        return msgspec.structs.replace(command, **changes)


def start(static: str, eth_first: bool) -> tuple[list[Instrument], list[EngineCommand], set[str]]:
    """The static instruments (``static`` names one of ``STATICS``, or none: BTC-USD is then
    listed at run time), the listings that come before the stream, and the symbols they list."""
    instruments = [STATICS[static]] if static in STATICS else []
    first: list[EngineCommand] = [] if instruments else [listing(INSTRUMENT, 1)]
    if eth_first:
        first.append(listing(make_instrument(symbol=ETH, base="ETH"), 1))
    listed = set() if instruments else {SYMBOL}
    return instruments, first, listed | ({ETH} if eth_first else set())


# -- hypothesis ----------------------------------------------------------------------------------
_SYMBOL_OF = st.sampled_from([SYMBOL] * 6 + [ETH] * 3 + [XRP])
_NOT_LISTING = st.fixed_dictionaries(
    {
        "kind": st.just("list"),
        "json": st.sampled_from(NOT_LISTINGS),
        "stale": st.booleans(),
        "target": st.integers(min_value=0, max_value=44),
        "reuse": st.booleans(),
    }
)


_OPERATORS = st.one_of(_operators(), _operators(), _operators(), _NOT_LISTING)


@st.composite
def mixed_streams(
    draw: st.DrawFn, min_size: int = 10, max_size: int = 70
) -> tuple[list[Instrument], list[EngineCommand], int]:
    """The static instruments, a stream of commands over three symbols, and a dedupe window."""
    static, first, listed = start(draw(st.sampled_from([*STATICS, "listed"])), draw(st.booleans()))
    window = draw(st.sampled_from(WINDOWS))
    orders, trading = new_orders(), _trading_order()
    cancels, amends = _other("cancel"), _other("amend")
    kinds = st.one_of(
        orders, trading, orders, trading, cancels, amends, trading, amends, _OPERATORS
    )
    specs = draw(st.lists(st.tuples(_SYMBOL_OF, kinds), min_size=min_size, max_size=max_size))
    streams = SymbolStreams(static, listed, window)
    commands = streams.first(first)
    for ts, (symbol, spec) in enumerate(specs, start=len(first) + 1):
        commands.append(streams.build(symbol, spec, ts))
    return static, commands, window


_NUMBERS = st.sampled_from([*EXTREMES, 1, 2, 100, 2**32, 2**63 - 2]) | st.integers(1, 2**63 - 1)
_IDS = st.sampled_from([f"o{n}" for n in range(8)] + ODD_IDS)
_ACCOUNTS = st.sampled_from(["a1", "a2", "", "\x00", "é✓"])
_EDGE_TS = st.sampled_from([0, 1, 2**63 - 1, 2**64 - 1]) | st.integers(0, 2**64 - 1)


@st.composite
def _edge_command(draw: st.DrawFn) -> EngineCommand:
    kind = draw(
        st.sampled_from(["limit"] * 4 + ["market", "stop", "stop_limit", "cancel", "amend"])
    )
    fields: dict[str, Any] = {"symbol": SYMBOL, "ts": draw(_EDGE_TS), "order_id": draw(_IDS)}
    fields["account_id"] = draw(_ACCOUNTS)
    if kind in ("cancel", "amend"):
        fields["command_id"] = draw(_IDS)
        if kind == "cancel":
            return CancelOrder(**fields)
        return AmendOrder(
            **fields, price=draw(st.none() | _NUMBERS), qty=draw(st.none() | _NUMBERS)
        )
    order_type = {"limit": OrderType.LIMIT, "market": OrderType.MARKET, "stop": OrderType.STOP}
    has_price = kind in ("limit", "stop_limit")
    return NewOrder(
        **fields,
        client_order_id=draw(_IDS),
        side=draw(st.sampled_from(list(Side))),
        order_type=order_type.get(kind, OrderType.STOP_LIMIT),
        tif=draw(st.sampled_from(list(TimeInForce))),
        qty=draw(_NUMBERS),
        price=draw(_NUMBERS) if has_price else None,
        stop_price=draw(_NUMBERS) if kind.startswith("stop") else None,
        stp=draw(st.sampled_from(list(StpMode))),
        protection_price=None if has_price else draw(st.none() | _NUMBERS),
    )


def extreme_streams() -> st.SearchStrategy[list[EngineCommand]]:
    """Streams for BTC-USD on WIDE whose prices, quantities and timestamps are drawn from the
    edges (the int64 and uint64 limits) and whose ids from a few, some empty, with a NUL,
    long or not ASCII, so that they collide."""
    return st.lists(_edge_command(), min_size=2, max_size=40)


# -- seeded -------------------------------------------------------------------------------------
def _price(rng: random.Random) -> int:
    return rng.randint(96, 104) if rng.random() < 0.8 else rng.randint(85, 115)


def _new_spec(rng: random.Random) -> dict[str, Any]:
    """A new order as ``helpers.new_orders`` draws one, mostly valid, now and then not."""
    order_type = rng.choice([OrderType.LIMIT] * 5 + [OrderType.MARKET, OrderType.STOP] * 2)
    order_type = OrderType.STOP_LIMIT if rng.random() < 0.1 else order_type
    tif = rng.choice([TimeInForce.GTC] * 4 + [TimeInForce.IOC, TimeInForce.FOK])
    has_price = order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    has_stop = order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
    noise = rng.randrange(12) if rng.random() < 0.25 else 0
    return {
        "kind": "new",
        "reuse": noise == 6,
        "target": rng.randrange(45),
        "account": rng.choice(["a1", "a2", "a3"]),
        "side": rng.choice(list(Side)),
        "order_type": order_type,
        "tif": tif,
        "qty": rng.choice([-1, 0, 1, 11]) if noise == 3 else rng.randint(2, 10),
        "price": (rng.choice([0, -5, TOO_HIGH]) if noise == 5 else _price(rng))
        if has_price != (noise == 1)
        else None,
        "stop_price": _price(rng) if has_stop != (noise == 2) else None,
        "post_only": (
            order_type is OrderType.LIMIT and tif is TimeInForce.GTC and rng.random() < 0.3
        )
        or noise == 4,
        "stp": rng.choice(list(StpMode)),
        "protection": (None if rng.random() < 0.3 else _price(rng))
        if has_price == (noise == 7)
        else None,
    }


def _other_spec(rng: random.Random, kind: str) -> dict[str, Any]:
    amends = kind == "amend"
    price = rng.choice([None, _price(rng), _price(rng), TOO_HIGH]) if amends else None
    return {
        "kind": kind,
        "target": rng.randrange(45),
        "intruder": rng.random() < 0.1,
        "account": rng.choice(["a1", "a2", "a3"]),
        "reuse": rng.random() < 0.1,
        "price": price,
        "qty": rng.choice([None, rng.randint(-1, 11)]) if amends else None,
    }


def _operator_spec(rng: random.Random) -> dict[str, Any]:
    common = {"target": rng.randrange(45), "reuse": rng.random() < 0.1}
    kind = rng.choice(["status", "status", "mass_cancel", "freeze", "list"])
    if kind == "status":
        trading = [InstrumentStatus.TRADING] * 6
        return {"kind": kind, "status": rng.choice(trading + list(InstrumentStatus)), **common}
    if kind == "mass_cancel":
        return {"kind": kind, "account": rng.choice([None, "a1", "a2", "a3", "a9"]), **common}
    if kind == "freeze":
        frozen = rng.random() < 0.3
        return {"kind": kind, "account": rng.choice(["a1", "a2", "a3"]), "frozen": frozen, **common}
    listings = LISTINGS * 3 + REFUSED_LISTINGS + NOT_LISTINGS
    return {"kind": kind, "json": rng.choice(listings), "stale": rng.random() < 0.2, **common}


def seeded_stream(seed: int, count: int) -> tuple[list[Instrument], list[EngineCommand], int]:
    """A reproducible stream of ``count`` commands over the three symbols, and its dedupe
    window; consecutive seeds take turns at each start (static instrument or listing) and
    window."""
    rng = random.Random(seed)
    starts = [*STATICS, "listed"]
    static, first, listed = start(starts[seed % len(starts)], rng.random() < 0.7)
    window = WINDOWS[seed % len(WINDOWS)]
    streams = SymbolStreams(static, listed, window)
    commands = streams.first(first)
    for ts in range(len(commands) + 1, count + 1):
        roll = rng.random()
        if roll < 0.6:
            spec = _new_spec(rng)
        elif roll < 0.78:
            spec = _other_spec(rng, "cancel")
        elif roll < 0.96:
            spec = _other_spec(rng, "amend")
        else:
            spec = _operator_spec(rng)
        symbol = rng.choice([SYMBOL] * 6 + [ETH] * 3 + [XRP])
        commands.append(streams.build(symbol, spec, ts))
    return static, commands, window
