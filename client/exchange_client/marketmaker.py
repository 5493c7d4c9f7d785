"""A market maker on the client: it keeps ``levels`` bids and asks around a reference price that
drifts in a random walk, and moves its quotes with amends as the price moves. Its quotes are
post-only, so it never trades with itself; other users' orders trade against them.

It is the demo (``exchange mm BTC-USD --mid 65000``) and a load generator: ``rate`` is requotes
per second, each one an amend or a place.

    bot = MarketMaker(client, await QuoteConfig.load(client, "BTC-USD", mid=Decimal("65000")))
    await bot.run(duration_s=60)

The quoting itself is a pure ``Strategy`` (``exchange_client.strategy.Quoter``), the one a
backtest replays against the archive (``python -m local.backtest --strategy marketmaker``).
"""

import asyncio
import contextlib
import time
from dataclasses import dataclass
from decimal import Decimal

from exchange_client.api import ExchangeClient
from exchange_client.errors import ApiError, ExchangeClientError
from exchange_client.strategy import Amend, Cancel, Intent, Place, QuoteParams, Quoter, Strategy


@dataclass(frozen=True, slots=True)
class QuoteConfig(QuoteParams):
    """The quoting parameters (``exchange_client.strategy.QuoteParams``) and the requote rate."""

    rate: float = 5.0  # requotes per second

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
    """Runs a strategy live: its timer is the wall clock at ``rate`` ticks a second, its intents
    go through the REST API. By default the strategy is the ``Quoter`` of ``config``."""

    def __init__(
        self,
        client: ExchangeClient,
        config: QuoteConfig,
        *,
        seed: int = 7,
        strategy: Strategy | None = None,
    ) -> None:
        self._client = client
        self._config = config
        self.quoter = Quoter(config, seed=seed)
        self.strategy: Strategy = strategy or self.quoter
        self.quotes: dict[str, str] = {}  # the strategy's key -> order id
        self.placed = 0
        self.amended = 0
        self.errors = 0

    @property
    def mid(self) -> Decimal:
        """The quoter's reference price."""
        return self.quoter.mid

    async def quote_once(self) -> None:
        """One timer tick of the strategy: move the reference, then place or amend one quote."""
        for intent in self.strategy.on_timer(time.time_ns()):
            await self.execute(intent)

    async def execute(self, intent: Intent) -> None:
        """Carry out one intent; a refusal goes back to the strategy."""
        try:
            match intent:
                case Place():
                    accepted = await self._client.place_order(
                        intent.symbol, intent.side, intent.qty, intent.price,
                        post_only=intent.post_only,
                    )  # fmt: skip
                    self.quotes[intent.key] = accepted.order_id
                    self.placed += 1
                case Amend():
                    await self._client.amend_order(
                        self.quotes[intent.key], price=intent.price, qty=intent.qty
                    )
                    self.amended += 1
                case Cancel():
                    await self._client.cancel_order(self.quotes.pop(intent.key))
        except ApiError as exc:
            # A quote that filled or was rejected (post-only would cross): place it anew.
            self.quotes.pop(intent.key, None)
            self.errors += 1
            for follow_up in self.strategy.on_rejected(intent, str(exc)):
                await self.execute(follow_up)

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
