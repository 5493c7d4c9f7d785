"""Money out, end to end on ``make run``: a destination added and confirmed after its delay, a
withdrawal held, sent by the payout worker (SQS) to the fake payment provider, and finished by the
provider's signed webhook exactly once; a failed payout gives the hold back; a withdrawal not yet
sent can be cancelled, and one sent cannot.

The local stack shortens a destination's delay to ``destination_delay_s`` (2 s; a day as
deployed) and its fake provider answers each payout at once (202 PENDING), then posts its webhook
0.5 s later: ``payout.failed`` when the destination's address contains ``fail``.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import aiohttp
import pytest

from exchange_client import ApiError, Balance, ExchangeClient
from exchange_client.money_models import Destination, Withdrawal
from local.accounts import signed_payout
from tests.e2e.conftest import LocalStack, eventually

D = Decimal
IBAN = "GB82 WEST 1234 5698 7654 32"  # a valid IBAN (mod 97)
FAILING_ADDRESS = "bc1qfailfailfailfailfailfailfail"  # the fake provider fails it
SETTLE_S = 3.0  # longer than the provider's webhook delay and its retries' first pause


def run[T](coroutine: "asyncio.Future[T] | object") -> T:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


async def balances(client: ExchangeClient) -> dict[str, Balance]:
    return {b.asset: b for b in await client.balances()}


async def funded(stack: LocalStack, asset: str, amount: Decimal) -> tuple[ExchangeClient, str]:
    client, account_id = await stack.signup()
    await stack.deposit(account_id, asset, amount)
    await eventually(lambda: balances(client), lambda b: asset in b and b[asset].available > 0)
    return client, account_id


async def confirmed(
    stack: LocalStack, client: ExchangeClient, asset: str, address: str, kind: str
) -> Destination:
    """A destination added and waited out: usable from ``usable_at`` on."""
    destination = await client.add_destination(asset, address, kind=kind)  # type: ignore[arg-type]
    assert destination.status == "PENDING"
    delay = timedelta(seconds=stack.state["destination_delay_s"])
    assert destination.usable_at - destination.created_at == delay
    wait_s = (destination.usable_at - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, wait_s) + 0.3)
    return destination


async def finished(client: ExchangeClient, withdrawal_id: str) -> Withdrawal:
    return await eventually(
        lambda: client.get_withdrawal(withdrawal_id), lambda w: w.is_final, timeout_s=30
    )


async def post_payout_webhook(stack: LocalStack, body: bytes, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{stack.config.api_url}/v1/webhooks/payouts", data=body, headers=headers) as r,
    ):
        return r.status


def test_a_withdrawal_to_a_confirmed_destination_is_paid_out_and_debited_exactly_once(
    stack: LocalStack,
) -> None:
    async def scenario() -> None:
        # Given a user with 1,000 USD and a bank account added as a destination
        client, _ = await funded(stack, "USD", D("1000"))
        destination = await client.add_destination("USD", IBAN, kind="BANK", label="my bank")
        # When they withdraw to it before its delay has passed, it is refused, nothing held
        with pytest.raises(ApiError) as early:
            await client.withdraw("USD", "250", destination_id=destination.destination_id)
        assert (early.value.status, early.value.code) == (409, "destination_not_usable")
        assert (await balances(client))["USD"].held == 0
        wait_s = (destination.usable_at - datetime.now(UTC)).total_seconds()
        await asyncio.sleep(max(0.0, wait_s) + 0.3)

        # When they withdraw 250 USD once it is usable
        withdrawal = await client.withdraw(
            "USD", "250.00", destination_id=destination.destination_id
        )
        assert withdrawal.status in ("PENDING", "SENDING", "COMPLETED")
        assert withdrawal.destination_id == destination.destination_id

        # Then the payout worker sends it, the provider's webhook completes it, and the
        # balance drops by 250 exactly, with nothing left held
        done = await finished(client, withdrawal.withdrawal_id)
        assert (done.status, done.amount) == ("COMPLETED", D("250"))
        money = await balances(client)
        assert (money["USD"].available, money["USD"].held) == (D("750"), D(0))

        # And a forged completion (not signed with the provider's secret) is refused
        body, headers = signed_payout("not-the-secret", withdrawal.withdrawal_id, "USD", D("250"))
        assert await post_payout_webhook(stack, body, headers) == 401

        # And a while later nothing more happened: not debited twice, one withdrawal
        await asyncio.sleep(SETTLE_S)
        money = await balances(client)
        assert (money["USD"].available, money["USD"].held) == (D("750"), D(0))
        assert [w.withdrawal_id for w in await client.withdrawals()] == [withdrawal.withdrawal_id]
        assert (await client.get_withdrawal(withdrawal.withdrawal_id)).status == "COMPLETED"
        # A completed withdrawal cannot be cancelled any more
        with pytest.raises(ApiError) as late:
            await client.cancel_withdrawal(withdrawal.withdrawal_id)
        assert (late.value.status, late.value.code) == (409, "withdrawal_not_cancellable")
        await client.close()

    run(scenario())


def test_a_failed_payout_gives_the_hold_back(stack: LocalStack) -> None:
    async def scenario() -> None:
        # Given a user with 1 BTC and a confirmed address the provider will fail to pay
        client, _ = await funded(stack, "BTC", D("1"))
        destination = await confirmed(stack, client, "BTC", FAILING_ADDRESS, "ADDRESS")
        # When they withdraw 0.1 BTC to it
        withdrawal = await client.withdraw("BTC", "0.1", destination_id=destination.destination_id)
        # Then the provider's payout.failed webhook fails it and releases the hold: the whole
        # BTC is available again
        done = await finished(client, withdrawal.withdrawal_id)
        assert done.status == "FAILED"
        assert done.failure_reason
        money = await balances(client)
        assert (money["BTC"].available, money["BTC"].held) == (D("1"), D(0))
        await asyncio.sleep(SETTLE_S)  # and it stays so: released once
        money = await balances(client)
        assert (money["BTC"].available, money["BTC"].held) == (D("1"), D(0))
        await client.close()

    run(scenario())


def test_a_withdrawal_not_yet_sent_is_cancelled_and_never_paid(stack: LocalStack) -> None:
    async def scenario() -> None:
        # Given a user with 100 ETH and a confirmed address, while the payout worker's queue
        # mapping is disabled (so the withdrawal stays PENDING, as when the worker lags)
        client, _ = await funded(stack, "ETH", D("100"))
        destination = await confirmed(stack, client, "ETH", "0x" + "ab" * 20, "ADDRESS")
        await stack.control("mappings/disable", {"function": "payouts"})
        try:
            withdrawal = await client.withdraw(
                "ETH", "2.5", destination_id=destination.destination_id
            )
            assert withdrawal.status == "PENDING"
            held = await balances(client)
            assert (held["ETH"].available, held["ETH"].held) == (D("97.5"), D("2.5"))
            # When they cancel it
            cancelled = await client.cancel_withdrawal(withdrawal.withdrawal_id)
            assert cancelled.status == "CANCELLED"
            money = await balances(client)
            assert (money["ETH"].available, money["ETH"].held) == (D("100"), D(0))
            sent_before = await provider_payouts(stack)
        finally:
            await stack.control("mappings/enable", {"function": "payouts"})
        # Then, once the worker reads its queue again, the cancelled withdrawal is not sent
        await asyncio.sleep(SETTLE_S)
        assert await provider_payouts(stack) == sent_before
        assert (await client.get_withdrawal(withdrawal.withdrawal_id)).status == "CANCELLED"
        money = await balances(client)
        assert (money["ETH"].available, money["ETH"].held) == (D("100"), D(0))
        # and cancelling it again answers it as it is, releasing nothing more
        again = await client.cancel_withdrawal(withdrawal.withdrawal_id)
        assert again.status == "CANCELLED"
        assert (await balances(client))["ETH"].available == D("100")
        await client.close()

    run(scenario())


async def provider_payouts(stack: LocalStack) -> int:
    """How many payouts the fake provider has taken (``/_local/status``)."""
    status = await stack.status()
    count: int = status["outside"]["provider"]["status"]["payouts"]
    return count
