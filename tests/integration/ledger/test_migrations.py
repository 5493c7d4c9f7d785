"""The schema migrates from empty to head and back, and the journal defends itself."""

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from exchange.ledger import migrations
from exchange.ledger.migrations import MigrationError
from exchange.ledger.migrations.__main__ import main as migrate_main

TABLES = {
    "accounts",
    "balances",
    "journal_tx",
    "journal_entries",
    "reservations",
    "settled_trades",
    "applied_events",
    "webhook_events",
    "deposits",
    "withdrawals",
    "amend_holds",
    "kyc_events",
    "account_freeze_events",
    "fee_schedule",
    "dividends",
    "dividend_payments",
    "withdrawal_destinations",
    "outbox",
    "notification_preferences",
}
AFTER_0004 = {"withdrawal_destinations", "outbox", "notification_preferences"}


def tables(conn: psycopg.Connection[tuple[object, ...]]) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'ledger'"
    ).fetchall()
    conn.commit()
    return {str(r[0]) for r in rows} - {"schema_migrations"}


def test_upgrade_from_empty_to_head_then_downgrade_to_empty(empty_database: str) -> None:
    head = len(migrations.discover())
    with psycopg.connect(empty_database) as conn:
        # Given an empty database
        assert migrations.current(conn) == 0
        # When it is upgraded to head (twice: the second is a no-op)
        assert migrations.upgrade(conn) == list(range(1, head + 1))
        assert migrations.upgrade(conn) == []
        # Then every table is there
        assert migrations.current(conn) == head
        assert tables(conn) == TABLES
        # When it is downgraded to 0, Then they are gone, and it can be upgraded again
        assert migrations.downgrade(conn, to=0) == list(range(head, 0, -1))
        assert tables(conn) == set()
        assert migrations.current(conn) == 0
        assert migrations.upgrade(conn) == list(range(1, head + 1))


