"""Statements on the real PostgreSQL: the kinds of lines, ``balance_after``, time windows, and
paging that never skips or repeats a line. The property: after random deposits, trades (with
fees and a maker rebate), cancels and withdrawals, each asset's lines sum to the balance's
total, ``balance_after`` is the running sum, and paging in either order with small pages returns
each line exactly once."""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import get_args

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool

from exchange.domain import CancelReason, OrderCancelled, Side
from exchange.domain.errors import ExchangeError
from exchange.ledger import UnknownAccount
from exchange.ledger.postgres import PostgresLedger
from exchange.ledger.statements import (
    MovementKind,
    StatementLine,
    StatementPosition,
    StatementQuery,
)
from tests.integration.ledger.conftest import ledger_as, make_ledger
from tests.integration.ledger.statement_helpers import Outcome, withdraw
from tests.unit.ledger.helpers import CATALOG, fund, next_seq, order, trade, verified_account

USD, BTC, SOL = "USD", "BTC", "SOL"


def everything(
    ledger: PostgresLedger, account_id: str, *, limit: int, newest_first: bool, **filters: object
) -> list[StatementLine]:
    """Every line of the account, page by page."""
    lines: list[StatementLine] = []
    after: StatementPosition | None = None
    for _ in range(1000):  # a cursor that does not advance fails rather than loops
        page = ledger.statement(
            StatementQuery(
                account_id,
                limit=limit,
                newest_first=newest_first,
                after=after,
                **filters,  # type: ignore[arg-type]
            )
        )
        assert len(page.lines) <= limit
        lines.extend(page.lines)
        if page.next_after is None:
            return lines
        assert page.lines, "a page with more to come is never empty"
        after = page.next_after
    raise AssertionError("paging did not end")


def kinds(lines: list[StatementLine]) -> list[tuple[MovementKind, str, Decimal]]:
    return [(line.kind, line.asset, line.amount) for line in lines]


def test_a_trade_gives_each_side_its_trade_and_fee_lines_and_the_fee_account_its_fees(
    ledger: PostgresLedger,
) -> None:
    # Given a seller of 0.5 BTC at 1,000.00 (maker, 2 bps) and a buyer (taker, 5 bps)
    seller = verified_account(ledger, BTC="1")
    buyer = verified_account(ledger, USD="1000")
    sell = order(seller, Side.SELL, qty=5000, price=100000)
    buy = order(buyer, Side.BUY, qty=5000, price=110000)
    ledger.reserve(sell)
    ledger.reserve(buy)
    # When they trade (the buyer's excess hold is released in the same transaction)
    ledger.apply_event(trade(sell, buy, price=100000, qty=5000))
    # Then each statement lists the deposit, the trade's legs and the fee, oldest first
    oldest = StatementQuery(buyer, newest_first=False)
    assert kinds(ledger.statement(oldest).lines) == [
        (MovementKind.DEPOSIT, USD, Decimal("1000")),
        (MovementKind.FEE, USD, Decimal("-0.25")),
        (MovementKind.TRADE, BTC, Decimal("0.5")),
        (MovementKind.TRADE, USD, Decimal("-500")),
    ]
    assert [line.balance_after for line in ledger.statement(oldest).lines] == [
        Decimal("1000"),
        Decimal("999.75"),
        Decimal("0.5"),
        Decimal("499.75"),
    ]
    assert kinds(ledger.statement(StatementQuery(seller, newest_first=False)).lines) == [
        (MovementKind.DEPOSIT, BTC, Decimal("1")),
        (MovementKind.FEE, USD, Decimal("-0.1")),
        (MovementKind.TRADE, BTC, Decimal("-0.5")),
        (MovementKind.TRADE, USD, Decimal("500")),
    ]
    fees = ledger.statement(StatementQuery(ledger.fee_account_id)).lines
    assert kinds(fees) == [(MovementKind.FEE, USD, Decimal("0.35"))]
    # And a trade line names the trade
    line = ledger.statement(StatementQuery(buyer)).lines[0]
    assert (line.symbol, line.reference) == ("BTC-USD", f"BTC-USD#{line.seq}")


