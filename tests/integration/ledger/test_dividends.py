"""Cash dividends on the real PostgreSQL: the holders of record at the record time, and only they,
are paid exactly once (twice run, and run concurrently), from the issuer, to the cent; an unfunded
issuer leaves the dividend declared; the books balance throughout.

Holders of record are every account holding the equity, so each test lists an equity of its own
(only the first uses the shipped demo equity, ACME): no test sees another's holders.
"""

import secrets
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from psycopg_pool import ConnectionPool

from exchange.domain import Instrument, InstrumentCatalog, Side
from exchange.domain.enums import AssetClass
from exchange.ledger import (
    Dividend,
    DividendConflict,
    DividendCredit,
    DividendDeclaration,
    DividendPayout,
    InvalidDividend,
    UnknownAccount,
)
from exchange.ledger.connection import open_pool
from exchange.ledger.postgres import PostgresLedger
from exchange.settings import DEFAULT_ASSET_SCALES
from tests.integration.ledger.test_conservation import check_books
from tests.unit.ledger.helpers import BTC, fund, new_id, order, trade, verified_account

PAY_AFTER = timedelta(seconds=5)


def equity(asset: str) -> Instrument:
    return Instrument(
        symbol=f"{asset}-USD",
        base=asset,
        quote="USD",
        tick_size=Decimal("0.01"),
        lot_size=Decimal("1"),
        min_qty=Decimal("1"),
        max_qty=Decimal("100000"),
        price_band_pct=Decimal("10"),
        taker_fee_bps=10,
        asset_class=AssetClass.EQUITY,
    )


def ledger_for(pool: ConnectionPool, fee_account_id: str, asset: str) -> PostgresLedger:
    return PostgresLedger(
        pool,
        instruments=InstrumentCatalog([BTC, equity(asset)]),
        asset_scales={**DEFAULT_ASSET_SCALES, asset: 0},
        fee_account_id=fee_account_id,
    )


def fresh_equity(ledger: PostgresLedger, pool: ConnectionPool) -> tuple[str, PostgresLedger]:
    asset = f"EQ{secrets.token_hex(3).upper()}"
    return asset, ledger_for(pool, ledger.fee_account_id, asset)


def database_time(pool: ConnectionPool) -> datetime:
    with pool.connection() as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    assert isinstance(row[0], datetime)
    return row[0]


def declaration(
    symbol: str, issuer: str, record_time: datetime, **changes: object
) -> DividendDeclaration:
    terms: dict[str, object] = {
        "dividend_id": new_id("div"),
        "symbol": symbol,
        "amount_per_unit": Decimal("0.25"),
        "record_time": record_time,
        "pay_time": record_time + PAY_AFTER,
        "issuer_account_id": issuer,
        "actor": "op-alice",
        "reason": "Q3 dividend",
    }
    return DividendDeclaration(**{**terms, **changes})  # type: ignore[arg-type]


def usd(ledger: PostgresLedger, account_id: str) -> Decimal:
    return sum((b.total for b in ledger.balances(account_id) if b.asset == "USD"), Decimal(0))


def sell_to(ledger: PostgresLedger, seller: str, buyer: str, units: int, symbol: str) -> None:
    """``seller`` sells ``units`` to ``buyer`` at 10.00 (the seller rests, the buyer takes)."""
    sell = order(seller, Side.SELL, qty=units, price=1000, symbol=symbol)
    buy = order(buyer, Side.BUY, qty=units, price=1000, symbol=symbol)
    ledger.reserve(sell)
    ledger.reserve(buy)
    assert ledger.apply_event(trade(sell, buy, price=1000, qty=units))


def pay_due(ledger: PostgresLedger, now: datetime, *dividends: Dividend) -> list[DividendPayout]:
    """What a run at ``now`` did with ``dividends`` (the session's other tests' dividends that
    are due are paid, or found unfunded, by the same run)."""
    ours = {d.dividend_id for d in dividends}
    return [p for p in ledger.pay_due_dividends(now, limit=1000) if p.dividend_id in ours]


def payments(pool: ConnectionPool, dividend_id: str) -> list[tuple[object, ...]]:
    with pool.connection() as conn:
        return conn.execute(
            "SELECT account_id, units, amount FROM ledger.dividend_payments "
            "WHERE dividend_id = %s ORDER BY account_id",
            (dividend_id,),
        ).fetchall()


