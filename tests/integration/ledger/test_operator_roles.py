"""The operator controls' roles on the real PostgreSQL: each does its function's real work through
``PostgresLedger`` connected as that role, and the database refuses anything more (the exact
grants: ``test_roles.GRANTS``)."""

import secrets
from collections.abc import Callable
from decimal import Decimal

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from exchange.domain import InstrumentCatalog, Side
from exchange.ledger import AccountFrozen
from exchange.ledger.postgres import PostgresLedger
from tests.integration.ledger.conftest import destination, ledger_as
from tests.integration.ledger.test_dividends import (
    database_time,
    declaration,
    ledger_for,
    pay_due,
)
from tests.integration.ledger.test_fee_schedule import ETH, listed
from tests.unit.ledger.helpers import BTC, new_id, order, verified_account

Refusals = list[tuple[str, tuple[object, ...]]]


def refused(pool: ConnectionPool, statements: Refusals) -> None:
    """Each statement is refused for want of a privilege."""
    with pool.connection() as conn:
        for statement, args in statements:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement.encode(), args)
            conn.rollback()


@pytest.fixture
def equity_ledger(ledger: PostgresLedger, pool: ConnectionPool) -> tuple[str, PostgresLedger]:
    asset = f"EQ{secrets.token_hex(3).upper()}"
    return asset, ledger_for(pool, ledger.fee_account_id, asset)


def as_role_with_equity(
    as_role: Callable[[str], ConnectionPool], role: str, asset: str, fee_account_id: str
) -> PostgresLedger:
    return ledger_for(as_role(role), fee_account_id, asset)


def test_admin_role_freezes_and_declares_and_lists_dividends(
    equity_ledger: tuple[str, PostgresLedger],
    pool: ConnectionPool,
    as_role: Callable[[str], ConnectionPool],
) -> None:
    asset, admin_view = equity_ledger
    alice = verified_account(admin_view, USD="10")
    admin = as_role_with_equity(as_role, "exchange_admin", asset, admin_view.fee_account_id)
    assert admin.set_frozen(alice, True, actor="op", reason="review") is True
    assert admin.is_frozen(alice) is True
    terms = declaration(f"{asset}-USD", alice, database_time(pool))
    declared = admin.declare_dividend(terms)
    assert admin.declare_dividend(terms) == declared  # a retry
    assert admin.dividends(f"{asset}-USD") == [declared]


def test_admin_role_cannot_move_money_pay_dividends_or_rewrite_history(
    ledger: PostgresLedger, as_role: Callable[[str], ConnectionPool]
) -> None:
    alice = verified_account(ledger)
    refused(
        as_role("exchange_admin"),
        [
            ("UPDATE ledger.balances SET available = available + 1", ()),
            ("INSERT INTO ledger.journal_tx (kind, reference) VALUES ('X', 'x')", ()),
            ("UPDATE ledger.dividends SET status = 'PAID'", ()),
            ("UPDATE ledger.dividends SET amount_per_unit = 100", ()),
            ("INSERT INTO ledger.dividend_payments SELECT * FROM ledger.dividend_payments", ()),
            ("UPDATE ledger.accounts SET kyc_status = 'VERIFIED' WHERE account_id = %s", (alice,)),
            ("SELECT email FROM ledger.accounts", ()),
            ("DELETE FROM ledger.account_freeze_events", ()),
            ("SELECT * FROM ledger.reservations", ()),
        ],
    )


def test_dividends_role_pays_and_cannot_declare_or_freeze(
    equity_ledger: tuple[str, PostgresLedger],
    pool: ConnectionPool,
    as_role: Callable[[str], ConnectionPool],
) -> None:
    asset, admin_view = equity_ledger
    issuer = verified_account(admin_view, USD="10")
    holder = verified_account(admin_view, **{asset: "2"})
    dividend = admin_view.declare_dividend(declaration(f"{asset}-USD", issuer, database_time(pool)))
    payer = as_role_with_equity(as_role, "exchange_dividends", asset, admin_view.fee_account_id)
    (payout,) = pay_due(payer, dividend.pay_time, dividend)
    assert (payout.paid, payout.total) == (True, Decimal("0.5"))
    assert [(b.asset, b.available) for b in admin_view.balances(holder)] == [
        (asset, Decimal(2)),
        ("USD", Decimal("0.5")),
    ]
    refused(
        as_role("exchange_dividends"),
        [
            ("INSERT INTO ledger.dividends (dividend_id) VALUES ('forged')", ()),
            ("UPDATE ledger.dividends SET amount_per_unit = 100", ()),
            ("UPDATE ledger.accounts SET frozen = true", ()),
            ("DELETE FROM ledger.dividend_payments", ()),
            ("SELECT * FROM ledger.reservations", ()),
            ("SELECT * FROM ledger.withdrawals", ()),
        ],
    )


