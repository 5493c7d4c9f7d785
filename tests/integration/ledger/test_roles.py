"""Each ledger function's database role, on the real PostgreSQL: it does its function's real work
through ``PostgresLedger`` (connected as that role, with its login from ``grant_logins``), and
nothing more: the grants are exactly the table below, and an overstep is refused by the database.

Roles are cluster-wide: other databases (other test sessions, local mode) may have created them and
given them logins already; every step here tolerates that.
"""

import secrets
from collections.abc import Callable
from decimal import Decimal

import msgspec
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from exchange.domain import OrderAmended, OrderCancelled, Side
from exchange.domain.enums import CancelReason
from exchange.journal.epochs import SeqReused
from exchange.ledger import KycStatus, migrations
from exchange.ledger.accounts import AccountRecord
from exchange.ledger.model import DepositNotice
from exchange.ledger.postgres import PostgresLedger
from exchange.ledger.postgres.directory import PostgresAccountDirectory
from exchange.ledger.postgres.kyc import PostgresAccountOpener, PostgresKycRegistry
from exchange.ledger.roles import UnknownRole, grant_logins
from exchange.ledger.verification import KycDecision, KycResult, KycSource
from tests.integration.ledger.conftest import LEDGER_ROLES, destination, ledger_as
from tests.integration.ledger.conftest import _create_database as create_database
from tests.integration.ledger.conftest import _drop_database as drop_database
from tests.unit.ledger.helpers import amend, new_id, next_seq, order, trade

APPEND_ONLY = ("journal_tx", "journal_entries", "kyc_events", "account_freeze_events",
               "dividend_payments")  # fmt: skip
