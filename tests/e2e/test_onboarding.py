"""A new user's first day, through public interfaces only (Cognito's API, the REST API, the
providers' signed webhooks, the WebSocket API): no local controls, no database shortcuts.

Sign up, confirm with the emailed code (the post-confirmation trigger opens the ledger account,
KYC pending), the KYC provider verifies, the payment provider funds, the user trades against a
resting order and sees the fill on the WebSocket. And the auth rules as API Gateway applies them:
private routes take the access token and refuse the ID token; anonymous WebSockets may read
public data; a bad token is refused.
"""

import asyncio
import uuid
from decimal import Decimal

import aiohttp
import pytest

from exchange_client import ApiError, ExchangeClient, MarketStream
from exchange_client.auth import CognitoAuth
from exchange_client.errors import AuthError
from tests.e2e.conftest import PASSWORD, LocalStack, eventually

D = Decimal


def test_a_new_user_signs_up_is_verified_funded_and_trades(stack: LocalStack) -> None:
    async def scenario() -> None:
        # A resting seller (any onboarded user will do), inside ETH-USD's band around its 2,000
        # reference, at a price that keeps the other tests' ETH orders (1,850 and 2,000) inside
        # the band after this trade; the rest is cancelled at the end, before other tests run.
        seller, seller_id = await stack.signup()
        async with seller, ExchangeClient(stack.config) as client:
            await stack.deposit(seller_id, "ETH", D("2"))
            await eventually(seller.balances, lambda b: any(x.asset == "ETH" for x in b))
            sell = await seller.place_order("ETH-USD", "sell", "0.5", "1990.00")
            await eventually(lambda: seller.get_order(sell.order_id), lambda o: o.status == "NEW")
            try:
                await new_user_trades(stack, client, sell.order_id)
            finally:
                await seller.cancel_order(sell.order_id)
                await eventually(
                    lambda: seller.get_order(sell.order_id), lambda o: o.status == "CANCELLED"
                )

    asyncio.run(scenario())


async def new_user_trades(stack: LocalStack, client: ExchangeClient, maker_order: str) -> None:
    # Sign up with Cognito's public API, as the client does
    email = f"new-{uuid.uuid4().hex[:10]}@example.com"
    auth = CognitoAuth(
        app_client_id=stack.config.app_client_id, endpoint_url=stack.config.cognito_endpoint_url
    )
    account_id = await asyncio.to_thread(auth.sign_up, email, PASSWORD)
    # Confirm with the code Cognito emailed (the local stack's mailbox is the inbox); a wrong
    # code is refused as Cognito refuses it. The post-confirmation trigger runs inside the call
    # and opens the account, KYC pending.
    code = (await stack.control("mailbox", {"email": email}))["code"]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    with pytest.raises(AuthError, match="Invalid verification code"):
        await asyncio.to_thread(auth.confirm_sign_up, email, wrong)
    await asyncio.to_thread(auth.confirm_sign_up, email, code)
    await client.sign_in(email, PASSWORD)
    profile = await client.account()
    assert (profile["account_id"], profile["email"], profile["kyc_status"]) == (
        account_id,
        email,
        "PENDING",
    )
    # KYC pending: no order
    with pytest.raises(ApiError) as refused:
        await client.place_order("ETH-USD", "buy", "0.1", "1990.00")
    assert refused.value.status == 403, refused.value

    # The KYC provider verifies; the payment provider funds
    await stack.kyc(account_id)
    assert (await client.account())["kyc_status"] == "VERIFIED"
    await stack.deposit(account_id, "USD", D("1000"))
    await eventually(client.balances, lambda b: any(x.asset == "USD" for x in b))

    # The user watches their own orders on the WebSocket and takes 0.1 ETH
    async with MarketStream(stack.config.ws_url, token=client.auth.access_token) as stream:
        await stream.wait_connected()
        await stream.subscribe("orders")
        buy = await client.place_order("ETH-USD", "buy", "0.1", "1990.00")
        filled = await eventually(
            lambda: client.get_order(buy.order_id), lambda o: o.status == "FILLED"
        )
        assert (filled.filled_qty, filled.notional) == (D("0.1"), D("199"))
        fill = None
        while fill is None:
            event = await stream.next_event(timeout_s=15)
            if event.kind == "orders":
                fill = next((e for e in event.data["events"] if e.get("event") == "fill"), None)
        assert (fill["order_id"], fill["role"], D(fill["qty"])) == (buy.order_id, "TAKER", D("0.1"))
    settled = await eventually(client.balances, lambda b: any(x.asset == "ETH" for x in b))
    balances = {b.asset: b for b in settled}
    assert balances["ETH"].available == D("0.1")
    # 1,000 - 199 - the taker's 5 bps (0.0995)
    assert balances["USD"].available == D("800.9005")
    assert maker_order  # the seller's order, cancelled by the caller


def test_private_routes_take_the_access_token_and_refuse_the_id_token(stack: LocalStack) -> None:
    async def scenario() -> None:
        client, _account = await stack.signup()
        tokens = client.auth.tokens
        await client.close()
        assert tokens is not None
        url = f"{stack.config.api_url}/v1/balances"
        async with aiohttp.ClientSession() as http:
            async with http.get(url, headers={"Authorization": tokens.access_token}) as ok:
                assert ok.status == 200, await ok.text()
            # The methods carry OAuth scopes, so API Gateway takes only access tokens there.
            async with http.get(url, headers={"Authorization": tokens.id_token}) as refused:
                assert refused.status == 401
            async with http.get(url) as missing:
                assert missing.status == 401

    asyncio.run(scenario())


def test_anonymous_websockets_read_public_data_and_a_bad_token_is_refused(
    stack: LocalStack,
) -> None:
    async def scenario() -> None:
        async with MarketStream(stack.config.ws_url) as anonymous:
            await anonymous.wait_connected()
            await anonymous.subscribe("trades.BTC-USD")
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(f"{stack.config.ws_url}?token=not-a-jwt")
            assert refused.value.status == 403

    asyncio.run(scenario())
