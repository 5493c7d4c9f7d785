"""A market maker on the client: it keeps ``levels`` bids and asks around a reference price that
drifts in a random walk, and moves its quotes with amends as the price moves. Its quotes are
post-only, so it never trades with itself; other users' orders trade against them.

It is the demo (``exchange mm BTC-USD --mid 65000``) and a load generator: ``rate`` is requotes
per second, each one an amend or a place.

    bot = MarketMaker(client, await QuoteConfig.load(client, "BTC-USD", mid=Decimal("65000")))
    await bot.run(duration_s=60)
"""

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass
from decimal import Decimal

from exchange_client.api import ExchangeClient
from exchange_client.errors import ApiError, ExchangeClientError


@dataclass(frozen=True, slots=True)
class QuoteConfig:
    symbol: str
    mid: Decimal
    tick: Decimal
    size: Decimal
    levels: int = 5
    spacing_ticks: int = 5  # between levels, and half the spread
    rate: float = 5.0  # requotes per second
    max_drift_pct: Decimal = Decimal("2")  # the walk stays this close to the reference

    @classmethod
    async def load(
        cls,
        client: ExchangeClient,
        symbol: str,
        *,
        mid: Decimal,
        levels: int = 5,
        size: Decimal | None = None,
        rate: float = 5.0,
    ) -> "QuoteConfig":
        """Tick and minimum size from ``GET /v1/markets``."""
        instrument = next((i for i in await client.markets() if i.symbol == symbol), None)
        if instrument is None:
            raise ExchangeClientError(f"{symbol} is not listed")
        return cls(
            symbol=symbol,
            mid=mid,
            tick=instrument.tick_size,
            size=size or instrument.min_qty * 10,
            levels=levels,
            rate=rate,
        )


class MarketMaker:
    def __init__(self, client: ExchangeClient, config: QuoteConfig, *, seed: int = 7) -> None:
        self._client = client
        self._config = config
        self._rng = random.Random(seed)  # noqa: S311 - a reproducible walk, not security
        self.mid = config.mid
        self.quotes: dict[tuple[str, int], str] = {}  # (side, level) -> order id
        self.placed = 0
        self.amended = 0
        self.errors = 0

    def _price(self, side: str, level: int) -> Decimal:
        offset = self._config.tick * self._config.spacing_ticks * (level + 1)
        return self.mid - offset if side == "buy" else self.mid + offset

    def _walk(self) -> None:
        step = self._config.tick * self._rng.choice((-2, -1, 0, 0, 1, 2))
        band = self._config.mid * self._config.max_drift_pct / 100
        self.mid = min(max(self.mid + step, self._config.mid - band), self._config.mid + band)

    async def quote_once(self) -> None:
        """Move the reference, then place or amend one quote."""
        self._walk()
        side = self._rng.choice(("buy", "sell"))
        level = self._rng.randrange(self._config.levels)
        price = self._price(side, level)
        try:
            order_id = self.quotes.get((side, level))
            if order_id is None:
                accepted = await self._client.place_order(
                    self._config.symbol, side, self._config.size, price, post_only=True
                )
                self.quotes[(side, level)] = accepted.order_id
                self.placed += 1
            else:
                await self._client.amend_order(order_id, price=price)
                self.amended += 1
        except ApiError:
            # A quote that filled or was rejected (post-only would cross): place it anew.
            self.quotes.pop((side, level), None)
            self.errors += 1

    async def run(self, duration_s: float | None = None) -> None:
        interval = 1.0 / self._config.rate
        started = time.monotonic()
        try:
            while duration_s is None or time.monotonic() - started < duration_s:
                tick = time.monotonic()
                await self.quote_once()
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - tick)))
        finally:
            await self.cancel_all()

    async def cancel_all(self) -> None:
        for order_id in list(self.quotes.values()):
            with contextlib.suppress(ApiError):  # already filled or cancelled
                await self._client.cancel_order(order_id)
        self.quotes.clear()