LOCK_ONLY = "UPDATE"  # FOR UPDATE needs UPDATE on one column; see the migration
BALANCE_WRITES = {"balances(available)", "balances(held)", "balances(updated_at)"}
JOURNAL_POST = {"journal_tx(tx_id):SELECT", "journal_tx:INSERT", "journal_entries:INSERT"}
OUTBOX_RELAY = {"outbox:SELECT", "outbox(published_at):UPDATE"}
PAYOUT_OUTCOME = {
    "withdrawals:SELECT",
    *(
        f"withdrawals({c}):UPDATE"
        for c in (
            "status",
            "provider_reference",
            "failure_reason",
            "outcome_event_id",
            "updated_at",
        )
    ),
}
HOLD_RESIZE = {
    "reservations:SELECT",
    *(
        f"reservations({c}):UPDATE"
        for c in (
            "limit_ticks",
            "open_lots",
            "held",
            "fee_accrued",
            "fee_charged",
            "filled_lots",
            "updated_at",
        )
    ),
    "amend_holds:SELECT",
    *(f"amend_holds({c}):UPDATE" for c in ("status", "symbol", "seq", "resolved_at")),
    "balances:SELECT",
    *(f"{c}:UPDATE" for c in BALANCE_WRITES),
    *JOURNAL_POST,
}
# The grants table: role -> "table:PRIVILEGE" or "table(column):PRIVILEGE". Nothing else.
GRANTS: dict[str, set[str]] = {
    "exchange_orders": {
        *(f"accounts({c}):SELECT" for c in ("account_id", "kind", "kyc_status", "frozen")),
        "reservations:SELECT",
        "reservations:INSERT",
        f"reservations(updated_at):{LOCK_ONLY}",
        "amend_holds:SELECT",
        "amend_holds:INSERT",
        f"amend_holds(resolved_at):{LOCK_ONLY}",
        "balances:SELECT",
        *(f"{c}:UPDATE" for c in BALANCE_WRITES),
        *JOURNAL_POST,
    },
    "exchange_account": {
        *(f"accounts({c}):SELECT" for c in ("account_id", "kind", "kyc_status", "email", "frozen")),
        "balances:SELECT",
        *(f"{c}:UPDATE" for c in BALANCE_WRITES),
        "journal_tx:SELECT",
        "journal_tx:INSERT",
        "journal_entries:SELECT",
        "journal_entries:INSERT",
        "withdrawals:SELECT",
        "withdrawals:INSERT",
        "withdrawals(status):UPDATE",
        "withdrawals(updated_at):UPDATE",
        "withdrawal_destinations:SELECT",
        "withdrawal_destinations:INSERT",
        "withdrawal_destinations(removed_at):UPDATE",
        "outbox:INSERT",
        "notification_preferences:SELECT",
        "notification_preferences:INSERT",
        "notification_preferences(email):UPDATE",
        "notification_preferences(updated_at):UPDATE",
        *(
            f"dividend_payments({c}):SELECT"
            for c in ("dividend_id", "account_id", "units", "amount")
        ),
        *(
            f"dividends({c}):SELECT"
            for c in ("dividend_id", "symbol", "asset", "unit_asset", "amount_per_unit", "paid_at")
        ),
    },
    "exchange_deposits": {
        *(f"accounts({c}):SELECT" for c in ("account_id", "kind")),
        "webhook_events(event_id):SELECT",
        "webhook_events:INSERT",
        "deposits(deposit_id):SELECT",
        "deposits:INSERT",
        "deposits(tx_id):UPDATE",
        "balances:SELECT",
        "balances:INSERT",
        *(f"{c}:UPDATE" for c in BALANCE_WRITES),
        *JOURNAL_POST,
        *PAYOUT_OUTCOME,
        "outbox:INSERT",
        *OUTBOX_RELAY,
    },
    "exchange_payouts": {
        "accounts(account_id):SELECT",
        "accounts(frozen):SELECT",
        *PAYOUT_OUTCOME,
        "withdrawals(attempts):UPDATE",
        "withdrawal_destinations:SELECT",
        "webhook_events(event_id):SELECT",
        "webhook_events:INSERT",
        "balances:SELECT",
        *(f"{c}:UPDATE" for c in BALANCE_WRITES),
        *JOURNAL_POST,
        "outbox:INSERT",
        *OUTBOX_RELAY,
    },
    # Which accounts are frozen: their withdrawals are held on purpose, not stuck.
    "exchange_payout_sweeper": {
        "accounts(account_id):SELECT",
        "accounts(frozen):SELECT",
        "withdrawals:SELECT",
    },
    "exchange_notices_relay": set(OUTBOX_RELAY),
    "exchange_emailer": {
        "accounts(account_id):SELECT",
        "accounts(kind):SELECT",
        "notification_preferences:SELECT",
    },
    "exchange_settlement": {
        *(
            f"settled_trades({c}):SELECT"
            for c in (
                "symbol",
                "seq",
                "maker_order_id",
                "taker_order_id",
                "price_ticks",
                "qty_lots",
            )
        ),
        "settled_trades:INSERT",
        *(f"settled_trades({c}):UPDATE" for c in ("notional", "maker_fee", "taker_fee", "tx_id")),
        *(f"applied_events({c}):SELECT" for c in ("symbol", "seq", "kind", "order_id")),
        "applied_events:INSERT",
        "fee_schedule:SELECT",
        "fee_schedule:INSERT",
        "balances:INSERT",
        *HOLD_RESIZE,
    },
    "exchange_dead_letters": set(HOLD_RESIZE),
    "exchange_health": set(),
    "exchange_kyc": {
        *(
            f"accounts({c}):SELECT"
            for c in ("account_id", "kind", "kyc_status", "kyc_decided_by", "kyc_decided_at")
        ),
        *(
            f"accounts({c}):UPDATE"
            for c in ("kyc_status", "kyc_decided_by", "kyc_decided_at", "kyc_updated_at")
        ),
        "kyc_events(event_no):SELECT",
        "kyc_events(event_id):SELECT",
        "kyc_events:INSERT",
    },
    "exchange_onboarding": {
        *(f"accounts({c}):SELECT" for c in ("account_id", "kind", "email")),
        "accounts(account_id):INSERT",
        "accounts(email):INSERT",
        "accounts(email):UPDATE",
    },
    "exchange_admin": {
        *(
            f"accounts({c}):SELECT"
            for c in (
                "account_id",
                "kind",
                "kyc_status",
                "created_at",
                "frozen",
                "frozen_at",
                "frozen_by",
            )
        ),
        *(f"accounts({c}):UPDATE" for c in ("frozen", "frozen_at", "frozen_by")),
        "account_freeze_events:SELECT",
        "account_freeze_events:INSERT",
        "dividends:SELECT",
        "dividends:INSERT",
    },
    "exchange_dividends": {
        "accounts(account_id):SELECT",
        "accounts(kind):SELECT",
        "dividends:SELECT",
        *(
            f"dividends({c}):UPDATE"
            for c in ("status", "paid_at", "holders", "total_paid", "tx_id")
        ),
        "dividend_payments:INSERT",
        "journal_tx(tx_id):SELECT",
        "journal_tx(created_at):SELECT",
        "journal_tx:INSERT",
        *(f"journal_entries({c}):SELECT" for c in ("tx_id", "account_id", "asset", "amount")),
        "journal_entries:INSERT",
        "balances:SELECT",
        "balances:INSERT",
        *(f"{c}:UPDATE" for c in BALANCE_WRITES),
    },
    # Reads only (exchange.operations.reconciliation), nothing else.
    "exchange_reconciliation": {
        *(
            f"reservations({c}):SELECT"
            for c in (
                "order_id",
                "account_id",
                "symbol",
                "side",
                "asset",
                "original_lots",
                "open_lots",
                "filled_lots",
                "held",
                "created_at",
                "updated_at",
            )
        ),
        "accounts(account_id):SELECT",
        "accounts(kind):SELECT",
        *(f"balances({c}):SELECT" for c in ("account_id", "asset", "available", "held")),
        *(f"deposits({c}):SELECT" for c in ("asset", "amount", "status")),
        *(f"withdrawals({c}):SELECT" for c in ("asset", "amount", "status")),
        *(
            f"settled_trades({c}):SELECT"
            for c in ("symbol", "seq", "settled_at", "maker_order_id", "taker_order_id")
        ),
        *(f"applied_events({c}):SELECT" for c in ("symbol", "seq", "order_id")),
        "journal_tx:SELECT",
        "journal_entries:SELECT",
        "dividends:SELECT",
        "dividend_payments:SELECT",
    },
}


