"""Operators run the exchange through ``exchange admin`` (the real CLI, a subprocess signed in
with the operator's own saved session) against the whole local stack, nothing restarted:

- halt BTC-USD: an order is refused with the reason; resume: the same order trades;
- freeze an account: its open orders are cancelled (reason OPERATOR) and its holds released to
  the unit, new orders and withdrawals refused; unfreeze: it trades again;
- list SOL-BTC and the equity ACME-USD at run time and trade them; change ACME-USD's fees
  (version 2): a later trade pays the new ones; a dividend on ACME is paid to its holder;
- the kill switch puts every symbol in CANCEL_ONLY (``GET /v1/markets`` and the ``status``
  channel say so), then back to TRADING;
- someone outside the operators' group gets 403 from ``/v1/admin``;
- the reconciliation (``POST /_local/reconcile``) finds no drift afterwards.

The stack is shared with the other e2e tests: every status changed here is restored in a
``finally``, and every order left resting is cancelled.
"""

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from exchange.instruments.live import DEFAULT_TTL_S
from exchange_client import ApiError, Balance, ExchangeClient, MarketStream, Order
from exchange_client.stream import STATUS_CHANNEL
from tests.e2e.conftest import PASSWORD, LocalStack, eventually

D = Decimal
REASON = "e2e: operator controls"

SOL_BTC = {
    "symbol": "SOL-BTC", "base": "SOL", "quote": "BTC",
    "tick_size": "0.000001", "lot_size": "0.01", "min_qty": "0.01", "max_qty": "10000",
    "price_band_pct": "20", "maker_fee_bps": 2, "taker_fee_bps": 5,
    "reference_price": "0.0023", "band_min_qty": "1", "max_price": "0.1", "max_notional": "100",
}  # fmt: skip
ACME_USD = {
    "symbol": "ACME-USD", "base": "ACME", "quote": "USD", "asset_class": "EQUITY",
    "tick_size": "0.01", "lot_size": "1", "min_qty": "1", "max_qty": "100000",
    "price_band_pct": "20", "maker_fee_bps": 2, "taker_fee_bps": 5,
    "reference_price": "100", "band_min_qty": "1", "max_price": "10000",
    "max_notional": "1000000",
}  # fmt: skip


def run[T](coroutine: Awaitable[T]) -> T:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def code_of(error: ApiError) -> str:
    """The problem's machine-readable code (``symbol_halted``, ``account_frozen``, ...)."""
    return str(error.problem.get("code", ""))


async def balances(client: ExchangeClient) -> dict[str, Balance]:
    return {b.asset: b for b in await client.balances()}


async def money(client: ExchangeClient, asset: str) -> tuple[Decimal, Decimal]:
    """(available, held) of ``asset``; zero for an asset never held."""
    found = (await balances(client)).get(asset)
    return (found.available, found.held) if found else (D(0), D(0))


async def order_in(client: ExchangeClient, order_id: str, *statuses: str) -> Order:
    return await eventually(lambda: client.get_order(order_id), lambda o: o.status in statuses)


async def funded(stack: LocalStack, **amounts: str) -> tuple[ExchangeClient, str]:
    """A new user with ``amounts`` deposited (asset -> amount), all credited."""
    client, account_id = await stack.signup()
    for asset, amount in amounts.items():
        await stack.deposit(account_id, asset, D(amount))
    await eventually(lambda: balances(client), lambda b: set(amounts) <= set(b))
    return client, account_id


async def statuses(client: ExchangeClient) -> dict[str, str | None]:
    return {market.symbol: market.status for market in await client.markets()}


