"""Two users trade through the whole local stack: HTTP in, the engine, the journal, the stream
consumers, the ledger, and the WebSocket API out."""

import asyncio
from decimal import Decimal

import pytest

from exchange_client import ApiError, Balance, ExchangeClient, MarketStream, Order
from tests.e2e.conftest import LocalStack, eventually

D = Decimal


def run[T](coroutine: "asyncio.Future[T] | object") -> T:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


async def balances(client: ExchangeClient) -> dict[str, Balance]:
    return {b.asset: b for b in await client.balances()}


async def order_in(client: ExchangeClient, order_id: str, *statuses: str) -> Order:
    return await eventually(lambda: client.get_order(order_id), lambda o: o.status in statuses)


def test_crossing_orders_fill_with_exact_fees_balances_and_a_trade_on_the_stream(
    stack: LocalStack,
) -> None:
    async def scenario() -> None:
        # Given two signed-up, funded users, and a WebSocket subscriber to the tape and to
        # the seller's own orders
        seller, seller_id = await stack.signup()
        buyer, buyer_id = await stack.signup()
        await stack.deposit(seller_id, "BTC", D("1"))
        await stack.deposit(buyer_id, "USD", D("20000"))
        await eventually(lambda: balances(buyer), lambda b: "USD" in b)
        stream = MarketStream(stack.config.ws_url, token=seller.auth.access_token)
        await stream.start()
        await stream.wait_connected()
        await stream.subscribe("trades.BTC-USD")
        await stream.subscribe("orders")

        # When the seller rests 0.5 BTC at 65,000 and the buyer takes 0.2 with a higher limit
        sell = await seller.place_order("BTC-USD", "sell", "0.5", "65000.00")
        assert sell.status == "PENDING_NEW"
        await order_in(seller, sell.order_id, "NEW")
        buy = await buyer.place_order("BTC-USD", "buy", "0.2", "65100.00")

        # Then the orders end partially filled and filled, at the maker's price
        maker = await order_in(seller, sell.order_id, "PARTIALLY_FILLED")
        taker = await order_in(buyer, buy.order_id, "FILLED")
        assert (maker.filled_qty, maker.open_qty, maker.notional) == (
            D("0.2"),
            D("0.3"),
            D("13000"),
        )
        assert (taker.filled_qty, taker.notional) == (D("0.2"), D("13000"))
        # and fees are bps of the notional, exactly: maker 2 bps, taker 5 bps
        assert maker.fee == D("2.6")
        assert taker.fee == D("6.5")
        (maker_fill,) = (await seller.list_fills(order_id=sell.order_id)).items
        (taker_fill,) = (await buyer.list_fills(order_id=buy.order_id)).items
        assert (maker_fill.role, maker_fill.side, maker_fill.price, maker_fill.qty) == (
            "MAKER", "SELL", D("65000"), D("0.2")
        )  # fmt: skip
        assert (taker_fill.role, taker_fill.fee, taker_fill.fee_asset) == ("TAKER", D("6.5"), "USD")

        # And the ledger settled it to the cent: the seller holds the unfilled 0.3 BTC
        seller_money = await eventually(
            lambda: balances(seller), lambda b: "USD" in b and b["USD"].available > 0
        )
        assert (seller_money["BTC"].available, seller_money["BTC"].held) == (D("0.5"), D("0.3"))
        assert (seller_money["USD"].available, seller_money["USD"].held) == (D("12997.4"), D(0))
        buyer_money = await eventually(lambda: balances(buyer), lambda b: "BTC" in b)
        assert (buyer_money["BTC"].available, buyer_money["BTC"].held) == (D("0.2"), D(0))
        # 20,000 - 13,000 - 6.5, with the rest of the hold (limit 65,100) released
        assert (buyer_money["USD"].available, buyer_money["USD"].held) == (D("6993.5"), D(0))

        # And the subscriber saw the trade and the seller's own fill
        trade = fill = None
        while trade is None or fill is None:
            event = await stream.next_event(timeout_s=15)
            if event.kind == "trades":
                trade = next(t for t in event.data["trades"] if t["seq"] == maker_fill.seq)
            elif event.kind == "orders":
                fill = next((e for e in event.data["events"] if e.get("event") == "fill"), fill)
        assert (D(trade["price"]), D(trade["qty"]), trade["aggressor_side"]) == (
            D("65000"), D("0.2"), "BUY"
        )  # fmt: skip
        assert (fill["order_id"], fill["role"], D(fill["qty"])) == (
            sell.order_id,
            "MAKER",
            D("0.2"),
        )
        await stream.close()
        await seller.close()
        await buyer.close()

    run(scenario())


def test_amend_then_cancel_releases_exactly_what_the_order_held(stack: LocalStack) -> None:
    async def scenario() -> None:
        # Given a funded user with a resting buy of 1 ETH at 2,000 (held: notional + taker fee)
        trader, trader_id = await stack.signup()
        await stack.deposit(trader_id, "USD", D("5000"))
        await eventually(lambda: balances(trader), lambda b: "USD" in b)
        placed = await trader.place_order("ETH-USD", "buy", "1", "2000.00")
        await order_in(trader, placed.order_id, "NEW")
        held = await eventually(lambda: balances(trader), lambda b: b["USD"].held > 0)
        assert held["USD"].held == D("2001")  # 2,000 + 5 bps
        # When it is amended down to 0.5 at 1,900
        await trader.amend_order(placed.order_id, qty="0.5", price="1900.00")
        amended = await eventually(
            lambda: trader.get_order(placed.order_id), lambda o: o.qty == D("0.5")
        )
        # Then the order and the hold follow
        assert (amended.price, amended.status) == (D("1900"), "NEW")
        money = await eventually(lambda: balances(trader), lambda b: b["USD"].held < D("2001"))
        assert money["USD"].held == D("950.475")  # 950 + 5 bps
        # When it is cancelled
        await trader.cancel_order(placed.order_id)
        await order_in(trader, placed.order_id, "CANCELLED")
        # Then everything comes back, and a second cancel is refused, not a 5xx
        money = await eventually(lambda: balances(trader), lambda b: b["USD"].held == 0)
        assert money["USD"].available == D("5000")
        with pytest.raises(ApiError) as again:
            await trader.cancel_order(placed.order_id)
        assert 400 <= again.value.status < 500
        await trader.close()

    run(scenario())