def deposit(ledger: PostgresLedger, account_id: str, asset: str, amount: str) -> None:
    ledger.credit_deposit(
        DepositNotice(
            new_id("evt"), new_id("dep"), account_id, asset, Decimal(amount), "CREDITED", 0
        )
    )


def user(admin: PostgresLedger, **funds: str) -> str:
    account_id = new_id("acct")
    admin.open_account(account_id, kyc_status=KycStatus.VERIFIED)
    for asset, amount in funds.items():
        deposit(admin, account_id, asset, amount)
    return account_id


def granted(conn: psycopg.Connection[tuple[object, ...]], role: str) -> set[str]:
    tables = conn.execute(
        "SELECT c.relname, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a "
        "WHERE c.relnamespace = 'ledger'::regnamespace AND a.grantee = %s::regrole",
        (role,),
    ).fetchall()
    columns = conn.execute(
        "SELECT c.relname, att.attname, a.privilege_type "
        "FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid, aclexplode(att.attacl) a "
        "WHERE c.relnamespace = 'ledger'::regnamespace AND a.grantee = %s::regrole",
        (role,),
    ).fetchall()
    return {f"{t}:{p}" for t, p in tables} | {f"{t}({c}):{p}" for t, c, p in columns}


# -- the roles and their grants ------------------------------------------------------------------


def test_the_grants_table_covers_every_ledger_function_of_the_catalog() -> None:
    # (the migrations create exactly these roles: tests/unit/ledger/test_roles_registry.py)
    assert set(GRANTS) == set(LEDGER_ROLES)