RECONCILIATION_READS = [
    "SELECT order_id, account_id, symbol, side, asset, original_lots, open_lots, filled_lots, "
    "held, created_at, updated_at FROM ledger.reservations",
    "SELECT account_id, kind FROM ledger.accounts",
    "SELECT account_id, asset, available, held FROM ledger.balances",
    "SELECT asset, amount, status FROM ledger.deposits",
    "SELECT asset, amount, status FROM ledger.withdrawals",
    "SELECT symbol, seq, settled_at, maker_order_id, taker_order_id FROM ledger.settled_trades",
    "SELECT symbol, seq, order_id FROM ledger.applied_events",
    "SELECT * FROM ledger.journal_tx",
    "SELECT * FROM ledger.journal_entries",
    "SELECT * FROM ledger.dividends",
    "SELECT * FROM ledger.dividend_payments",
]


def test_reconciliation_role_reads_what_it_compares_and_writes_nothing(
    ledger: PostgresLedger, as_role: Callable[[str], ConnectionPool]
) -> None:
    verified_account(ledger, USD="5")
    pool = as_role("exchange_reconciliation")
    with pool.connection() as conn:
        for statement in RECONCILIATION_READS:
            conn.execute(statement.encode()).fetchall()
    refused(
        pool,
        [
            ("UPDATE ledger.balances SET available = 0", ()),
            ("INSERT INTO ledger.journal_tx (kind, reference) VALUES ('X', 'x')", ()),
            ("DELETE FROM ledger.deposits", ()),
            ("UPDATE ledger.dividends SET status = 'PAID'", ()),
            ("UPDATE ledger.accounts SET frozen = true", ()),
            ("SELECT email FROM ledger.accounts", ()),
            ("SELECT account_id FROM ledger.deposits", ()),
            ("SELECT * FROM ledger.webhook_events", ()),
            ("SELECT * FROM ledger.fee_schedule", ()),
            ("SELECT * FROM ledger.account_freeze_events", ()),
        ],
    )


def test_orders_and_account_roles_refuse_a_frozen_account_and_cannot_unfreeze_it(
    ledger: PostgresLedger, as_role: Callable[[str], ConnectionPool]
) -> None:
    alice = verified_account(ledger, USD="100")
    target = destination(ledger, alice, "USD")
    ledger.set_frozen(alice, True, actor="op", reason="review")
    orders = ledger_as(as_role("exchange_orders"), ledger.fee_account_id)
    account = ledger_as(as_role("exchange_account"), ledger.fee_account_id)
    with pytest.raises(AccountFrozen):
        orders.reserve(order(alice, Side.BUY, qty=10, price=100000))
    with pytest.raises(AccountFrozen):
        account.request_withdrawal(new_id("wd"), alice, "USD", Decimal(1), destination_id=target)
    assert account.positions(alice).dividends == []
    for role in ("exchange_orders", "exchange_account"):
        refused(
            as_role(role),
            [("UPDATE ledger.accounts SET frozen = false WHERE account_id = %s", (alice,))],
        )
    assert ledger.is_frozen(alice) is True


def test_settlement_role_records_a_listings_fees(
    ledger: PostgresLedger, as_role: Callable[[str], ConnectionPool]
) -> None:
    settlement = ledger_as(
        as_role("exchange_settlement"), ledger.fee_account_id, InstrumentCatalog([BTC, ETH])
    )
    seq = 10_000 + secrets.randbelow(10_000)  # above every seq of test_fee_schedule
    assert settlement.apply_event(listed(seq, ETH, 9)) is True
    assert settlement.apply_event(listed(seq, ETH, 9)) is False