# --- the operator and the CLI ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Operator:
    home: Path  # HOME of the operator's CLI: the stack's state file and the saved session

    async def cli(self, *args: str) -> Any:
        """``exchange <args> --json`` as the operator; its JSON answer (exit code 0 asserted)."""
        code, out, err = await self.run(*args, "--json")
        assert code == 0, f"exchange {' '.join(args)} exited {code}: {err or out}"
        return json.loads(out)

    async def run(self, *args: str) -> tuple[int, str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "exchange_client", *args,
            env={**env, "HOME": str(self.home)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    async def admin(self, *args: str) -> Any:
        return await self.cli("admin", *args, "--reason", REASON)


@pytest.fixture(scope="module")
def operator(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Operator:
    """A user made an operator the way ``make run`` users do it (``POST /_local/operator``),
    signed in with ``exchange login`` afterwards (a token issued before names no group); the
    CLI finds the stack as it finds ``make run``'s: ``~/.exchange/local-stack.json``."""
    home = tmp_path_factory.mktemp("operator-home")
    (home / ".exchange").mkdir()
    (home / ".exchange" / "local-stack.json").write_text(json.dumps(stack.state))
    found = Operator(home)

    async def setup() -> None:
        email = f"ops-{uuid.uuid4().hex[:10]}@example.com"
        client, _ = await stack.signup(email)
        await client.close()
        made = await stack.control("operator", {"username": email})
        assert made["groups"] == ["operators"]
        code, out, err = await found.run("login", email, "--password", PASSWORD)
        assert code == 0, err or out

    run(setup())
    return found


# --- the tests, in the order they must run (the kill switch last) ---------------------------------


def test_only_operators_reach_the_admin_api_and_only_with_a_token_issued_after(
    stack: LocalStack,
) -> None:
    async def scenario() -> None:
        # Given a user with a token, outside the operators' group
        email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"
        user, _ = await stack.signup(email)
        try:
            # Then /v1/admin answers 403 not_an_operator (the authorizer let the token through)
            with pytest.raises(ApiError) as refused:
                await user.admin_markets()
            assert (refused.value.status, code_of(refused.value)) == (403, "not_an_operator")
            # When an administrator puts them in the group, the token they hold still says no
            await stack.control("operator", {"username": email})
            with pytest.raises(ApiError) as still:
                await user.admin_markets()
            assert still.value.status == 403
            # Then, signed in again, they are an operator
            await user.sign_in(email, PASSWORD)
            markets = {m.symbol for m in await user.admin_markets()}
            assert {"BTC-USD", "ETH-USD", "SOL-USD"} <= markets
        finally:
            await user.close()

    run(scenario())


def test_a_halted_symbol_refuses_orders_with_the_reason_and_trades_again_once_resumed(
    stack: LocalStack, operator: Operator
) -> None:
    async def scenario(clients: list[ExchangeClient]) -> None:
        # Given a resting sell of 0.005 BTC at 64,321 (between what other tests leave resting)
        (seller, _), (buyer, _) = await asyncio.gather(
            funded(stack, BTC="0.01"), funded(stack, USD="1000")
        )
        clients += [seller, buyer]
        sell = await seller.place_order("BTC-USD", "sell", "0.005", "64321.00")
        await order_in(seller, sell.order_id, "NEW")
        # When an operator halts BTC-USD
        halted = await operator.admin("halt", "BTC-USD")
        assert halted["complete"], halted
        try:
            await eventually(lambda: statuses(buyer), lambda s: s["BTC-USD"] == "HALTED")
            # Then a buy is refused with the reason: 409 from the API, or, while the API's
            # catalog still said TRADING, rejected by the engine (exactly these two)
            assert await outcome_of_buy(buyer) in {
                (409, "symbol_halted"),
                ("REJECTED", "SYMBOL_HALTED"),
            }
            # and the resting sell is untouched
            assert (await seller.get_order(sell.order_id)).status == "NEW"
        finally:
            resumed = await operator.admin("resume", "BTC-USD")
        assert resumed["complete"], resumed
        # When the same order is sent once the API sees BTC-USD trading again
        buy = await eventually(lambda: place_unless_halted(buyer), lambda a: a is not None)
        assert buy is not None
        # Then it trades against the resting sell
        taker = await order_in(buyer, buy.order_id, "FILLED")
        maker = await order_in(seller, sell.order_id, "FILLED")
        assert (taker.filled_qty, taker.notional) == (D("0.005"), D("321.605"))
        assert maker.filled_qty == D("0.005")

    async def outcome_of_buy(buyer: ExchangeClient) -> tuple[int | str, str | None]:
        """(409, the problem's code) when the API refuses it, else (its final status, reason)."""
        try:
            placed = await buyer.place_order("BTC-USD", "buy", "0.005", "64321.00")
        except ApiError as refused:
            return refused.status, code_of(refused)
        final = await order_in(buyer, placed.order_id, "REJECTED", "NEW", "FILLED")
        return final.status, final.reject_reason

    async def place_unless_halted(buyer: ExchangeClient) -> Any:
        try:
            return await buyer.place_order("BTC-USD", "buy", "0.005", "64321.00")
        except ApiError as refused:
            if code_of(refused) != "symbol_halted":
                raise
            return None

    with_clients(scenario)


def test_freezing_an_account_cancels_its_orders_and_releases_its_holds_exactly(
    stack: LocalStack, operator: Operator
) -> None:
    async def scenario(clients: list[ExchangeClient]) -> None:
        # Given an account holding for two resting orders: USD for a BTC buy, ETH for an ETH sell
        trader, account_id = await funded(stack, USD="1000", ETH="1")
        clients.append(trader)
        # and a bank account to withdraw to, usable (its delay waited out) before the freeze
        bank = await trader.add_destination("USD", "GB82 WEST 1234 5698 7654 32", kind="BANK")
        before = {asset: await money(trader, asset) for asset in ("USD", "ETH")}
        assert before == {"USD": (D(1000), D(0)), "ETH": (D(1), D(0))}
        buy = await trader.place_order("BTC-USD", "buy", "0.01", "60123.00")
        sell = await trader.place_order("ETH-USD", "sell", "0.5", "2150.00")
        for placed in (buy, sell):
            await order_in(trader, placed.order_id, "NEW")
        held = await eventually(
            lambda: balances(trader), lambda b: b["USD"].held > 0 and b["ETH"].held > 0
        )
        assert (held["USD"].held, held["ETH"].held) == (D("601.530615"), D("0.5"))
        await asyncio.sleep(max(0.0, (bank.usable_at - datetime.now(UTC)).total_seconds()) + 0.3)
        # When an operator freezes it
        frozen = await operator.admin("freeze", account_id)
        assert (frozen["frozen"], frozen["changed"], frozen["complete"]) == (True, True, True)
        try:
            # Then both orders are cancelled by the operator
            for placed in (buy, sell):
                cancelled = await order_in(trader, placed.order_id, "CANCELLED")
                assert cancelled.detail == "OPERATOR", cancelled
            # and every hold comes back to the unit
            after = await eventually(
                lambda: balances(trader), lambda b: b["USD"].held == 0 and b["ETH"].held == 0
            )
            assert {a: (after[a].available, after[a].held) for a in before} == before
            # and it can neither place an order nor withdraw
            with pytest.raises(ApiError) as order_refused:
                await trader.place_order("ETH-USD", "sell", "0.1", "2150.00")
            with pytest.raises(ApiError) as withdrawal_refused:
                await trader.withdraw("USD", "10", destination_id=bank.destination_id)
            for refused in (order_refused.value, withdrawal_refused.value):
                assert (refused.status, code_of(refused)) == (403, "account_frozen")
        finally:
            unfrozen = await operator.admin("unfreeze", account_id)
        assert (unfrozen["frozen"], unfrozen["complete"]) == (False, True)
        # When it is unfrozen, the ledger and the engine take its orders again
        again = await trader.place_order("ETH-USD", "sell", "0.1", "2150.00")
        await order_in(trader, again.order_id, "NEW")
        await trader.cancel_order(again.order_id)
        await order_in(trader, again.order_id, "CANCELLED")
        assert await money(trader, "ETH") == (D(1), D(0))

    with_clients(scenario)


def test_instruments_listed_at_run_time_trade_and_a_fee_change_applies_to_later_trades(
    stack: LocalStack, operator: Operator
) -> None:
    async def scenario(clients: list[ExchangeClient]) -> None:
        # Given two instruments an operator lists now, over assets the ledger knows
        for definition in (SOL_BTC, ACME_USD):
            path = operator.home / f"{definition['symbol']}.json"
            path.write_text(json.dumps(definition))
        listed = await asyncio.gather(
            *(
                operator.admin(
                    "list-instrument", symbol, "--file", f"{operator.home}/{symbol}.json"
                )
                for symbol in ("SOL-BTC", "ACME-USD")
            )
        )
        assert [item["listing"]["version"] for item in listed] == [1, 1], listed
        # When they are traded, with nothing restarted
        await asyncio.gather(sol_btc(clients), acme_usd(clients))

    async def sol_btc(clients: list[ExchangeClient]) -> None:
        (seller, _), (buyer, _) = await asyncio.gather(
            funded(stack, SOL="10"), funded(stack, BTC="0.01")
        )
        clients += [seller, buyer]
        await eventually(lambda: statuses(buyer), lambda s: s.get("SOL-BTC") == "TRADING")
        sell = await seller.place_order("SOL-BTC", "sell", "2", "0.002300")
        await order_in(seller, sell.order_id, "NEW")
        buy = await buyer.place_order("SOL-BTC", "buy", "2", "0.002300")
        # Then the trade settles at the listed fees: maker 2 bps, taker 5 bps, in BTC
        taker = await order_in(buyer, buy.order_id, "FILLED")
        assert (taker.notional, taker.fee) == (D("0.0046"), D("0.0000023"))
        await order_in(seller, sell.order_id, "FILLED")
        seller_btc = await eventually(lambda: money(seller, "BTC"), lambda m: m[0] > 0)
        assert seller_btc == (D("0.00459908"), D(0))
        assert await money(seller, "SOL") == (D(8), D(0))
        assert await eventually(lambda: money(buyer, "SOL"), lambda m: m[0] > 0) == (D(2), D(0))
        assert await money(buyer, "BTC") == (D("0.0053977"), D(0))

    async def acme_usd(clients: list[ExchangeClient]) -> None:
        (seller, _), (buyer, buyer_id), (issuer, issuer_id) = await asyncio.gather(
            funded(stack, ACME="20"), funded(stack, USD="5000"), funded(stack, USD="100")
        )
        clients += [seller, buyer, issuer]
        await eventually(lambda: statuses(buyer), lambda s: s.get("ACME-USD") == "TRADING")
        # Version 1: maker 2 bps, taker 5 bps of 1,000 USD
        first = await trade_acme(seller, buyer)
        # When an operator lowers the fees (version 2: maker 1, taker 3 bps)
        changed = await operator.admin(
            "list-instrument", "ACME-USD", "--maker-fee-bps", "1", "--taker-fee-bps", "3"
        )
        assert changed["listing"]["version"] == 2, changed
        await eventually(
            buyer.markets,
            lambda ms: any(m.symbol == "ACME-USD" and m.version == 2 for m in ms),
        )
        # The ledger charges each trade the fees in force at its seq, exactly; the fee shown on a
        # fill is the recorder's live catalog's, up to DEFAULT_TTL_S old (a known gap, see
        # exchange.orders.lifecycle.fill_fee): trade once every catalog has the new version.
        await asyncio.sleep(DEFAULT_TTL_S)
        # Then a later trade pays the new ones: in the ledger to the unit,
        second = await trade_acme(seller, buyer)
        seller_usd = await eventually(lambda: money(seller, "USD"), lambda m: m[0] >= 1999)
        assert seller_usd == (D("1999.70"), D(0))  # 2,000 - 0.20 - 0.10
        assert await money(seller, "ACME") == (D(0), D(0))
        buyer_usd = await eventually(lambda: money(buyer, "USD"), lambda m: m[1] == 0)
        assert buyer_usd == (D("2999.20"), D(0))  # 5,000 - 2,000 - 0.50 - 0.30
        assert await eventually(lambda: money(buyer, "ACME"), lambda m: m[0] == 20) == (D(20), D(0))
        # and on each side's fills
        fees = {
            order_id: [
                (f.role, f.fee, f.fee_asset)
                for f in (await client.list_fills(order_id=order_id)).items
            ]
            for client, order_id in (
                (buyer, first[0]),
                (seller, first[1]),
                (buyer, second[0]),
                (seller, second[1]),
            )
        }
        assert list(fees.values()) == [
            [("TAKER", D("0.50"), "USD")],
            [("MAKER", D("0.20"), "USD")],
            [("TAKER", D("0.30"), "USD")],
            [("MAKER", D("0.10"), "USD")],
        ], fees
        # And a dividend of 0.25 USD a share, declared on the buyer's 20, is paid to the cent
        await pay_dividend(buyer, buyer_id, issuer, issuer_id)

    async def trade_acme(seller: ExchangeClient, buyer: ExchangeClient) -> tuple[str, str]:
        """10 ACME at 100: the seller's order rests, the buyer's takes it. (buy id, sell id)"""
        sell = await seller.place_order("ACME-USD", "sell", "10", "100.00")
        await order_in(seller, sell.order_id, "NEW")
        buy = await buyer.place_order("ACME-USD", "buy", "10", "100.00")
        taker = await order_in(buyer, buy.order_id, "FILLED")
        maker = await order_in(seller, sell.order_id, "FILLED")
        assert (taker.notional, maker.notional) == (D(1000), D(1000))
        return buy.order_id, sell.order_id

    async def pay_dividend(
        holder: ExchangeClient, holder_id: str, issuer: ExchangeClient, issuer_id: str
    ) -> None:
        before = await money(holder, "USD")
        record = datetime.now(UTC) + timedelta(seconds=1)
        declared = await operator.admin(
            "dividend", "declare", "ACME-USD", "--amount", "0.25",
            "--record-time", record.isoformat(),
            "--pay-time", (record + timedelta(seconds=5)).isoformat(),
            "--issuer", issuer_id,
        )  # fmt: skip
        ((dividend_id, status),) = [(d["dividend_id"], d["status"]) for d in declared]
        assert status == "DECLARED"
        # Then, once pay time passes, the holder of record is paid 20 x 0.25 from the issuer
        paid_to = await eventually(
            lambda: money(holder, "USD"), lambda m: m != before, timeout_s=30
        )
        assert paid_to == (before[0] + 5, D(0)), holder_id
        listed = await operator.cli("admin", "dividends", "--symbol", "ACME-USD")
        (paid,) = [d for d in listed if d["dividend_id"] == dividend_id]
        assert (paid["status"], paid["holders"], D(paid["total_paid"])) == ("PAID", 1, D(5))
        assert await money(issuer, "USD") == (D(95), D(0))

    with_clients(scenario)


def test_the_kill_switch_reaches_every_symbol_and_the_status_channel(
    stack: LocalStack, operator: Operator
) -> None:
    async def scenario(clients: list[ExchangeClient]) -> None:
        # Given a watcher of the public status channel
        watcher, _ = await stack.signup()
        clients.append(watcher)
        stream = MarketStream(stack.config.ws_url)
        await stream.start()
        try:
            await stream.wait_connected()
            await stream.subscribe(STATUS_CHANNEL)
            symbols = set(await statuses(watcher))
            await eventually(read(stream), lambda s: set(s) >= symbols)
            # When the kill switch puts every symbol in CANCEL_ONLY
            switched = await operator.admin("kill-switch", "CANCEL_ONLY")
            try:
                assert switched["complete"], switched
                assert {c["symbol"] for c in switched["commands"]} == symbols
                # Then the markets say so for every symbol, and the channel pushed each change
                await eventually(
                    lambda: statuses(watcher), lambda s: set(s.values()) == {"CANCEL_ONLY"}
                )
                pushed = await eventually(
                    read(stream), lambda s: {s[x] for x in symbols} == {"CANCEL_ONLY"}
                )
                assert set(pushed) >= symbols
            finally:
                restored = await operator.admin("kill-switch", "TRADING")
            assert restored["complete"], restored
            await eventually(lambda: statuses(watcher), lambda s: set(s.values()) == {"TRADING"})
            await eventually(read(stream), lambda s: {s[x] for x in symbols} == {"TRADING"})
        finally:
            await stream.close()

    def read(stream: MarketStream) -> Callable[[], Awaitable[dict[str, str]]]:
        async def latest() -> dict[str, str]:
            # Take what has arrived, then report each symbol's latest status
            while True:
                try:
                    await stream.next_event(timeout_s=0.2)
                except TimeoutError:
                    break
            return {symbol: s.status for symbol, s in stream.statuses.items()}

        return latest

    with_clients(scenario)


def test_the_reconciliation_finds_no_drift_after_all_of_it(stack: LocalStack) -> None:
    async def scenario() -> None:
        answer = await stack.control("reconcile")
        summary, report = answer["summary"], answer["report"]
        # Anything younger than the grace period is in flight, not drift; the report names it
        assert summary["clean"] is True, json.dumps(report, indent=2)
        assert set(summary["drift"].values()) == {0}, summary
        assert report is not None
        assert report["clean"] is True

    run(scenario())


def with_clients(scenario: Callable[[list[ExchangeClient]], Awaitable[None]]) -> None:
    """Run ``scenario`` with a list it adds its clients to; every one is closed after."""

    async def main() -> None:
        clients: list[ExchangeClient] = []
        try:
            await scenario(clients)
        finally:
            for client in clients:
                await client.close()

    run(main())