def test_each_role_has_exactly_its_grants_and_no_power(pool: ConnectionPool) -> None:
    with pool.connection() as conn:
        for role in LEDGER_ROLES:
            assert granted(conn, role) == GRANTS[role], role
            powers = conn.execute(
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication, "
                "has_schema_privilege(rolname, 'ledger', 'CREATE'), "
                "has_schema_privilege(rolname, 'ledger', 'USAGE'), "
                "has_database_privilege(rolname, current_database(), 'CONNECT'), "
                "(SELECT count(*) FROM pg_class WHERE relowner = r.oid), "
                "(SELECT count(*) FROM pg_auth_members WHERE member = r.oid) "
                "FROM pg_roles r WHERE rolname = %s",
                (role,),
            ).fetchone()
            uses_schema = role != "exchange_health"
            assert powers == (False,) * 6 + (uses_schema, True, 0, 0), role


def test_another_database_migrates_with_the_roles_existing_and_downgrades_alone(
    postgres_url: str, pool: ConnectionPool
) -> None:
    name = f"ledger_test_{secrets.token_hex(4)}_roles"
    url = create_database(postgres_url, name)
    try:
        with psycopg.connect(url) as conn:
            # Given roles that another database created: the migration takes them as they are
            head = len(migrations.discover())
            assert migrations.upgrade(conn) == list(range(1, head + 1))
            assert {role: granted(conn, role) for role in LEDGER_ROLES} == GRANTS
            # When this database is downgraded, Then its grants go and the roles stay
            assert migrations.downgrade(conn, to=2) == list(range(head, 2, -1))
            assert all(granted(conn, role) == set() for role in LEDGER_ROLES)
            assert migrations.upgrade(conn) == list(range(3, head + 1))
        with pool.connection() as other:
            assert {role: granted(other, role) for role in LEDGER_ROLES} == GRANTS
    finally:
        drop_database(postgres_url, name)


def test_grant_logins_refuses_what_is_no_function_role(pool: ConnectionPool) -> None:
    with pool.connection() as conn:
        for name in ("postgres", "exchange_nobody", 'exchange_x"; DROP ROLE postgres; --'):
            with pytest.raises(UnknownRole):
                grant_logins(conn, {name: None})
        assert not conn.info.transaction_status  # nothing left open


# -- each role does its function's real work -----------------------------------------------------


def test_deposits_role_credits_a_deposit(
    ledger: PostgresLedger, as_role: Callable[[str], ConnectionPool]
) -> None:
    alice = user(ledger)
    deposit(ledger_as(as_role("exchange_deposits"), ledger.fee_account_id), alice, "USD", "12.5")
    assert [(b.asset, b.available) for b in ledger.balances(alice)] == [("USD", Decimal("12.5"))]


def test_orders_role_reserves_orders_and_amends(
    ledger: PostgresLedger, as_role: Callable[[str], ConnectionPool]
) -> None:
    alice = user(ledger, USD="1000", BTC="1")
    orders = ledger_as(as_role("exchange_orders"), ledger.fee_account_id)
    buy = order(alice, Side.BUY, qty=1000, price=100000)  # 0.1 BTC at 1,000.00
    assert orders.reserve(buy).held > 0
    assert orders.reserve(buy).held == orders.reserve(buy).held  # a retry holds nothing more
    assert orders.reserve(order(alice, Side.SELL, qty=1000, price=200000)).held == Decimal("0.1")
    assert orders.reserve_amend(amend(buy, new_id("cmd"), qty=2000)) > 0