def test_a_maker_rebate_is_a_rebate_line_paid_by_the_fee_account(ledger: PostgresLedger) -> None:
    # Given SOL-USD, whose makers earn 1 bp
    maker = verified_account(ledger, SOL="100")
    taker = verified_account(ledger, USD="10010")
    sell = order(maker, Side.SELL, qty=10000, price=100000, symbol="SOL-USD")  # 100 SOL at 100
    buy = order(taker, Side.BUY, qty=10000, price=100000, symbol="SOL-USD")
    ledger.reserve(sell)
    ledger.reserve(buy)
    # When they trade 10,000 USD of notional
    ledger.apply_event(trade(sell, buy, price=100000, qty=10000))
    # Then the maker's rebate and the fee account's payment of it are REBATE lines
    rebates = [
        line for line in ledger.statement(StatementQuery(maker)).lines if line.kind == "REBATE"
    ]
    assert kinds(rebates) == [(MovementKind.REBATE, USD, Decimal("1"))]
    fee_lines = ledger.statement(StatementQuery(ledger.fee_account_id, newest_first=False)).lines
    assert kinds(fee_lines) == [
        (MovementKind.FEE, USD, Decimal("7")),
        (MovementKind.REBATE, USD, Decimal("-1")),
    ]


def test_holds_and_cancels_make_no_line_and_a_withdrawal_is_one_line_when_it_completes(
    ledger: PostgresLedger,
) -> None:
    # Given an account that places and cancels an order, and withdraws
    alice = verified_account(ledger, USD="100")
    buy = order(alice, Side.BUY, qty=1000, price=50000)  # 0.1 BTC at 500: 50 USD and its fee
    ledger.reserve(buy)
    ledger.apply_event(
        OrderCancelled(
            symbol="BTC-USD",
            ts=1,
            seq=next_seq(),
            order_id=buy.order_id,
            account_id=alice,
            cancelled_qty=1000,
            reason=CancelReason.USER_REQUESTED,
        )
    )
    for outcome in ("COMPLETED", "FAILED", "CANCELLED", "PENDING"):
        withdraw(ledger, alice, USD, Decimal("10"), outcome)
    # Then only the deposit and the completed withdrawal are lines; what is still held counts in
    # the total
    lines = ledger.statement(StatementQuery(alice, newest_first=False)).lines
    assert kinds(lines) == [
        (MovementKind.DEPOSIT, USD, Decimal("100")),
        (MovementKind.WITHDRAWAL, USD, Decimal("-10")),
    ]
    assert lines[-1].balance_after == Decimal("90")


def test_paging_by_time_window_and_asset_returns_the_lines_inside_exactly_once(
    ledger: PostgresLedger,
) -> None:
    # Given twelve deposits in two assets, each its own transaction
    alice = verified_account(ledger)
    for n in range(1, 13):
        fund(ledger, alice, USD if n % 3 else BTC, str(n))
    full = ledger.statement(StatementQuery(alice, newest_first=False)).lines
    start, end = full[3].at, full[9].at
    # When they are paged three at a time inside [start, end), in both orders
    oldest = everything(ledger, alice, limit=3, newest_first=False, start=start, end=end)
    newest = everything(ledger, alice, limit=3, newest_first=True, start=start, end=end)
    # Then each line of the window comes once, in order, with the balance of the full history
    assert oldest == [line for line in full if start <= line.at < end]
    assert newest == oldest[::-1]
    usd = everything(ledger, alice, limit=2, newest_first=True, asset=USD)
    assert usd == [line for line in full if line.asset == USD][::-1]
    assert usd[0].balance_after == sum((line.amount for line in usd), Decimal(0))


def test_the_account_functions_role_reads_statements(
    ledger: PostgresLedger, as_role: Callable[[str], ConnectionPool]
) -> None:
    # Given an account with a trade (its lines are read by the account function)
    seller = verified_account(ledger, BTC="1")
    buyer = verified_account(ledger, USD="1000")
    sell, buy = order(seller, Side.SELL, qty=10, price=100000), order(buyer, Side.BUY, qty=10)
    ledger.reserve(sell)
    ledger.reserve(buy)
    ledger.apply_event(trade(sell, buy, price=100000, qty=10))
    # When its role reads both sides' statements, then it sees what the owner sees
    account = ledger_as(as_role("exchange_account"), ledger.fee_account_id)
    for who in (seller, buyer):
        for newest_first in (True, False):
            query = StatementQuery(who, newest_first=newest_first, limit=2)
            assert account.statement(query) == ledger.statement(query)


def test_an_unknown_account_is_refused(ledger: PostgresLedger) -> None:
    with pytest.raises(UnknownAccount):
        ledger.statement(StatementQuery("acct-nobody"))


