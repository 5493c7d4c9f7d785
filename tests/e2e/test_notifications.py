"""Notifications end to end on ``make run``: the ledger's outbox (a deposit) and the journal (a
fill) become notices on the SNS topic, SNS delivers them to the notifications queue (raw), the
emailer sends each one through SES once, as the user's preferences say, and the local mailbox
(``GET /_local/mailbox/emails``, what moto's SES holds) shows what would have been delivered.

A deposit is relayed by the deposits function right after its commit (and by the relay's
schedule, every 5 s locally, if that fails); a fill by the notifier, a consumer of the journal.
"""

import asyncio
import uuid
from decimal import Decimal
from typing import Any

from exchange_client import ExchangeClient
from tests.e2e.conftest import LocalStack, eventually

D = Decimal
# Longer than the relay's local period (5 s) and the queue poller's, so a second email for the
# same notice (a redelivery, a relay racing the deposits function) would have arrived by then.
SETTLE_S = 8.0


def run[T](coroutine: "asyncio.Future[T] | object") -> T:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


async def user(stack: LocalStack) -> tuple[ExchangeClient, str, str]:
    email = f"e2e-notices-{uuid.uuid4().hex[:10]}@example.com"
    client, account_id = await stack.signup(email)
    return client, account_id, email


def subjects(emails: list[dict[str, Any]]) -> list[str]:
    return sorted(str(e["subject"]) for e in emails)


def test_a_fill_and_a_deposit_email_once_each_with_preferences_on_and_never_with_them_off(
    stack: LocalStack,
) -> None:
    async def scenario() -> None:
        # Given a buyer who asked for fill emails (deposits are on by default) and a seller who
        # switched both off
        buyer, buyer_id, buyer_email = await user(stack)
        seller, seller_id, seller_email = await user(stack)
        defaults = await buyer.notification_preferences()
        assert defaults.email == {
            "FILL": False, "DEPOSIT": True, "WITHDRAWAL": True, "SECURITY": True
        }  # fmt: skip
        assert (await buyer.set_notification_preferences({"FILL": True})).email["FILL"] is True
        off = await seller.set_notification_preferences({"FILL": False, "DEPOSIT": False})
        assert (off.email["FILL"], off.email["DEPOSIT"]) == (False, False)

        # When each gets a deposit, and the seller's resting ETH is bought by the buyer
        await stack.deposit(buyer_id, "USD", D("5000"))
        await stack.deposit(seller_id, "ETH", D("2"))
        await eventually(buyer.balances, lambda b: any(x.asset == "USD" for x in b))
        await eventually(seller.balances, lambda b: any(x.asset == "ETH" for x in b))
        sell = await seller.place_order("ETH-USD", "sell", "1", "2000.00")
        await eventually(lambda: seller.get_order(sell.order_id), lambda o: o.status == "NEW")
        buy = await buyer.place_order("ETH-USD", "buy", "1", "2000.00")
        await eventually(lambda: buyer.get_order(buy.order_id), lambda o: o.status == "FILLED")

        # Then the buyer gets exactly one email for the deposit and one for the fill
        emails = await eventually(
            lambda: stack.emails(buyer_email), lambda found: len(found) >= 2, timeout_s=30
        )
        await asyncio.sleep(SETTLE_S)
        emails = await stack.emails(buyer_email)
        assert len(emails) == 2, subjects(emails)
        deposit, fill = sorted(emails, key=lambda e: not str(e["subject"]).startswith("Deposit"))
        assert deposit["subject"].startswith("Deposit credited")
        assert "USD" in deposit["subject"]
        assert fill["subject"].startswith("Order filled: buy 1")
        assert "ETH-USD" in fill["subject"]
        assert {tuple(e["to"]) for e in emails} == {(buyer_email,)}
        assert len({e["notice_id"] for e in emails}) == 2  # two notices, each emailed once
        assert str(fill["notice_id"]).startswith("fill#ETH-USD#")
        assert str(fill["notice_id"]).endswith(f"#{buyer_id}")
        # And the seller, whose preferences are off, gets none
        assert await stack.emails(seller_email) == []
        await buyer.close()
        await seller.close()

    run(scenario())
