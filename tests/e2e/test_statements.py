"""Statements reconcile with balances, for every account of the e2e run: each user's statement
(``GET /v1/transactions``, paged to the end) sums, per asset, to its balance total (available +
held), and its last line's ``balance_after`` is that total.

It runs last in the session (``e2e_last``), after the trading, admin, bots, withdrawal and
notification tests, so every deposit, trade, fee, rebate, dividend and withdrawal they made is in
some statement. Run alone, it makes its own: deposits, a trade with fees, a completed, a failed
and a cancelled withdrawal. Every user of the stack's Cognito pool is signed in (each test user
has the e2e password), and every user account of the ledger must be among them.
"""

import asyncio
import functools
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import psycopg
import pytest

from exchange_client import ExchangeClient
from exchange_client.statement_models import Transaction
from local.aws import CREDENTIALS
from tests.e2e.conftest import PASSWORD, LocalStack, eventually

D = Decimal
IBAN = "GB82 WEST 1234 5698 7654 32"
FAILING_BANK = "FAIL00012345"  # the fake provider fails a payout to it


def run[T](coroutine: "asyncio.Future[T] | object") -> T:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def confirmed_users(state: dict[str, Any]) -> dict[str, str]:
    """Every confirmed user of the stack's pool: sub -> email (moto's Cognito)."""
    cognito = boto3.client(
        "cognito-idp",
        region_name=state["region"],
        endpoint_url=state["aws_endpoint_url"],
        **CREDENTIALS,
    )
    users: dict[str, str] = {}
    for page in cognito.get_paginator("list_users").paginate(UserPoolId=state["user_pool_id"]):
        for user in page["Users"]:
            if user["UserStatus"] != "CONFIRMED":
                continue
            attributes = {a["Name"]: a["Value"] for a in user["Attributes"]}
            users[attributes["sub"]] = attributes["email"]
    return users


def ledger_users(state: dict[str, Any]) -> set[str]:
    """Every user account the ledger holds (the fee account is the exchange's, not a user's)."""
    with psycopg.connect(state["database_url"]) as connection:
        rows = connection.execute("SELECT account_id FROM ledger.accounts WHERE kind = 'USER'")
        return {str(row[0]) for row in rows}


def per_asset(lines: list[Transaction]) -> dict[str, tuple[Decimal, Decimal]]:
    """asset -> (sum of its lines, the last line's balance_after)."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    last: dict[str, Decimal] = {}
    for line in lines:
        sums[line.asset] += line.amount
        last[line.asset] = line.balance_after
    return {asset: (sums[asset], last[asset]) for asset in sums}


async def reconciled(
    client: ExchangeClient,
) -> tuple[dict[str, tuple[Decimal, Decimal]], dict[str, Decimal]]:
    """(per asset: lines' sum and last balance_after, per asset: balance total)."""
    lines = await client.transactions_all()
    totals = {b.asset: b.total for b in await client.balances() if b.total != 0}
    return per_asset(lines), totals


def agrees(found: tuple[dict[str, tuple[Decimal, Decimal]], dict[str, Decimal]]) -> bool:
    statement, totals = found
    assets = set(statement) | set(totals)
    return all(statement.get(a, (D(0), D(0))) == (totals.get(a, D(0)),) * 2 for a in assets)


async def activity(stack: LocalStack) -> None:
    """A deposit each, a trade with fees (maker and taker), a completed, a failed and a
    cancelled withdrawal: every kind of line this test can make happen."""
    seller, seller_id = await stack.signup(f"e2e-statement-{uuid.uuid4().hex[:8]}@example.com")
    buyer, buyer_id = await stack.signup()
    await stack.deposit(seller_id, "ETH", D("3"))
    await stack.deposit(buyer_id, "USD", D("10000"))
    await eventually(buyer.balances, lambda b: any(x.asset == "USD" for x in b))
    sell = await seller.place_order("ETH-USD", "sell", "1.5", "2010.00")
    await eventually(lambda: seller.get_order(sell.order_id), lambda o: o.status == "NEW")
    buy = await buyer.place_order("ETH-USD", "buy", "1.5", "2010.00")
    await eventually(lambda: buyer.get_order(buy.order_id), lambda o: o.status == "FILLED")
    await eventually(seller.balances, lambda b: any(x.asset == "USD" for x in b))
    good = await seller.add_destination("USD", IBAN, kind="BANK")
    bad = await seller.add_destination("USD", FAILING_BANK, kind="BANK")
    await asyncio.sleep(max(0.0, (bad.usable_at - datetime.now(UTC)).total_seconds()) + 0.3)
    sent = await seller.withdraw("USD", "1000", destination_id=good.destination_id)
    failed = await seller.withdraw("USD", "500", destination_id=bad.destination_id)
    for withdrawal in (sent, failed):
        probe = functools.partial(seller.get_withdrawal, withdrawal.withdrawal_id)
        await eventually(probe, lambda w: w.is_final, timeout_s=30)
    await stack.control("mappings/disable", {"function": "payouts"})
    try:
        held = await seller.withdraw("USD", "100", destination_id=good.destination_id)
        await seller.cancel_withdrawal(held.withdrawal_id)
    finally:
        await stack.control("mappings/enable", {"function": "payouts"})
    lines = await seller.transactions_all()
    kinds = {line.kind for line in lines}
    assert kinds >= {"DEPOSIT", "TRADE", "FEE", "WITHDRAWAL"}, kinds
    # One withdrawal line: the completed one (a failed or cancelled one moves nothing)
    assert [line.amount for line in lines if line.kind == "WITHDRAWAL"] == [D("-1000")]
    csv = await seller.transactions_csv()
    header, *rows = [row for row in csv.splitlines() if row]
    assert "balance_after" in header
    assert len(rows) == len(lines)
    for client in (seller, buyer):
        await client.close()


@pytest.mark.e2e_last
def test_every_accounts_statement_sums_to_its_balance(stack: LocalStack) -> None:
    async def scenario() -> None:
        await activity(stack)
        users = await asyncio.to_thread(confirmed_users, stack.state)
        # Every user account of the ledger is a confirmed user here, so all are checked
        assert await asyncio.to_thread(ledger_users, stack.state) <= set(users)
        checked = 0
        for account_id, email in sorted(users.items()):
            client = ExchangeClient(stack.config)
            await client.sign_in(email, PASSWORD)
            statement, totals = await eventually(
                functools.partial(reconciled, client), agrees, timeout_s=30
            )
            assert set(totals) <= set(statement), (account_id, totals)
            checked += bool(statement)
            await client.close()
        assert checked >= 2  # at least this test's own accounts had lines

    run(scenario())