def test_settlement_role_settles_trades_cancels_and_amends(
    ledger: PostgresLedger, as_role: Callable[[str], ConnectionPool]
) -> None:
    seller, buyer = user(ledger, BTC="1"), user(ledger, USD="1000")
    orders = ledger_as(as_role("exchange_orders"), ledger.fee_account_id)
    settlement = ledger_as(as_role("exchange_settlement"), ledger.fee_account_id)
    sell = order(seller, Side.SELL, qty=5000, price=100000)
    buy = order(buyer, Side.BUY, qty=2000, price=100000)
    orders.reserve(sell)
    orders.reserve(buy)
    command = new_id("cmd")
    orders.reserve_amend(amend(buy, command, qty=3000))
    amended = OrderAmended(
        symbol="BTC-USD",
        ts=1,
        seq=next_seq(),
        order_id=buy.order_id,
        account_id=buyer,
        command_id=command,
        price=100000,
        qty=3000,
        open_qty=3000,
    )
    cancel = OrderCancelled(
        symbol="BTC-USD",
        ts=1,
        seq=next_seq(),
        order_id=sell.order_id,
        account_id=seller,
        cancelled_qty=2000,
        reason=CancelReason.USER_REQUESTED,
    )
    fill = trade(sell, buy, price=100000, qty=3000)
    assert settlement.apply_events([amended, fill, cancel]) == [True, True, True]
    assert settlement.apply_events([amended, fill, cancel]) == [False, False, False]
    # A seq it settled, met again with other content, is read back and refused (its grants)
    with pytest.raises(SeqReused):
        settlement.apply_event(msgspec.structs.replace(fill, qty=1000))
    with pytest.raises(SeqReused):
        settlement.apply_event(msgspec.structs.replace(cancel, seq=fill.seq))
    held = {b.asset: b for b in ledger.balances(buyer)}
    assert held["BTC"].available == Decimal("0.3")
    assert held["USD"].held == 0


def test_dead_letters_role_releases_a_hold_and_its_pending_amend(
    ledger: PostgresLedger, as_role: Callable[[str], ConnectionPool]
) -> None:
    alice = user(ledger, USD="1000")
    buy = order(alice, Side.BUY, qty=1000, price=100000)
    orders = ledger_as(as_role("exchange_orders"), ledger.fee_account_id)
    orders.reserve(buy)
    orders.reserve_amend(amend(buy, new_id("cmd"), qty=2000))  # never answered: dead-lettered
    dead_letters = ledger_as(as_role("exchange_dead_letters"), ledger.fee_account_id)
    assert dead_letters.release(buy.order_id) > 0
    assert [(b.available, b.held) for b in ledger.balances(alice)] == [(Decimal(1000), Decimal(0))]


def test_account_role_reads_the_profile_balances_positions_and_withdraws(
    ledger: PostgresLedger, as_role: Callable[[str], ConnectionPool]
) -> None:
    alice = user(ledger, USD="100")
    pool = as_role("exchange_account")
    account = ledger_as(pool, ledger.fee_account_id)
    record = PostgresAccountDirectory(pool).account(alice)
    assert record is not None
    assert record.kyc_status is KycStatus.VERIFIED
    assert account.balances(alice)[0].available == Decimal("100")
    assert account.positions(alice).pnl == []
    target = destination(account, alice, "USD")  # the account function adds it, too
    withdrawal = account.request_withdrawal(
        new_id("wd"), alice, "USD", Decimal("40"), destination_id=target
    )
    assert withdrawal.amount == 40
    assert [d.destination_id for d in account.destinations(alice)] == [target]
    assert account.cancel_withdrawal(alice, withdrawal.withdrawal_id).status.final
    assert account.remove_destination(alice, target).removed_at is not None


def test_onboarding_role_opens_an_account_pending_and_keeps_an_existing_one(
    ledger: PostgresLedger, as_role: Callable[[str], ConnectionPool]
) -> None:
    opener = PostgresAccountOpener(as_role("exchange_onboarding"))
    directory = PostgresAccountDirectory(ledger.pool)
    fresh, verified = new_id("sub"), user(ledger)
    assert opener.open_user(fresh, email="new@example.com")
    assert not opener.open_user(fresh, email="other@example.com")  # Cognito's retry
    assert not opener.open_user(verified, email="old@example.com")
    assert directory.account(fresh) == AccountRecord(fresh, KycStatus.PENDING, "new@example.com")
    kept = directory.account(verified)
    assert kept is not None
    assert (kept.kyc_status, kept.email) == (KycStatus.VERIFIED, "old@example.com")


