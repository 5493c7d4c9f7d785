"""Trading bots through the whole local stack, with API keys: a key made through the API signs
orders; a read key cannot trade; a key's rate limit answers 429 with Retry-After, which the
client waits out; the dead man's switch cancels a silent market maker's orders in time;
cancel-all leaves nothing open and nothing held; and ccxt's unified calls, through the shipped
class, read the same values as the REST API.

Prices stay inside each symbol's band and clear of the other tests' resting orders: ETH-USD buys
at 1,900 or below and sells at 2,150 (the others rest ETH at 1,850 to 2,000), SOL-USD around its
150 reference. Every order a test leaves resting is cancelled before it ends.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from exchange_client import ApiError, ApiKey, AuthError, Balance, ExchangeClient, Order
from exchange_client.ccxt_exchange import ServerlessExchange
from tests.e2e.conftest import LocalStack, eventually

D = Decimal
SWITCH_SECONDS = 5  # the dead man's switch's N (the deployment's minimum)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


async def balances(client: ExchangeClient) -> dict[str, Balance]:
    return {b.asset: b for b in await client.balances()}


async def order_in(client: ExchangeClient, order_id: str, *statuses: str) -> Order:
    return await eventually(lambda: client.get_order(order_id), lambda o: o.status in statuses)


@asynccontextmanager
async def funded_user(
    stack: LocalStack, **deposits: str
) -> AsyncIterator[tuple[ExchangeClient, str]]:
    """A signed-up user with ``deposits`` (asset -> amount) credited; closed at the end."""
    user, account_id = await stack.signup()
    async with user:
        for asset, amount in deposits.items():
            await stack.deposit(account_id, asset, D(amount))
        await eventually(lambda: balances(user), lambda b: set(deposits) <= set(b))
        yield user, account_id


@asynccontextmanager
async def bot_of(
    user: ExchangeClient, *scopes: str, **options: Any
) -> AsyncIterator[ExchangeClient]:
    """A client that signs with a new API key of ``user``'s (made through the API)."""
    created = await user.create_api_key(f"e2e-{uuid.uuid4().hex[:8]}", scopes=scopes, **options)
    assert created.secret
    assert set(created.scopes) == set(scopes)
    async with ExchangeClient(user.config, api_key=ApiKey(created.key_id, created.secret)) as bot:
        yield bot


async def cancel_open(client: ExchangeClient, order_ids: list[str]) -> None:
    for order_id in order_ids:
        if (await client.get_order(order_id)).is_open:
            await client.cancel_order(order_id)
        await order_in(client, order_id, "CANCELLED", "FILLED")


def test_an_api_key_places_reads_and_cancels_and_a_read_key_cannot_trade(
    stack: LocalStack,
) -> None:
    async def scenario() -> None:
        async with (
            funded_user(stack, USD="5000") as (user, _),
            bot_of(user, "read", "trade") as trader,
            bot_of(user, "read") as reader,
        ):
            # Given a trading key: it places, reads (by id and by client id) and cancels
            client_id = f"bot-{uuid.uuid4().hex[:8]}"
            placed = await trader.place_order(
                "ETH-USD", "buy", "0.5", "1850.00", client_order_id=client_id
            )
            order = await order_in(trader, placed.order_id, "NEW")
            assert (order.client_order_id, order.price, order.qty) == (client_id, D(1850), D("0.5"))
            assert (await trader.get_order_by_client_id(client_id)).order_id == placed.order_id
            # (the user's token sees the key's order: one account, whichever identity)
            assert (await user.get_order(placed.order_id)).order_id == placed.order_id
            await trader.cancel_order_by_client_id(client_id)
            await order_in(trader, placed.order_id, "CANCELLED")

            # When a read key reads, then tries to place
            assert "USD" in await balances(reader)
            with pytest.raises(ApiError) as refused:
                await reader.place_order("ETH-USD", "buy", "0.5", "1850.00")
            # Then the place is 403 and nothing was placed
            assert refused.value.status == 403
            assert [o.order_id for o in (await user.list_orders()).items] == [placed.order_id]

            # And a key used from outside its IP allow-list is refused (the stack is 127.0.0.1)
            async with bot_of(user, "read", allowed_ips=["192.0.2.0/24"]) as elsewhere:
                with pytest.raises(ApiError) as outside:
                    await elsewhere.balances()
                assert outside.value.status == 403
            async with bot_of(user, "read", allowed_ips=["127.0.0.1/32"]) as here:
                assert "USD" in await balances(here)

            # And a revoked key is refused at once, while the key list shows it revoked
            assert reader.api_key is not None
            await user.revoke_api_key(reader.api_key.key_id)
            with pytest.raises(AuthError):
                await reader.balances()
            listed = {k.key_id: k for k in await user.list_api_keys()}
            assert listed[reader.api_key.key_id].status == "revoked"

    run(scenario)


