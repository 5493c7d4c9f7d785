"""The strategy interface: market data in, order intents out. Pure: no client, no clock, no I/O.

The same ``Strategy`` runs live (``exchange_client.marketmaker.MarketMaker`` executes its intents
through the REST API) and in a backtest (``python -m local.backtest`` replays the archive through
the real engine core and executes them there). Prices and quantities are exact ``Decimal``;
sides are ``"buy"``/``"sell"`` as in the client. A strategy names its orders with its own
``key``s; the runner maps each key to the exchange's order id.

The quoting strategy of the market maker: a reference price in a seeded random walk, ``levels``
post-only quotes a side, one placed or amended per timer tick.

>>> quoter = Quoter(QuoteParams(symbol="BTC-USD", mid=Decimal("100"), tick=Decimal("0.5"),
...                             size=Decimal("1"), levels=1, spacing_ticks=2))
>>> place = quoter.on_timer(0)[0]  # the first tick places a quote
>>> place.key, place.side, place.price, place.post_only
('buy-0', 'buy', Decimal('99.0'), True)
>>> quoter.on_timer(1)  # the next ones amend it as the reference walks
[Amend(key='buy-0', price=Decimal('100.0'), qty=None)]
>>> quoter.on_rejected(place, "UNKNOWN_ORDER")  # it filled: the next tick places it anew
[]
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

type SideName = Literal["buy", "sell"]


@dataclass(frozen=True, slots=True)
class BookTop:
    """The book after an event: levels best first, ``(price, qty)`` each."""

    symbol: str
    seq: int
    ts_ns: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0][0] if self.asks else None


@dataclass(frozen=True, slots=True)
class TradeTick:
    """A trade on the tape (anyone's, the strategy's own included)."""

    symbol: str
    seq: int
    ts_ns: int
    price: Decimal
    qty: Decimal
    aggressor_side: SideName


@dataclass(frozen=True, slots=True)
class OwnFill:
    """A fill of one of the strategy's orders: ``side`` is the strategy's."""

    key: str
    symbol: str
    seq: int
    ts_ns: int
    side: SideName
    price: Decimal
    qty: Decimal
    liquidity: Literal["maker", "taker"]


@dataclass(frozen=True, slots=True)
class Place:
    """Place a limit order named ``key`` (a key in use is the runner's error)."""

    key: str
    symbol: str
    side: SideName
    price: Decimal
    qty: Decimal
    post_only: bool = False


@dataclass(frozen=True, slots=True)
class Amend:
    """Move the order named ``key`` to ``price`` (and ``qty``, when given)."""

    key: str
    price: Decimal
    qty: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    key: str


type Intent = Place | Amend | Cancel


class Strategy(Protocol):
    """What a runner calls; each call answers the intents to execute now, in order."""

    def on_timer(self, now_ns: int) -> Sequence[Intent]:
        """The runner's clock ticks (live: wall time; backtest: the replayed events' time)."""
        ...

    def on_book(self, book: BookTop) -> Sequence[Intent]: ...

    def on_trade(self, trade: TradeTick) -> Sequence[Intent]: ...

    def on_fill(self, fill: OwnFill) -> Sequence[Intent]: ...

    def on_rejected(self, intent: Intent, reason: str) -> Sequence[Intent]:
        """An intent the exchange refused (or whose order was already gone)."""
        ...


class QuietStrategy:
    """A strategy that does nothing: subclass it and answer only what you need."""

    def on_timer(self, now_ns: int) -> Sequence[Intent]:
        return []

    def on_book(self, book: BookTop) -> Sequence[Intent]:
        return []

    def on_trade(self, trade: TradeTick) -> Sequence[Intent]:
        return []

    def on_fill(self, fill: OwnFill) -> Sequence[Intent]:
        return []

    def on_rejected(self, intent: Intent, reason: str) -> Sequence[Intent]:
        return []


@dataclass(frozen=True, slots=True)
class QuoteParams:
    symbol: str
    mid: Decimal
    tick: Decimal
    size: Decimal
    levels: int = 5
    spacing_ticks: int = 5  # between levels, and half the spread
    max_drift_pct: Decimal = Decimal("2")  # the walk stays this close to the reference


class Quoter(QuietStrategy):
    """The market maker's quoting: on each timer tick, move the reference one random step, then
    place (or, when that quote is live, amend) one random quote. A refused quote is forgotten,
    so the next tick that picks it places it anew."""

    def __init__(self, params: QuoteParams, *, seed: int = 7) -> None:
        self.params = params
        self._rng = random.Random(seed)  # noqa: S311 - a reproducible walk, not security
        self.mid = params.mid
        self.live: set[str] = set()

    def _price(self, side: SideName, level: int) -> Decimal:
        offset = self.params.tick * self.params.spacing_ticks * (level + 1)
        return self.mid - offset if side == "buy" else self.mid + offset

    def _walk(self) -> None:
        step = self.params.tick * self._rng.choice((-2, -1, 0, 0, 1, 2))
        band = self.params.mid * self.params.max_drift_pct / 100
        self.mid = min(max(self.mid + step, self.params.mid - band), self.params.mid + band)

    def on_timer(self, now_ns: int) -> Sequence[Intent]:
        self._walk()
        side: SideName = self._rng.choice(("buy", "sell"))
        level = self._rng.randrange(self.params.levels)
        key, price = f"{side}-{level}", self._price(side, level)
        if key in self.live:
            return [Amend(key, price)]
        self.live.add(key)
        return [Place(key, self.params.symbol, side, price, self.params.size, post_only=True)]

    def on_rejected(self, intent: Intent, reason: str) -> Sequence[Intent]:
        self.live.discard(intent.key)
        return []


__all__ = [
    "Amend",
    "BookTop",
    "Cancel",
    "Intent",
    "OwnFill",
    "Place",
    "QuietStrategy",
    "QuoteParams",
    "Quoter",
    "SideName",
    "Strategy",
    "TradeTick",
]
