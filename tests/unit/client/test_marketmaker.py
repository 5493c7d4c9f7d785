"""The market maker on the ``Strategy`` interface quotes exactly as it did before: the same
seeded walk gives the same places and amends, and a refused quote is placed anew."""

import asyncio
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from exchange_client.errors import ApiError
from exchange_client.marketmaker import MarketMaker, QuoteConfig

CONFIG = QuoteConfig(
    symbol="BTC-USD", mid=Decimal("65000"), tick=Decimal("0.01"), size=Decimal("0.001"), levels=3
)


@dataclass
class FakeClient:
    """Records the calls; amends of the ids in ``gone`` fail as a filled order's would."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)

    async def place_order(self, symbol: str, side: str, qty: Decimal, price: Decimal, *,
                          post_only: bool) -> Any:  # fmt: skip
        order_id = f"o{len(self.calls)}"
        self.calls.append(("place", symbol, side, qty, price, post_only))

        @dataclass
        class Accepted:
            order_id: str

        return Accepted(order_id)

    async def amend_order(self, order_id: str, *, price: Decimal, qty: Decimal | None) -> None:
        self.calls.append(("amend", order_id, price, qty))
        if order_id in self.gone:
            raise ApiError(409, {"code": "unknown_order", "detail": "order not open"})

    async def cancel_order(self, order_id: str) -> None:
        self.calls.append(("cancel", order_id))


def pre_refactor_calls(ticks: int, seed: int = 7) -> list[tuple[Any, ...]]:
    """The quoting of MarketMaker before the Strategy interface, step by step (its RNG calls in
    the same order): the reference the new code must match."""
    rng = random.Random(seed)
    mid = CONFIG.mid
    quotes: dict[tuple[str, int], str] = {}
    calls: list[tuple[Any, ...]] = []
    for _ in range(ticks):
        step = CONFIG.tick * rng.choice((-2, -1, 0, 0, 1, 2))
        band = CONFIG.mid * CONFIG.max_drift_pct / 100
        mid = min(max(mid + step, CONFIG.mid - band), CONFIG.mid + band)
        side = rng.choice(("buy", "sell"))
        level = rng.randrange(CONFIG.levels)
        offset = CONFIG.tick * CONFIG.spacing_ticks * (level + 1)
        price = mid - offset if side == "buy" else mid + offset
        if (side, level) in quotes:
            calls.append(("amend", quotes[(side, level)], price, None))
        else:
            quotes[(side, level)] = f"o{len(calls)}"
            calls.append(("place", CONFIG.symbol, side, CONFIG.size, price, True))
    return calls


def test_the_quotes_are_the_ones_the_market_maker_made_before() -> None:
    client = FakeClient()
    bot = MarketMaker(client, CONFIG)  # type: ignore[arg-type]
    for _ in range(40):
        asyncio.run(bot.quote_once())
    assert client.calls == pre_refactor_calls(40)
    assert bot.placed + bot.amended == 40
    assert bot.placed == len(bot.quotes) == 6  # every (side, level) quoted once


def test_a_quote_whose_amend_fails_is_placed_anew() -> None:
    # Given a bot whose first quote is then filled (its amends fail)
    client = FakeClient()
    bot = MarketMaker(client, CONFIG)  # type: ignore[arg-type]
    asyncio.run(bot.quote_once())
    ((first_key, first_id),) = bot.quotes.items()
    client.gone.add(first_id)
    # When the bot goes on until that quote is touched again
    while not any(call[:2] == ("amend", first_id) for call in client.calls):
        asyncio.run(bot.quote_once())
    assert bot.errors == 1
    assert first_key not in bot.quotes
    # Then the next tick on that key places it again
    while first_key not in bot.quotes:
        asyncio.run(bot.quote_once())
    assert bot.quotes[first_key] != first_id