def test_only_the_holders_of_record_are_paid_exactly_once(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    acme = ledger_for(pool, ledger.fee_account_id, "ACME")  # the shipped scale: whole shares
    # Given an issuer holding treasury shares, a holder, a seller and a later buyer
    issuer = verified_account(acme, USD="1000", ACME="1000")
    holder = verified_account(acme, USD="1000", ACME="4")
    seller = verified_account(acme, ACME="5")
    late = verified_account(acme, USD="1000")
    # And before the record time the seller sells all 5 shares to the holder (9 now)
    sell_to(acme, seller, holder, 5, "ACME-USD")
    record_time = database_time(pool)
    # And after it the late buyer buys 3 of them (the holder still held 9 at the record time)
    sell_to(acme, holder, late, 3, "ACME-USD")
    dividend = acme.declare_dividend(declaration("ACME-USD", issuer, record_time))
    assert (dividend.status, dividend.asset, dividend.unit_asset) == ("DECLARED", "USD", "ACME")
    usd_before = {a: usd(acme, a) for a in (issuer, holder, seller, late)}
    # When the payer runs before the pay time, Then nothing is due
    assert pay_due(acme, dividend.pay_time - timedelta(seconds=1), dividend) == []
    # When it runs at the pay time, and again
    first = pay_due(acme, dividend.pay_time, dividend)
    again = pay_due(acme, dividend.pay_time + timedelta(hours=1), dividend)
    # Then the holder of record alone was paid 9 x 0.25, once, from the issuer
    assert [(p.dividend_id, p.paid, p.holders, p.total) for p in first] == [
        (dividend.dividend_id, True, 1, Decimal("2.25"))
    ]
    assert again == []
    assert payments(pool, dividend.dividend_id) == [(holder, Decimal(9), Decimal("2.25"))]
    usd_after = {a: usd(acme, a) for a in (issuer, holder, seller, late)}
    assert {a: usd_after[a] - usd_before[a] for a in usd_after} == {
        issuer: Decimal("-2.25"),
        holder: Decimal("2.25"),
        seller: Decimal(0),
        late: Decimal(0),
    }
    # And the dividend is PAID, shown in the holder's positions, and the books balance
    (paid,) = acme.dividends("ACME-USD")
    assert (paid.status, paid.holders, paid.total_paid) == ("PAID", 1, Decimal("2.25"))
    assert paid.paid_at is not None
    assert acme.positions(holder).dividends == [
        DividendCredit(
            dividend.dividend_id,
            "ACME-USD",
            "USD",
            Decimal(9),
            Decimal("0.25"),
            Decimal("2.25"),
            paid.paid_at,
        )
    ]
    assert acme.positions(late).dividends == []
    check_books(pool)


def test_concurrent_payers_pay_each_dividend_once(
    ledger: PostgresLedger, pool: ConnectionPool, fresh_database: str
) -> None:
    asset, equities = fresh_equity(ledger, pool)
    symbol = f"{asset}-USD"
    issuer = verified_account(equities, USD="100")
    holders = [verified_account(equities, **{asset: str(n)}) for n in (1, 2, 3)]
    record_time = database_time(pool)
    dividends = [
        equities.declare_dividend(declaration(symbol, issuer, record_time)) for _ in range(3)
    ]
    pay_time = dividends[0].pay_time
    # When two payers, each on its own connections, run at the same moment
    pools = [open_pool(lambda: fresh_database, min_size=0, max_size=2) for _ in range(2)]
    payers = [ledger_for(p, ledger.fee_account_id, asset) for p in pools]
    start = threading.Barrier(2)
    results: list[list[DividendPayout]] = [[], []]

    def run(i: int) -> None:
        start.wait()
        results[i].extend(pay_due(payers[i], pay_time, *dividends))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for opened in pools:
        opened.close()
    # Then each dividend was paid by exactly one of them, to each holder once
    paid = sorted(p.dividend_id for r in results for p in r if p.paid)
    assert paid == sorted(d.dividend_id for d in dividends)
    for dividend in dividends:
        assert [row[0] for row in payments(pool, dividend.dividend_id)] == sorted(holders)
    assert usd(equities, issuer) == Decimal(100) - 3 * Decimal("1.50")
    check_books(pool)


def test_a_dividend_being_paid_is_skipped_by_another_payer(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    asset, equities = fresh_equity(ledger, pool)
    issuer = verified_account(equities, USD="100")
    holder = verified_account(equities, **{asset: "4"})
    dividend = equities.declare_dividend(declaration(f"{asset}-USD", issuer, database_time(pool)))
    with pool.connection() as other:
        # Given another payer holding the dividend's row
        other.execute(
            "SELECT 1 FROM ledger.dividends WHERE dividend_id = %s FOR UPDATE",
            (dividend.dividend_id,),
        )
        # Then this payer skips it rather than wait or pay it twice
        assert pay_due(equities, dividend.pay_time, dividend) == []
        other.rollback()
    assert [p.holders for p in pay_due(equities, dividend.pay_time, dividend)] == [1]
    assert payments(pool, dividend.dividend_id) == [(holder, Decimal(4), Decimal(1))]


def test_an_unfunded_issuer_leaves_the_dividend_declared_until_funded(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    asset, equities = fresh_equity(ledger, pool)
    issuer = verified_account(equities, USD="1")
    holder = verified_account(equities, **{asset: "10"})
    dividend = equities.declare_dividend(declaration(f"{asset}-USD", issuer, database_time(pool)))
    # When the issuer has 1.00 of the 2.50 due
    (unfunded,) = pay_due(equities, dividend.pay_time, dividend)
    # Then nothing is paid, the dividend stays DECLARED, and the run says so
    assert (unfunded.paid, unfunded.total, unfunded.holders) == (False, Decimal("2.5"), 1)
    assert "needs 2.5 USD" in unfunded.detail
    assert [d.status for d in equities.dividends(f"{asset}-USD")] == ["DECLARED"]
    assert payments(pool, dividend.dividend_id) == []
    assert (usd(equities, issuer), usd(equities, holder)) == (Decimal(1), Decimal(0))
    check_books(pool)
    # When the issuer is funded, Then the next run pays it
    fund(equities, issuer, "USD", "5")
    (payout,) = pay_due(equities, dividend.pay_time, dividend)
    assert (payout.paid, payout.total) == (True, Decimal("2.5"))
    assert (usd(equities, issuer), usd(equities, holder)) == (Decimal("3.5"), Decimal("2.5"))


def test_a_holder_whose_share_rounds_to_nothing_is_not_paid_and_the_rest_stays(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    asset, equities = fresh_equity(ledger, pool)
    issuer = verified_account(equities, USD="1")
    small, large = (verified_account(equities, **{asset: n}) for n in ("1", "7"))
    per_unit = Decimal("0.00000001")  # the USD scale's smallest amount
    dividend = equities.declare_dividend(
        declaration(f"{asset}-USD", issuer, database_time(pool), amount_per_unit=per_unit)
    )
    (payout,) = pay_due(equities, dividend.pay_time, dividend)
    assert (payout.holders, payout.total) == (2, Decimal("0.00000008"))
    assert payments(pool, dividend.dividend_id) == sorted(
        [(small, Decimal(1), Decimal("0.00000001")), (large, Decimal(7), Decimal("0.00000007"))]
    )


def test_declarations_the_ledger_cannot_pay_are_refused_with_nothing_written(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    asset, equities = fresh_equity(ledger, pool)
    symbol = f"{asset}-USD"
    issuer = verified_account(equities, USD="100")
    now = database_time(pool)
    for changes, error in (
        ({"symbol": "BTC-USD"}, "EQUITY only"),
        ({"symbol": "NOPE-USD"}, "no instrument"),
        ({"amount_per_unit": Decimal("0")}, "positive"),
        ({"amount_per_unit": Decimal("0.000000001")}, "finer than"),
        ({"pay_time": now}, "at least 5 s after"),
        ({"record_time": now - timedelta(minutes=5)}, "in the past"),
        ({"pay_time": (now + PAY_AFTER).replace(tzinfo=None)}, "time zone"),
        ({"reason": ""}, "reason"),
    ):
        with pytest.raises(InvalidDividend, match=error):
            equities.declare_dividend(replace(declaration(symbol, issuer, now), **changes))
    for unknown in (new_id("nobody"), "external"):
        with pytest.raises(UnknownAccount):
            equities.declare_dividend(declaration(symbol, unknown, now))
    assert equities.dividends(symbol) == []


def test_a_retried_declaration_returns_the_first_and_other_terms_conflict(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    asset, equities = fresh_equity(ledger, pool)
    issuer = verified_account(equities, USD="100")
    declared = declaration(f"{asset}-USD", issuer, database_time(pool))
    first = equities.declare_dividend(declared)
    assert equities.declare_dividend(declared) == first
    with pytest.raises(DividendConflict, match="other terms"):
        equities.declare_dividend(replace(declared, amount_per_unit=Decimal("0.5")))
    assert equities.dividends(f"{asset}-USD") == [first]
