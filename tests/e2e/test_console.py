"""The trading console (``client/console``) in a browser: Chromium, driven by Playwright, against
the local stack, through the page's own forms.

A seller rests an order through the API; the buyer signs in on the console (Cognito, from the
page, across origins: the gateway's page posts ``InitiateAuth`` to moto's endpoint), takes the
order with the console's order form, and sees the fill in "My fills", the trade on the tape and
the balances change, over the WebSocket API. The page is served with its content security policy,
and nothing on it breaks the policy. The screenshot (``artifacts/console.png``) is CI's artifact.

Debian's Chromium (``/usr/bin/chromium``; ``.ci/run`` installs it), so Playwright downloads no
browser. Without it the test is skipped here and fails under ``CI=true``.
"""

import asyncio
import os
import re
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, expect, sync_playwright

from exchange_client import Balance, ExchangeClient
from local.process import ROOT
from tests.e2e.conftest import LocalStack, eventually

D = Decimal
CHROMIUM = Path(os.environ.get("EXCHANGE_CHROMIUM", "/usr/bin/chromium"))
ARTIFACT = ROOT / "artifacts" / "console.png"
SYMBOL = "BTC-USD"
TICK = D("0.01")
WAIT_MS = 30_000  # the stack shares two cores with the browser
# Recorded before any script of the page runs (an init script is not subject to the page's CSP).
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI}`);
});
"""


def run[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a thread of its own: Playwright's sync API owns this thread's loop."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; checked before the (session's) stack starts."""
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI: {reason}", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
def browser(chromium: Path) -> Iterator[Browser]:
    """Per test: while Playwright's sync API runs, this thread's event loop is its own, and the
    other e2e tests' ``asyncio.run`` would fail."""
    with sync_playwright() as playwright:
        # --no-sandbox: CI and containers run as root, where Chromium's sandbox refuses to start.
        launched = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        yield launched
        launched.close()


async def balances(client: ExchangeClient) -> dict[str, Balance]:
    return {b.asset: b for b in await client.balances()}


async def resting_price(client: ExchangeClient) -> Decimal:
    """A price inside the book's spread (the book is shared with the other tests): a sell there
    rests as the best ask, and a buy at it trades with that sell only."""
    book = await client.book(SYMBOL)
    best_bid = book.bids[0].price if book.bids else None
    best_ask = book.asks[0].price if book.asks else None
    price = D("65000.00")
    if best_ask is not None and price >= best_ask:
        price = best_ask - TICK
    if best_bid is not None and price <= best_bid:
        price = best_bid + TICK
    assert best_ask is None or price < best_ask, f"no room in the spread {best_bid}-{best_ask}"
    return price.quantize(TICK)


def seller_rests_a_sell(stack: LocalStack, qty: Decimal) -> tuple[str, Decimal]:
    """A new buyer (email, funded with 20,000 USD and nothing else) and the price of a fresh
    seller's resting sell of ``qty`` BTC there."""

    async def scenario() -> tuple[str, Decimal]:
        seller, seller_id = await stack.signup()
        buyer_email = f"console-{time.time_ns()}@example.com"
        buyer, buyer_id = await stack.signup(buyer_email)
        try:
            await stack.deposit(seller_id, "BTC", D("1"))
            await stack.deposit(buyer_id, "USD", D("20000"))
            await eventually(lambda: balances(buyer), lambda b: "USD" in b)
            await eventually(lambda: balances(seller), lambda b: "BTC" in b)
            price = await resting_price(seller)
            sell = await seller.place_order(SYMBOL, "sell", str(qty), str(price))
            resting = await eventually(
                lambda: seller.get_order(sell.order_id), lambda o: o.status != "PENDING_NEW"
            )
            assert (resting.status, resting.filled_qty) == ("NEW", D(0)), resting
            return buyer_email, price
        finally:
            await seller.close()
            await buyer.close()

    return run(scenario())


def decimal_text(locator: Locator, expected: Decimal, timeout_s: float = 30.0) -> None:
    """Wait until ``locator``'s text is ``expected`` as a decimal (the API's strings keep the
    ledger's scale: "0.2" or "0.20000000")."""
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        if locator.count():
            text = locator.inner_text().strip()
            if re.fullmatch(r"\d+(\.\d+)?", text) and D(text) == expected:
                return
        time.sleep(0.2)
    pytest.fail(f"{locator} shows {text!r}, not {expected}")


def test_a_user_signs_in_and_trades_on_the_console(browser: Browser, stack: LocalStack) -> None:
    # Given a buyer with 20,000 USD, and a seller's resting sell of 0.2 BTC inside the spread
    # (all of it bought below: a remainder resting inside the spread would take the next e2e
    # test's crossing buy, tests/e2e/test_trading.py, ahead of its own seller)
    qty = D("0.2000")
    buyer_email, price = seller_rests_a_sell(stack, qty)
    console_url = stack.state["console_url"]
    cognito = stack.state["aws_endpoint_url"]
    assert origin(console_url) != origin(cognito)  # signing in is a cross-origin call

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            problems.append(f"console: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    try:
        # When the console is opened: it is served with its content security policy
        response = page.goto(console_url)
        assert response is not None
        assert response.status == 200
        policy = response.headers["content-security-policy"]
        for directive in (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"connect-src 'self' {origin(stack.state['api_url'])} "
            f"{origin(stack.state['ws_url'])} {origin(cognito)}",
            "img-src 'self' data:",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ):
            assert directive in policy.split("; "), (directive, policy)
        expect(page.locator("#connection")).to_have_text(re.compile("^live"), timeout=WAIT_MS)
        # and the seller's sell is on the book
        expect(page.locator("#asks tr.ask td.price", has_text=str(price))).to_be_visible(
            timeout=WAIT_MS
        )

        # When the buyer signs in through the page's form
        page.fill("#email", buyer_email)
        page.fill("#password", "E2e-password-1")
        page.click("#sign-in button[type=submit]")
        expect(page.locator("#who")).to_have_text(buyer_email, timeout=WAIT_MS)
        usd_total = page.locator('#balances tr[data-asset="USD"] td.total')
        decimal_text(usd_total, D("20000"))
        expect(page.locator('#balances tr[data-asset="BTC"]')).to_have_count(0)

        # and places a limit buy of 0.2 BTC at the seller's price with the order form
        page.check('input[name="side"][value="BUY"]')
        page.select_option("#order-type", "LIMIT")
        page.fill("#price", str(price))
        page.fill("#qty", str(qty))
        page.click("#place")
        expect(page.locator("#order-result")).to_contain_text("Accepted", timeout=WAIT_MS)

        # Then the fill is in "My fills", at the seller's price
        fill = page.locator("#fills tr[data-fill-id]").first
        expect(fill).to_be_visible(timeout=WAIT_MS)
        expect(fill.locator("td.side")).to_have_text("BUY")
        expect(fill.locator("td.price")).to_have_text(str(price))
        decimal_text(fill.locator("td.qty"), qty)
        # and the trade is on the tape
        trade = page.locator("#trades tr.buy", has=page.locator("td.price", has_text=str(price)))
        expect(trade.first).to_be_visible(timeout=WAIT_MS)
        decimal_text(trade.first.locator("td.qty"), qty)
        # and the balances follow: 0.2 BTC bought, its price and the taker's 5 bps paid
        decimal_text(page.locator('#balances tr[data-asset="BTC"] td.total'), qty)
        notional = price * qty
        decimal_text(usd_total, D("20000") - notional - notional * D("0.0005"))

        # When an order the API refuses is sent, its problem+json detail is shown
        page.fill("#qty", "abc")
        page.click("#place")
        expect(page.locator("#order-result")).to_contain_text("qty", timeout=WAIT_MS)
        expect(page.locator("#order-result")).not_to_contain_text("Accepted")

        # And a resting post-only buy can be amended and cancelled from "My open orders"
        page.fill("#price", str(price - D("10")))
        page.fill("#qty", "0.0100")
        page.check("#post-only")
        page.click("#place")
        row = page.locator("#open-orders tr[data-order-id]", has_text=str(price - D("10")))
        expect(row).to_have_count(1, timeout=WAIT_MS)
        row.locator("button.amend").click()
        page.fill("#open-orders tr.amending input.amend-qty", "0.0050")
        page.click("#open-orders tr.amending button.save")
        expect(row.locator("td.qty")).to_have_text("0.0050", timeout=WAIT_MS)
        row.locator("button.cancel").click()
        expect(row).to_have_count(0, timeout=WAIT_MS)

        # And nothing on the page broke its content security policy
        violations = page.evaluate("window.__cspViolations")
        assert violations == [], violations
        assert problems == [], problems
    finally:
        ARTIFACT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACT), full_page=True)
        context.close()