def test_a_key_over_its_rate_limit_gets_429_with_retry_after_and_the_client_waits(
    stack: LocalStack,
) -> None:
    async def scenario() -> None:
        async with (
            funded_user(stack, USD="100") as (user, _),
            bot_of(user, "read", rate_limit_per_second=2) as bot,
        ):
            assert bot.api_key is not None
            # Given a burst of signed requests, sent as they are (no client retries)
            statuses, retry_after = await raw_burst(stack, bot.api_key, count=6)
            # Then the key's limit answers 429 with an integer Retry-After of a second or more
            assert statuses.count(200) >= 1
            assert statuses.count(429) >= 1, statuses
            assert all(int(value) >= 1 for value in retry_after), retry_after
            # When the client makes a burst of its own
            await asyncio.sleep(1.0)
            started = time.monotonic()
            answers = await asyncio.gather(*(bot.balances() for _ in range(6)))
            # Then every call succeeded: the client waited out the 429s it got
            assert all("USD" in {b.asset for b in answer} for answer in answers)
            assert bot.http.rate_limited >= 1
            assert time.monotonic() - started >= 1.0

    run(scenario)


async def raw_burst(stack: LocalStack, key: ApiKey, *, count: int) -> tuple[list[int], list[str]]:
    async def one(http: aiohttp.ClientSession) -> tuple[int, str | None]:
        headers = {"Authorization": key.authorization("GET", "/v1/balances", {}, b"")}
        async with http.get(f"{stack.config.api_url}/v1/balances", headers=headers) as answer:
            await answer.read()
            return answer.status, answer.headers.get("Retry-After")

    async with aiohttp.ClientSession() as http:
        answers = await asyncio.gather(*(one(http) for _ in range(count)))
    return [status for status, _ in answers], [
        value or "missing" for status, value in answers if status == 429
    ]