def test_an_applied_migration_that_changed_is_refused(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(empty_database) as conn:
        migrations.upgrade(conn)
        edited = [
            migrations.Migration(m.version, m.name, m.up + "\n-- edited", m.down)
            for m in migrations.discover()
        ]
        monkeypatch.setattr(migrations, "discover", lambda: edited)
        with pytest.raises(MigrationError, match="changed after it was applied"):
            migrations.upgrade(conn)


def test_journal_is_append_only(pool: ConnectionPool) -> None:
    with pool.connection() as conn:
        for statement in (
            "UPDATE ledger.journal_entries SET amount = amount * 2",
            "DELETE FROM ledger.journal_tx",
            "TRUNCATE ledger.journal_entries",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
            conn.rollback()


def _commit_one_sided_entry(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    with conn.transaction():
        tx = conn.execute(
            "INSERT INTO ledger.journal_tx (kind, reference) VALUES ('TEST', 'x') RETURNING tx_id"
        ).fetchone()
        assert tx is not None
        conn.execute(
            "INSERT INTO ledger.journal_entries (tx_id, account_id, asset, bucket, amount) "
            "VALUES (%s, 'external', 'USD', 'AVAILABLE', 1)",
            (tx[0],),
        )


def test_an_unbalanced_journal_transaction_cannot_be_written(pool: ConnectionPool) -> None:
    # Given one entry with no opposite; When it is inserted; Then the database refuses it
    with (
        pool.connection() as conn,
        pytest.raises(psycopg.errors.CheckViolation, match="does not sum to zero"),
    ):
        _commit_one_sided_entry(conn)


def test_the_migration_command_reports_the_version(
    empty_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert migrate_main(["upgrade", "--url", empty_database]) == 0
    assert f"current: {len(migrations.discover())}" in capsys.readouterr().out


def test_amend_holds_migration_backfills_filled_lots_and_keeps_pending_holds(
    empty_database: str,
) -> None:
    with psycopg.connect(empty_database) as conn:
        migrations.downgrade(conn, to=0)
        # Given the schema before amend holds, with an order half filled over two trades
        migrations.upgrade(conn, to=1)
        conn.execute(
            "INSERT INTO ledger.accounts (account_id, kyc_status) VALUES ('a', 'VERIFIED')"
        )
        conn.execute(
            "INSERT INTO ledger.reservations (order_id, account_id, symbol, side, asset, "
            "limit_ticks, original_lots, open_lots, held, max_fee_bps) VALUES "
            "('o', 'a', 'BTC-USD', 'BUY', 'USD', 100, 10, 5, 5, 0), "
            "('m', 'a', 'BTC-USD', 'SELL', 'BTC', NULL, 10, 10, 1, 0)"
        )
        conn.execute(
            "INSERT INTO ledger.settled_trades (symbol, seq, maker_order_id, taker_order_id, "
            "maker_account_id, taker_account_id, aggressor_side, price_ticks, qty_lots) VALUES "
            "('BTC-USD', 1, 'x', 'o', 'b', 'a', 'BUY', 100, 2), "
            "('BTC-USD', 2, 'o', 'y', 'a', 'b', 'SELL', 100, 3)"
        )
        conn.commit()
        # When it is upgraded, Then each order's filled lots come from its settled trades
        assert migrations.upgrade(conn, to=2) == [2]
        filled = conn.execute("SELECT order_id, filled_lots FROM ledger.reservations").fetchall()
        assert sorted(filled) == [("m", 0), ("o", 5)]
        # And a downgrade is refused while an amend's increase is still held
        conn.execute(
            "INSERT INTO ledger.amend_holds (command_id, order_id, account_id, asset, held) "
            "VALUES ('c', 'o', 'a', 'USD', 1)"
        )
        conn.commit()
        with pytest.raises(psycopg.errors.ObjectInUse, match="pending amend holds"):
            migrations.downgrade(conn, to=1)
        conn.rollback()
        assert migrations.current(conn) == 2
        conn.execute("UPDATE ledger.amend_holds SET status = 'RELEASED', resolved_at = now()")
        conn.commit()
        assert migrations.downgrade(conn, to=0) == [2, 1]


def test_operator_controls_migration_is_not_undone_while_a_dividend_is_unpaid(
    empty_database: str,
) -> None:
    with psycopg.connect(empty_database) as conn:
        migrations.downgrade(conn, to=0)
        migrations.upgrade(conn, to=4)
        # Given a declared dividend not yet paid
        conn.execute(
            "INSERT INTO ledger.accounts (account_id, kyc_status) VALUES ('i', 'VERIFIED')"
        )
        conn.execute(
            "INSERT INTO ledger.dividends (dividend_id, symbol, unit_asset, asset, "
            "amount_per_unit, record_time, pay_time, issuer_account_id, declared_by, reason) "
            "VALUES ('d', 'ACME-USD', 'ACME', 'USD', 1, now(), now() + interval '1 day', 'i', "
            "'op', 'q3')"
        )
        conn.commit()
        # When the schema is taken back below 0004, Then it is refused and nothing changes
        with pytest.raises(psycopg.errors.ObjectInUse, match="declared, unpaid dividends"):
            migrations.downgrade(conn, to=3)
        conn.rollback()
        assert migrations.current(conn) == 4
        # And once it is paid, the downgrade goes through
        conn.execute(
            "UPDATE ledger.dividends SET status = 'PAID', paid_at = now(), holders = 0, "
            "total_paid = 0"
        )
        conn.commit()
        assert migrations.downgrade(conn, to=3) == [4]
        assert tables(conn) == TABLES - {
            "account_freeze_events",
            "fee_schedule",
            "dividends",
            "dividend_payments",
            *AFTER_0004,
        }
        migrations.downgrade(conn, to=0)


def test_payouts_migration_is_not_undone_while_a_payout_is_in_flight(empty_database: str) -> None:
    with psycopg.connect(empty_database) as conn:
        migrations.downgrade(conn, to=0)
        migrations.upgrade(conn)
        # Given a withdrawal sent to the provider, one cancelled and one pending, to a destination
        conn.execute(
            "INSERT INTO ledger.accounts (account_id, kyc_status) VALUES ('a', 'VERIFIED')"
        )
        conn.execute(
            "INSERT INTO ledger.withdrawal_destinations (destination_id, account_id, asset, kind, "
            "address, usable_at) VALUES ('d', 'a', 'USD', 'BANK', 'GB82WEST1234', now())"
        )
        conn.execute(
            "INSERT INTO ledger.withdrawals (withdrawal_id, account_id, asset, amount, status, "
            "destination_id) VALUES ('s', 'a', 'USD', 1, 'SENDING', 'd'), "
            "('c', 'a', 'USD', 2, 'CANCELLED', 'd'), ('p', 'a', 'USD', 3, 'PENDING', 'd')"
        )
        conn.execute('INSERT INTO ledger.outbox (notice) VALUES (\'{"kind": "DEPOSIT"}\')')
        stamped = conn.execute("SELECT id, notice->>'notice_id' FROM ledger.outbox").fetchone()
        conn.commit()
        assert stamped is not None
        assert stamped[1] == f"ledger#{stamped[0]}"  # the trigger names each notice by its row
        # When the schema is taken back below 0005, Then it is refused and nothing changes
        with pytest.raises(psycopg.errors.ObjectInUse, match="payouts in flight"):
            migrations.downgrade(conn, to=4)
        conn.rollback()
        assert migrations.current(conn) == 5
        # And once the payout finished, it goes through: a cancel reads as the old FAILED
        conn.execute("UPDATE ledger.withdrawals SET status = 'COMPLETED' WHERE withdrawal_id = 's'")
        conn.commit()
        assert migrations.downgrade(conn, to=4) == [5]
        rows = conn.execute(
            "SELECT withdrawal_id, status FROM ledger.withdrawals ORDER BY withdrawal_id"
        ).fetchall()
        assert rows == [("c", "FAILED"), ("p", "PENDING"), ("s", "COMPLETED")]
        assert tables(conn) == TABLES - {
            "withdrawal_destinations",
            "outbox",
            "notification_preferences",
        }
        # And it can be upgraded again
        assert migrations.upgrade(conn) == list(range(5, len(migrations.discover()) + 1))
        migrations.downgrade(conn, to=0)