def test_a_user_cannot_see_or_touch_another_users_orders(stack: LocalStack) -> None:
    async def scenario() -> None:
        # Given Alice's resting order
        alice, alice_id = await stack.signup()
        mallory, _ = await stack.signup()
        await stack.deposit(alice_id, "SOL", D("10"))
        await eventually(lambda: balances(alice), lambda b: "SOL" in b)
        placed = await alice.place_order("SOL-USD", "sell", "1", "150.000")
        await order_in(alice, placed.order_id, "NEW")
        # When Mallory reads, amends or cancels it by id
        for attempt in (
            mallory.get_order(placed.order_id),
            mallory.amend_order(placed.order_id, qty="0.5"),
            mallory.cancel_order(placed.order_id),
        ):
            # Then each answer is the 404 of an order that does not exist
            with pytest.raises(ApiError) as refused:
                await attempt
            assert refused.value.status == 404
        # And her listings hold nothing of Alice's, while Alice's order is untouched
        assert (await mallory.list_orders()).items == []
        assert (await mallory.list_fills()).items == []
        mine = await alice.get_order(placed.order_id)
        assert (mine.status, mine.qty) == ("NEW", D("1"))
        await alice.close()
        await mallory.close()

    run(scenario())


def test_a_retried_place_with_the_same_idempotency_key_creates_one_order(
    stack: LocalStack,
) -> None:
    async def scenario() -> None:
        trader, trader_id = await stack.signup()
        await stack.deposit(trader_id, "USD", D("1000"))
        await eventually(lambda: balances(trader), lambda b: "USD" in b)
        first = await trader.place_order(
            "BTC-USD", "buy", "0.001", "60000.00", idempotency_key="retry-1"
        )
        second = await trader.place_order(
            "BTC-USD", "buy", "0.001", "60000.00", idempotency_key="retry-1"
        )
        assert second.order_id == first.order_id
        await order_in(trader, first.order_id, "NEW")
        assert [o.order_id for o in (await trader.list_orders()).items] == [first.order_id]
        await trader.close()

    run(scenario())


def test_an_amend_beyond_the_funds_is_refused_and_the_symbol_keeps_settling(
    stack: LocalStack,
) -> None:
    async def scenario(clients: list[ExchangeClient]) -> None:
        # Given a buyer with 100,000 USD resting 1 BTC at 60,000, below anything offered (the
        # attack from the issue: amend to 15 BTC and let sellers fill it, which once halted
        # BTC-USD's settlement for everyone)
        buyer, buyer_id = await stack.signup()
        clients.append(buyer)
        await stack.deposit(buyer_id, "USD", D("100000"))
        await eventually(lambda: balances(buyer), lambda b: "USD" in b)
        placed = await buyer.place_order("BTC-USD", "buy", "1", "60000.00")
        await order_in(buyer, placed.order_id, "NEW")
        before = await eventually(lambda: balances(buyer), lambda b: b["USD"].held > 0)
        assert before["USD"].held == D("60030")  # 60,000 + 5 bps
        # When the buyer amends it to 15 BTC
        with pytest.raises(ApiError) as refused:
            await buyer.amend_order(placed.order_id, qty="15")
        # Then it is refused with 422 insufficient_funds, and nothing changed
        assert (refused.value.status, refused.value.code) == (422, "insufficient_funds")
        order = await buyer.get_order(placed.order_id)
        assert (order.qty, order.status) == (D("1"), "NEW")
        assert await balances(buyer) == before

        # And a later trade between two other users in the same symbol settles
        seller, seller_id = await stack.signup()
        taker, taker_id = await stack.signup()
        clients.extend((seller, taker))
        await stack.deposit(seller_id, "BTC", D("1"))
        await stack.deposit(taker_id, "USD", D("10000"))
        await eventually(lambda: balances(taker), lambda b: "USD" in b)
        await seller.place_order("BTC-USD", "sell", "0.1", "65500.00")
        buy = await taker.place_order("BTC-USD", "buy", "0.1", "65500.00")
        await order_in(taker, buy.order_id, "FILLED")
        # (whoever it traded with: the book is shared with the other tests)
        fills = (await taker.list_fills(order_id=buy.order_id)).items
        paid = sum((f.price * f.qty + f.fee for f in fills), D(0))
        settled = await eventually(lambda: balances(taker), lambda b: "BTC" in b)
        assert settled["BTC"].available == D("0.1")
        assert (settled["USD"].available, settled["USD"].held) == (D("10000") - paid, D(0))
        await buyer.cancel_order(placed.order_id)
        await order_in(buyer, placed.order_id, "CANCELLED")
        after = await eventually(lambda: balances(buyer), lambda b: b["USD"].held == 0)
        assert after["USD"].available == D("100000")

    async def run_and_close() -> None:
        clients: list[ExchangeClient] = []
        try:
            await scenario(clients)
        finally:
            for client in clients:
                await client.close()

    run(run_and_close())