# -- the property ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Deposit:
    account: int
    asset: str
    amount: int


@dataclass(frozen=True)
class Trade:
    maker: int
    taker: int
    maker_side: Side
    symbol: str
    lots: int
    price_offset: int
    cancel_rest: bool


@dataclass(frozen=True)
class Withdraw:
    account: int
    asset: str
    amount: int
    outcome: Outcome


Step = Deposit | Trade | Withdraw
ACCOUNTS = 3
PRICES = {"BTC-USD": 100000, "SOL-USD": 100000}
steps = st.one_of(
    st.builds(
        Deposit, st.integers(0, ACCOUNTS - 1), st.sampled_from([USD, BTC, SOL]), st.integers(1, 900)
    ),
    st.builds(
        Trade,
        st.integers(0, ACCOUNTS - 1),
        st.integers(0, ACCOUNTS - 1),
        st.sampled_from(Side),
        st.sampled_from(sorted(PRICES)),
        st.integers(1, 500),
        st.integers(-50, 50),
        st.booleans(),
    ),
    st.builds(
        Withdraw,
        st.integers(0, ACCOUNTS - 1),
        st.sampled_from([USD, BTC, SOL]),
        st.integers(1, 300),
        st.sampled_from(get_args(Outcome)),
    ),
)


def run(ledger: PostgresLedger, accounts: list[str], step: Step) -> None:
    try:
        if isinstance(step, Deposit):
            fund(ledger, accounts[step.account], step.asset, str(step.amount))
        elif isinstance(step, Withdraw):
            amount = Decimal(step.amount) / 1000
            withdraw(ledger, accounts[step.account], step.asset, amount, step.outcome)
        else:
            settle(ledger, accounts, step)
    except ExchangeError:
        pass  # not enough money: nothing was written


def settle(ledger: PostgresLedger, accounts: list[str], step: Trade) -> None:
    price = PRICES[step.symbol] + step.price_offset * 10
    maker_side = step.maker_side
    taker_side = Side.BUY if maker_side is Side.SELL else Side.SELL
    maker = order(
        accounts[step.maker], maker_side, qty=step.lots * 2, price=price, symbol=step.symbol
    )
    taker = order(accounts[step.taker], taker_side, qty=step.lots, price=price, symbol=step.symbol)
    ledger.reserve(maker)
    ledger.reserve(taker)
    ledger.apply_events([trade(maker, taker, price=price, qty=step.lots)])
    if step.cancel_rest:
        ledger.apply_event(
            OrderCancelled(
                symbol=step.symbol,
                ts=1,
                seq=next_seq(),
                order_id=maker.order_id,
                account_id=maker.account_id,
                cancelled_qty=step.lots,
                reason=CancelReason.USER_REQUESTED,
            )
        )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(flow=st.lists(steps, min_size=1, max_size=25), limit=st.integers(1, 4))
def test_lines_sum_to_balances_run_as_running_sums_and_page_exactly_once(
    pool: ConnectionPool, flow: list[Step], limit: int
) -> None:
    # Given three accounts that deposit, trade, cancel and withdraw at random
    ledger = make_ledger(pool, CATALOG)
    ledger.bootstrap()
    accounts = [verified_account(ledger, USD="1000", BTC="0.2", SOL="20") for _ in range(ACCOUNTS)]
    for step in flow:
        run(ledger, accounts, step)
    for account in [*accounts, ledger.fee_account_id]:
        # When the whole statement is read in one page, and in small pages both ways
        full = ledger.statement(StatementQuery(account, limit=10_000, newest_first=False)).lines
        oldest = everything(ledger, account, limit=limit, newest_first=False)
        newest = everything(ledger, account, limit=limit, newest_first=True)
        # Then paging returns every line once, in order
        assert oldest == full
        assert newest == full[::-1]
        keys = [(line.tx_id, line.kind, line.asset) for line in full]
        assert len(set(keys)) == len(keys)
        assert all(line.amount != 0 for line in full)
        for kind in sorted({line.kind for line in full}):
            event(f"{kind} lines")  # what the examples covered (--hypothesis-show-statistics)
        # And the lines add up to the balances, with balance_after their running sum
        running: dict[str, Decimal] = defaultdict(Decimal)
        for line in full:
            running[line.asset] += line.amount
            assert line.balance_after == running[line.asset], line
        totals = {b.asset: b.total for b in ledger.balances(account) if b.total != 0}
        assert {asset: total for asset, total in running.items() if total != 0} == totals
