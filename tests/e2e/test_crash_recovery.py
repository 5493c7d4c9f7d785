"""Kill the matching engine in the middle of a stream of orders; the supervisor starts it again
(as ECS would), it recovers from its snapshot and the journal, and the redelivered commands are
applied once. Every accepted order must end consistent, with no fill lost or doubled, and the
ledger must match the fills to the last unit."""

import asyncio
import os
import signal
from decimal import Decimal

from exchange_client import Accepted, ExchangeClient, Fill, Order
from tests.e2e.conftest import LocalStack, eventually

D = Decimal
PAIRS = 40  # each pair: a sell and a buy of 0.1 ETH at 2,000 that cross
QTY, PRICE = D("0.1"), D("2000")


async def all_orders(client: ExchangeClient) -> list[Order]:
    orders, cursor = [], None
    while True:
        page = await client.list_orders(symbol="ETH-USD", limit=200, cursor=cursor)
        orders.extend(page.items)
        if not (cursor := page.next_cursor):
            return orders


async def all_fills(client: ExchangeClient) -> list[Fill]:
    fills, cursor = [], None
    while True:
        page = await client.list_fills(limit=200, cursor=cursor)
        fills.extend(page.items)
        if not (cursor := page.next_cursor):
            return fills


async def kill_engine(stack: LocalStack) -> None:
    engine = (await stack.status())["engines"]["s1"]
    if engine.get("pid"):
        os.kill(engine["pid"], signal.SIGKILL)  # the ECS task dies: no flush, no ack
    else:
        await stack.control("engine/crash", {"shard": "s1"})  # the in-process engine's kill


def test_killing_the_engine_mid_stream_loses_no_accepted_order_and_no_fill(
    stack: LocalStack,
) -> None:
    async def scenario() -> None:
        # Given a buyer and a seller with funds
        seller, seller_id = await stack.signup()
        buyer, buyer_id = await stack.signup()
        await stack.deposit(seller_id, "ETH", D("100"))
        await stack.deposit(buyer_id, "USD", D("100000"))
        await eventually(seller.balances, bool)
        await eventually(buyer.balances, bool)
        restarts_before = (await stack.status())["engines"]["s1"]["restarts"]

        async def place(n: int) -> Accepted:
            client, side = (seller, "sell") if n % 2 == 0 else (buyer, "buy")
            return await client.place_order("ETH-USD", side, QTY, PRICE)

        # When half the orders are in, the engine is killed, and the rest keep coming
        accepted = [await place(n) for n in range(PAIRS)]
        await kill_engine(stack)
        for wave in range(PAIRS, 2 * PAIRS, 8):
            accepted += await asyncio.gather(*(place(n) for n in range(wave, wave + 8)))

        # Then every accepted order ends filled: nothing was lost on the way
        expected = {a.order_id for a in accepted}
        assert len(expected) == 2 * PAIRS

        async def orders() -> list[Order]:
            return await all_orders(seller) + await all_orders(buyer)

        final = await eventually(
            orders,
            lambda got: {o.order_id for o in got if o.status == "FILLED"} == expected,
            timeout_s=90,
            every_s=1.0,
        )
        assert {o.filled_qty for o in final} == {QTY}
        # and each order's fills add up to its filled quantity, once each (no fill doubled)
        fills = await all_fills(seller) + await all_fills(buyer)
        assert len({f.fill_id for f in fills}) == len(fills) == 2 * PAIRS
        for order in final:
            assert sum(f.qty for f in fills if f.order_id == order.order_id) == order.filled_qty
        assert len({f.seq for f in fills}) == PAIRS  # one trade seq per pair, both sides

        # And the ledger agrees with the fills exactly
        notional = PAIRS * QTY * PRICE
        seller_fees = sum(f.fee for f in fills if f.side == "SELL")
        buyer_fees = sum(f.fee for f in fills if f.side == "BUY")

        async def money() -> list[dict[str, tuple[Decimal, Decimal]]]:
            return [
                {b.asset: (b.available, b.held) for b in await client.balances()}
                for client in (seller, buyer)
            ]

        seller_money, buyer_money = await eventually(
            money,
            lambda m: (
                m[0].get("USD", (0, 0))[0] == notional - seller_fees
                and m[1].get("ETH", (0, 0))[0] == PAIRS * QTY
            ),
            timeout_s=30,
        )
        assert seller_money["ETH"] == (D("100") - PAIRS * QTY, D(0))
        assert seller_money["USD"] == (notional - seller_fees, D(0))
        assert buyer_money["USD"] == (D("100000") - notional - buyer_fees, D(0))
        assert buyer_money["ETH"] == (PAIRS * QTY, D(0))
        # And the engine was indeed killed and restarted
        assert (await stack.status())["engines"]["s1"]["restarts"] > restarts_before
        await seller.close()
        await buyer.close()

    asyncio.run(scenario())