def test_the_dead_mans_switch_cancels_a_silent_market_makers_orders_in_time(
    stack: LocalStack,
) -> None:
    async def scenario() -> None:
        async with (
            funded_user(stack, USD="5000", ETH="2") as (user, _),
            bot_of(user, "read", "trade") as maker,
        ):
            before = await balances(user)
            # Given a market maker that armed the switch (generously while it sets up) and
            # quotes both sides
            armed = await maker.cancel_after(60)
            assert (armed.armed, armed.timeout_seconds) == (True, 60)
            quotes = [
                await maker.place_order("ETH-USD", "buy", "0.5", "1880.00", post_only=True),
                await maker.place_order("ETH-USD", "buy", "0.5", "1870.00", post_only=True),
                await maker.place_order("ETH-USD", "sell", "0.5", "2150.00", post_only=True),
            ]
            for quote in quotes:
                await order_in(maker, quote.order_id, "NEW")
            held = await eventually(
                lambda: balances(user), lambda b: b["USD"].held > 0 and b["ETH"].held > 0
            )
            assert held["ETH"].held == D("0.5")
            # When it renews with N seconds, twice (each renewal replaces the deadline), then
            # falls silent
            for _ in range(2):
                renewed_at = time.monotonic()
                renewal = await maker.cancel_after(SWITCH_SECONDS)
                assert (renewal.armed, renewal.timeout_seconds, renewal.fired) == (
                    True, SWITCH_SECONDS, None
                )  # fmt: skip
                await asyncio.sleep(1.0)
            # Then its orders stand until the deadline...
            await asyncio.sleep(max(0.0, renewed_at + SWITCH_SECONDS - 1.5 - time.monotonic()))
            assert all([(await maker.get_order(q.order_id)).is_open for q in quotes])
            # ...and are all gone within N + 1 seconds of the last renewal. "Gone" is the engine's
            # cancel: each order's cancel command carries the time the switch's timer sent it,
            # which the engine stamps on the order's cancellation (``updated_ns``), on the same
            # server clock as the deadline. The REST view follows through the journal (the
            # recorder's Kinesis mapping); locally every consumer shares one Python process, so
            # it is given a few seconds more.
            deadline_ms = renewal.deadline_ms
            assert deadline_ms is not None
            cancelled = []
            for quote in quotes:
                order = await order_in(maker, quote.order_id, "CANCELLED")
                assert order.updated_ns is not None
                cancelled.append(order.updated_ns // 1_000_000)
            seen_after = time.monotonic() - renewed_at
            assert all(deadline_ms <= at <= deadline_ms + 1_000 for at in cancelled), (
                f"cancels sent {[at - deadline_ms for at in cancelled]} ms after the deadline"
            )
            assert seen_after <= SWITCH_SECONDS + 4, f"REST showed them after {seen_after:.2f} s"
            # And every hold is released: the balances are what they were before
            after = await eventually(
                lambda: balances(user), lambda b: b["USD"].held == 0 and b["ETH"].held == 0
            )
            assert {a: (b.available, b.held) for a, b in after.items()} == {
                a: (b.available, b.held) for a, b in before.items()
            }
            # And the switch fired: it is disarmed
            await eventually(maker.get_cancel_after, lambda switch: not switch.armed)

    run(scenario)


def test_cancel_all_leaves_no_open_order_and_releases_every_hold(stack: LocalStack) -> None:
    async def scenario() -> None:
        async with (
            funded_user(stack, USD="5000", SOL="10") as (user, _),
            bot_of(user, "read", "trade") as bot,
        ):
            # Given open orders in two symbols, on both sides
            placed = [
                await bot.place_order("ETH-USD", "buy", "0.5", "1860.00"),
                await bot.place_order("ETH-USD", "buy", "0.25", "1855.00"),
                await bot.place_order("SOL-USD", "sell", "2", "165.000"),
                await bot.place_order("SOL-USD", "buy", "1", "135.000"),
            ]
            for order in placed:
                await order_in(bot, order.order_id, "NEW")
            await eventually(lambda: balances(user), lambda b: b["SOL"].held > 0)
            # When the SOL-USD orders are cancelled, then all the rest
            sol = await bot.cancel_all("SOL-USD")
            assert sol.complete
            assert {a.order_id for a in sol.accepted} == {o.order_id for o in placed[2:]}
            for order in placed[2:]:
                await order_in(bot, order.order_id, "CANCELLED")
            assert all([(await bot.get_order(o.order_id)).is_open for o in placed[:2]])
            everything = await bot.cancel_all()
            assert {a.order_id for a in everything.accepted} == {o.order_id for o in placed[:2]}
            # Then no order is open and nothing is held
            for order in placed:
                await order_in(bot, order.order_id, "CANCELLED")
            assert not [o for o in (await bot.list_orders()).items if o.is_open]
            after = await eventually(
                lambda: balances(user), lambda b: all(x.held == 0 for x in b.values())
            )
            assert (after["USD"].available, after["SOL"].available) == (D("5000"), D("10"))

    run(scenario)


def test_ccxt_unified_calls_read_what_the_rest_api_reads(stack: LocalStack) -> None:
    async def scenario() -> None:
        async with (
            funded_user(stack, USD="5000") as (user, _),
            funded_user(stack, SOL="5") as (seller, _),
            bot_of(user, "read", "trade") as bot,
        ):
            assert bot.api_key is not None
            venue = ServerlessExchange(
                {"apiKey": bot.api_key.key_id, "secret": bot.api_key.secret,
                 "urls": {"api": {"rest": stack.config.api_url}}}
            )  # fmt: skip
            resting: list[str] = []
            try:
                await ccxt_session(bot, seller, venue, resting)
            finally:
                venue.close()
                await cancel_open(seller, resting)

    run(scenario)


async def ccxt_session(
    bot: ExchangeClient, seller: ExchangeClient, venue: Any, resting: list[str]
) -> None:
    def call[T](method: Callable[..., T], *args: Any) -> Awaitable[T]:
        return asyncio.to_thread(method, *args)

    markets = await call(venue.load_markets)
    eth = markets["ETH/USD"]
    instrument = next(i for i in await bot.markets() if i.symbol == "ETH-USD")
    assert (eth["precision"]["price"], eth["precision"]["amount"]) == (
        float(instrument.tick_size), float(instrument.lot_size)
    )  # fmt: skip

    # Place, read, list and cancel through ccxt; the REST API reads the same order
    client_id = f"ccxt-{uuid.uuid4().hex[:8]}"
    created = await call(
        venue.create_order, "ETH/USD", "limit", "buy", 0.5, 1875, {"clientOrderId": client_id}
    )
    rest = await order_in(bot, created["id"], "NEW")
    fetched = await call(venue.fetch_order, created["id"], "ETH/USD")
    assert_same_order(fetched, rest)
    assert fetched["clientOrderId"] == client_id
    open_ids = {o["id"] for o in await call(venue.fetch_open_orders, "ETH/USD")}
    rest_open = {o.order_id for o in (await bot.list_orders(symbol="ETH-USD")).items if o.is_open}
    assert open_ids == rest_open
    assert created["id"] in open_ids
    await call(venue.cancel_order, created["id"], "ETH/USD")
    cancelled = await order_in(bot, created["id"], "CANCELLED")
    assert_same_order(await call(venue.fetch_order, created["id"], "ETH/USD"), cancelled)

    # A trade: ccxt buys SOL against a resting seller
    ask = await seller.place_order("SOL-USD", "sell", "1", "151.000")
    resting.append(ask.order_id)
    await order_in(seller, ask.order_id, "NEW")
    bought = await call(venue.create_order, "SOL/USD", "limit", "buy", 1, 151)
    await order_in(bot, bought["id"], "FILLED")
    settled = await eventually(lambda: balances(bot), lambda b: "SOL" in b and b["USD"].held == 0)
    rest_fills = (await bot.list_fills(order_id=bought["id"])).items
    await eventually(
        lambda: bot.candles("SOL-USD", interval="1m", limit=1),
        lambda bars: bool(bars) and bars[0].trades >= len(rest_fills),
    )

    # Then book, ticker, candles, trades, balances and my trades read the same both ways
    for _ in range(20):  # the same snapshot of the book: the same seq
        book = await call(venue.fetch_order_book, "SOL/USD", 20)
        rest_book = await bot.book("SOL-USD", depth=20)
        if book["nonce"] == rest_book.seq:
            break
    assert book["nonce"] == rest_book.seq
    assert book["bids"] == [[float(x.price), float(x.qty)] for x in rest_book.bids]
    assert book["asks"] == [[float(x.price), float(x.qty)] for x in rest_book.asks]
    ticker, rest_ticker = await call(venue.fetch_ticker, "SOL/USD"), await bot.ticker("SOL-USD")
    for ours, theirs in (("last", "last"), ("bid", "best_bid"), ("ask", "best_ask"),
                         ("high", "high_24h"), ("low", "low_24h"), ("open", "open_24h"),
                         ("baseVolume", "volume_24h"), ("change", "change_24h")):  # fmt: skip
        value = getattr(rest_ticker, theirs)
        assert ticker[ours] == (None if value is None else float(value)), ours
    ohlcv = await call(venue.fetch_ohlcv, "SOL/USD", "1m", None, 5)
    rest_bars = await bot.candles("SOL-USD", interval="1m", limit=5)
    assert ohlcv == [
        [bar.start * 1000, *(float(v) for v in (bar.open, bar.high, bar.low, bar.close,
                                                bar.volume))]
        for bar in reversed(rest_bars)
    ]  # fmt: skip
    trades = await call(venue.fetch_trades, "SOL/USD", None, 20)
    rest_trades = await bot.trades("SOL-USD", limit=20)
    assert [(int(t["id"]), t["price"], t["amount"], t["side"]) for t in trades] == [
        (t.seq, float(t.price), float(t.qty), t.aggressor_side.lower())
        for t in reversed(rest_trades)
    ]
    mine = await call(venue.fetch_my_trades, "SOL/USD")
    assert sorted((t["id"], t["price"], t["amount"], t["fee"]["cost"]) for t in mine) == sorted(
        (f.fill_id, float(f.price), float(f.qty), float(f.fee)) for f in rest_fills
    )
    balance = await call(venue.fetch_balance)
    for asset, rest_balance in settled.items():
        assert {k: balance[asset][k] for k in ("free", "used", "total")} == {
            "free": float(rest_balance.available),
            "used": float(rest_balance.held),
            "total": float(rest_balance.total),
        }


def assert_same_order(fetched: dict[str, Any], rest: Order) -> None:
    statuses = {"NEW": "open", "PARTIALLY_FILLED": "open", "CANCELLED": "canceled"}
    assert fetched["id"] == rest.order_id
    assert fetched["status"] == statuses[rest.status]
    assert fetched["symbol"] == rest.symbol.replace("-", "/")
    assert (fetched["side"], fetched["type"]) == (rest.side.lower(), rest.order_type.lower())
    assert fetched["price"] == float(rest.price or 0)
    assert (fetched["amount"], fetched["filled"]) == (float(rest.qty), float(rest.filled_qty))
    assert fetched["timestamp"] == (rest.created_ns or 0) // 1_000_000