def test_kyc_role_decides_a_verdict(
    ledger: PostgresLedger, as_role: Callable[[str], ConnectionPool]
) -> None:
    account_id = new_id("sub")
    ledger.open_account(account_id)
    registry = PostgresKycRegistry(as_role("exchange_kyc"))
    verdict = KycDecision(
        account_id, KycStatus.VERIFIED, KycSource.PROVIDER, "kyc-provider", 100, None, new_id("e")
    )
    assert registry.decide(verdict).result is KycResult.APPLIED
    assert registry.decide(verdict).result is KycResult.DUPLICATE


def test_health_role_can_only_connect(as_role: Callable[[str], ConnectionPool]) -> None:
    with as_role("exchange_health").connection() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM ledger.accounts")


# -- and cannot overstep -------------------------------------------------------------------------

DEPOSITS_OVERSTEPS = [
    "ALTER TABLE ledger.journal_entries ADD COLUMN note text",
    "DROP TRIGGER journal_entries_append_only ON ledger.journal_entries",
    "ALTER TABLE ledger.journal_entries DISABLE TRIGGER journal_entries_append_only",
    "ALTER TABLE ledger.journal_tx DISABLE TRIGGER ALL",
    "UPDATE ledger.journal_entries SET amount = amount * 2",
    "DELETE FROM ledger.journal_tx",
    "TRUNCATE ledger.journal_entries",
    "CREATE TABLE ledger.mine (x int)",
    "CREATE FUNCTION ledger.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "DROP TABLE ledger.deposits",
    "UPDATE ledger.balances SET account_id = 'mine'",
    "UPDATE ledger.deposits SET amount = 1",
    "SELECT * FROM ledger.notification_preferences",  # (withdrawals: the payout webhook's)
    "GRANT SELECT ON ledger.notification_preferences TO PUBLIC",
    "UPDATE ledger.withdrawals SET amount = 1",
    "UPDATE ledger.withdrawals SET destination_id = 'mine'",
    "UPDATE ledger.outbox SET notice = '{}'",
    "DELETE FROM ledger.outbox",
]


@pytest.mark.parametrize("statement", DEPOSITS_OVERSTEPS)
def test_the_deposits_role_cannot_alter_the_ledger(
    statement: str, pool: ConnectionPool, as_role: Callable[[str], ConnectionPool]
) -> None:
    with as_role("exchange_deposits").connection() as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
        conn.rollback()
    with pool.connection() as admin:  # the journal and its guards are intact
        triggers = admin.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%%append_only' AND tgenabled = 'O'"
        ).fetchone()
    assert triggers == (len(APPEND_ONLY),)


@pytest.mark.parametrize("role", [r for r in LEDGER_ROLES if r != "exchange_kyc"])
def test_only_the_kyc_role_can_set_a_kyc_status(
    role: str, ledger: PostgresLedger, as_role: Callable[[str], ConnectionPool]
) -> None:
    account_id = new_id("sub")
    ledger.open_account(account_id)
    with as_role(role).connection() as conn:
        for statement, args in (
            (
                "UPDATE ledger.accounts SET kyc_status = 'VERIFIED' WHERE account_id = %s",
                (account_id,),
            ),
            (
                "INSERT INTO ledger.accounts (account_id, kyc_status) VALUES (%s, 'VERIFIED')",
                (new_id("sub"),),
            ),
            (
                "INSERT INTO ledger.accounts (account_id, kind) VALUES (%s, 'FEE')",
                (new_id("sub"),),
            ),
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement, args)
            conn.rollback()
    assert PostgresAccountDirectory(ledger.pool).kyc_status(account_id) is KycStatus.PENDING


def test_the_kyc_role_cannot_open_accounts_or_rewrite_kyc_history(
    ledger: PostgresLedger, as_role: Callable[[str], ConnectionPool]
) -> None:
    with as_role("exchange_kyc").connection() as conn:
        for statement in (
            "INSERT INTO ledger.accounts (account_id) VALUES ('forged')",
            "UPDATE ledger.accounts SET kind = 'FEE'",
            "UPDATE ledger.kyc_events SET applied = true",
            "DELETE FROM ledger.kyc_events",
            "UPDATE ledger.balances SET held = 0",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
