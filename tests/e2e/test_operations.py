"""The operations functions in the local stack, through their local triggers: the reconciler runs
on its schedule, and commands dead-lettered in a shard's queue reach the dead-letter function,
which settles what the engine never applied and leaves alone what it did."""

import asyncio
import base64
from decimal import Decimal

from exchange import wire
from exchange.domain import InstrumentCatalog, NewOrder, OrderType, Side, TimeInForce
from exchange.ids import new_order_id
from tests.e2e.conftest import LocalStack, eventually

ETH = InstrumentCatalog.demo().get("ETH-USD")


def new_order(account_id: str, order_id: str, client_order_id: str) -> NewOrder:
    return NewOrder(
        symbol="ETH-USD", ts=1, order_id=order_id, account_id=account_id,
        client_order_id=client_order_id, side=Side.BUY, order_type=OrderType.LIMIT,
        tif=TimeInForce.GTC, qty=ETH.qty_to_lots("0.1"), price=ETH.price_to_ticks("1850"),
    )  # fmt: skip


def test_dead_letters_are_settled_and_the_reconciler_runs(stack: LocalStack) -> None:
    async def scenario() -> None:
        # Given a buyer whose order rests in the book, funds held for it
        client, account_id = await stack.signup()
        await stack.deposit(account_id, "USD", Decimal(10_000))
        await eventually(client.balances, bool)
        accepted = await client.place_order("ETH-USD", "buy", Decimal("0.1"), Decimal("1850"))
        live = await eventually(
            lambda: client.get_order(accepted.order_id), lambda o: o.status == "NEW"
        )
        usd = next(b for b in await client.balances() if b.asset == "USD")
        assert usd.held > 0
        before = (await stack.status())["operations"]["dead_letters"]
        # When a copy of its NewOrder, a NewOrder the API never recorded, and a message that is no
        # command at all land in the shard's dead-letter queue
        taken = new_order(account_id, accepted.order_id, live.client_order_id or "c")
        stray = new_order(account_id, new_order_id(), "stray")
        for body in (wire.encode_command(taken), wire.encode_command(stray), b"\x09poison"):
            payload = base64.b64encode(body).decode()
            await stack.control("dead-letter", {"shard": "s1", "body": payload})
        # Then the dead-letter function takes all three, without an error
        status = await eventually(
            stack.status,
            lambda s: s["operations"]["dead_letters"]["messages"] >= before["messages"] + 3,
        )
        assert status["operations"]["dead_letters"]["errors"] == before["errors"]
        assert status["functions"]["dead_letters"]["errors"] == 0
        # And the order the engine took is left as it was, its funds still held
        await asyncio.sleep(1)  # the stray's reconcile cancel goes through the engine
        order = await client.get_order(accepted.order_id)
        assert (order.status, order.reject_reason) == ("NEW", None)
        after = next(b for b in await client.balances() if b.asset == "USD")
        assert (after.held, after.available) == (usd.held, usd.available)
        # And the reconciler runs on its schedule, without an error
        reconciler = (await stack.status())["operations"]["reconciler"]
        assert reconciler["invocations"] >= 1
        assert status["functions"]["reconciler"]["errors"] == 0
        await client.close()

    asyncio.run(scenario())
