"""Dividends on PostgreSQL (rules: ``ledger.dividends``): declared by the admin function's role,
paid by the dividends function's.

Paying a dividend is one transaction: lock its row (``FOR UPDATE SKIP LOCKED``, still DECLARED:
a concurrent payer skips it, and one that comes after sees it PAID), sum the holders of record
from the journal, post every credit from the issuer in one journal transaction, insert the
payments (their primary key, ``(dividend_id, account_id)``, refuses a second payment outright)
and mark it PAID. An issuer short of the total makes the posting raise InsufficientFunds; it is
undone to a savepoint, and the dividend stays DECLARED.
"""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from psycopg import Cursor

from exchange.ledger.dividends import (
    Dividend,
    DividendDeclaration,
    DividendPayout,
    DividendStatus,
    payout_amounts,
)
from exchange.ledger.errors import DividendConflict, InsufficientFunds, UnknownAccount
from exchange.ledger.model import DividendCredit
from exchange.ledger.money import add, scale_of, show, to_scale
from exchange.ledger.movements import Bucket, Pocket, move
from exchange.ledger.postgres.journal import post

Row = tuple[object, ...]

_COLUMNS = (
    "dividend_id, symbol, amount_per_unit, record_time, pay_time, issuer_account_id, "
    "declared_by, reason, asset, unit_asset, status, declared_at, paid_at, holders, total_paid"
)

# The holders of record: each user account's settled units at the record time, summed from the
# journal (both buckets: held units are still owned), the issuer's own left out.
_HOLDERS = """
SELECT e.account_id, sum(e.amount)
FROM ledger.journal_entries e
JOIN ledger.journal_tx t ON t.tx_id = e.tx_id
JOIN ledger.accounts a ON a.account_id = e.account_id
WHERE e.asset = %(asset)s AND t.created_at <= %(record_time)s
  AND a.kind = 'USER' AND e.account_id <> %(issuer)s
GROUP BY e.account_id
HAVING sum(e.amount) > 0
"""


def _dividend(row: Row, scales: Mapping[str, int]) -> Dividend:
    (
        dividend_id,
        symbol,
        per_unit,
        record_time,
        pay_time,
        issuer,
        actor,
        reason,
        asset,
        unit_asset,
        status,
        declared_at,
        paid_at,
        holders,
        total,
    ) = row
    assert isinstance(per_unit, Decimal)  # noqa: S101 - NUMERIC columns read as Decimal
    assert isinstance(record_time, datetime)  # noqa: S101 - timestamptz reads as datetime
    assert isinstance(pay_time, datetime)  # noqa: S101
    assert isinstance(declared_at, datetime)  # noqa: S101
    assert paid_at is None or isinstance(paid_at, datetime)  # noqa: S101
    assert total is None or isinstance(total, Decimal)  # noqa: S101
    scale = scale_of(scales, str(asset))
    return Dividend(
        dividend_id=str(dividend_id),
        symbol=str(symbol),
        amount_per_unit=to_scale(per_unit, scale),
        record_time=record_time,
        pay_time=pay_time,
        issuer_account_id=str(issuer),
        actor=str(actor),
        reason=str(reason),
        asset=str(asset),
        unit_asset=str(unit_asset),
        status=_status(status),
        declared_at=declared_at,
        paid_at=paid_at,
        holders=None if holders is None else int(str(holders)),
        total_paid=None if total is None else to_scale(total, scale),
    )


def _status(value: object) -> DividendStatus:
    return "PAID" if value == "PAID" else "DECLARED"


def database_now(cur: Cursor[Row]) -> datetime:
    """The transaction's time on the database's clock (the journal's clock)."""
    row = cur.execute("SELECT now()").fetchone()
    assert row is not None  # noqa: S101 - SELECT now() returns a row
    moment = row[0]
    assert isinstance(moment, datetime)  # noqa: S101 - timestamptz reads as datetime
    return moment


def declare(
    cur: Cursor[Row],
    declaration: DividendDeclaration,
    *,
    amount_per_unit: Decimal,
    asset: str,
    unit_asset: str,
    scales: Mapping[str, int],
) -> Dividend:
    """Insert the (checked) dividend once; the same id declared meanwhile returns it when its
    terms are the same, else raises DividendConflict. UnknownAccount for an issuer that is not
    an account with balances (the external account has none)."""
    d = declaration
    issuer = cur.execute(
        "SELECT kind FROM ledger.accounts WHERE account_id = %s", (d.issuer_account_id,)
    ).fetchone()
    if issuer is None or issuer[0] == "EXTERNAL":
        raise UnknownAccount(f"no issuer account {d.issuer_account_id!r}")
    row = cur.execute(
        "INSERT INTO ledger.dividends (dividend_id, symbol, unit_asset, asset, amount_per_unit, "  # noqa: S608 - fixed columns
        "record_time, pay_time, issuer_account_id, declared_by, reason) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        f"ON CONFLICT (dividend_id) DO NOTHING RETURNING {_COLUMNS}",
        (
            d.dividend_id,
            d.symbol,
            unit_asset,
            asset,
            amount_per_unit,
            d.record_time,
            d.pay_time,
            d.issuer_account_id,
            d.actor,
            d.reason,
        ),
    ).fetchone()
    if row is not None:
        return _dividend(row, scales)
    existing = find(cur, d.dividend_id, scales)
    assert existing is not None  # noqa: S101 - the insert just conflicted on it
    return same_or_conflict(existing, d)


def same_or_conflict(existing: Dividend, declaration: DividendDeclaration) -> Dividend:
    """``existing`` when ``declaration`` is a retry of it, else DividendConflict."""
    if not existing.same_terms(declaration):
        raise DividendConflict(
            f"dividend {existing.dividend_id} was declared with other terms: {existing.symbol} "
            f"{show(existing.amount_per_unit)} {existing.asset} per unit, record "
            f"{existing.record_time.isoformat()}, pay {existing.pay_time.isoformat()}, issuer "
            f"{existing.issuer_account_id}"
        )
    return existing


def find(cur: Cursor[Row], dividend_id: str, scales: Mapping[str, int]) -> Dividend | None:
    row = cur.execute(
        f"SELECT {_COLUMNS} FROM ledger.dividends WHERE dividend_id = %s",  # noqa: S608
        (dividend_id,),
    ).fetchone()
    return None if row is None else _dividend(row, scales)


def listed(cur: Cursor[Row], symbol: str | None, scales: Mapping[str, int]) -> list[Dividend]:
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM ledger.dividends "  # noqa: S608 - fixed columns
        "WHERE %(symbol)s::text IS NULL OR symbol = %(symbol)s ORDER BY pay_time, dividend_id",
        {"symbol": symbol},
    ).fetchall()
    return [_dividend(row, scales) for row in rows]


def due(cur: Cursor[Row], now: datetime, limit: int) -> list[str]:
    """The DECLARED dividends whose pay time has come, oldest first (unlocked)."""
    rows = cur.execute(
        "SELECT dividend_id FROM ledger.dividends WHERE status = 'DECLARED' AND pay_time <= %s "
        "ORDER BY pay_time, dividend_id LIMIT %s",
        (now, limit),
    ).fetchall()
    return [str(row[0]) for row in rows]


def pay(
    cur: Cursor[Row], dividend_id: str, *, now: datetime, scales: Mapping[str, int]
) -> DividendPayout | None:
    """Pay one due dividend in the caller's transaction; None when it is not (or no longer)
    DECLARED and due, or another transaction is paying it."""
    row = cur.execute(
        f"SELECT {_COLUMNS} FROM ledger.dividends "  # noqa: S608 - fixed columns
        "WHERE dividend_id = %s AND status = 'DECLARED' AND pay_time <= %s "
        "FOR UPDATE SKIP LOCKED",
        (dividend_id, now),
    ).fetchone()
    if row is None:
        return None
    dividend = _dividend(row, scales)
    units = holders_of_record(cur, dividend)
    amounts = payout_amounts(
        units, dividend.amount_per_unit, scale=scale_of(scales, dividend.asset)
    )
    total = add(*amounts.values())
    issuer = Pocket(dividend.issuer_account_id, Bucket.AVAILABLE)
    movements = [
        m
        for account_id, amount in amounts.items()
        for m in move(dividend.asset, amount, issuer, Pocket(account_id, Bucket.AVAILABLE))
    ]
    try:
        with cur.connection.transaction():  # a savepoint: an unfunded posting is undone alone
            tx_id = post(
                cur,
                kind="DIVIDEND",
                reference=dividend.dividend_id,
                movements=movements,
                symbol=dividend.symbol,
            )
    except InsufficientFunds as exc:
        return DividendPayout(
            dividend.dividend_id,
            dividend.symbol,
            dividend.asset,
            paid=False,
            holders=len(amounts),
            total=total,
            detail=str(exc),
        )
    if amounts:
        cur.executemany(
            "INSERT INTO ledger.dividend_payments (dividend_id, account_id, units, amount, tx_id) "
            "VALUES (%s, %s, %s, %s, %s)",
            [(dividend_id, a, units[a], amount, tx_id) for a, amount in amounts.items()],
        )
    cur.execute(
        "UPDATE ledger.dividends SET status = 'PAID', paid_at = now(), holders = %s, "
        "total_paid = %s, tx_id = %s WHERE dividend_id = %s",
        (len(amounts), total, tx_id, dividend_id),
    )
    return DividendPayout(
        dividend.dividend_id,
        dividend.symbol,
        dividend.asset,
        paid=True,
        holders=len(amounts),
        total=total,
    )


def holders_of_record(cur: Cursor[Row], dividend: Dividend) -> dict[str, Decimal]:
    """Each holder of record's units (see ``ledger.dividends``)."""
    rows = cur.execute(
        _HOLDERS,
        {
            "asset": dividend.unit_asset,
            "record_time": dividend.record_time,
            "issuer": dividend.issuer_account_id,
        },
    ).fetchall()
    units: dict[str, Decimal] = {}
    for account_id, held in rows:
        assert isinstance(held, Decimal)  # noqa: S101 - NUMERIC sums read as Decimal
        units[str(account_id)] = held
    return units


def credits(cur: Cursor[Row], account_id: str, scales: Mapping[str, int]) -> list[DividendCredit]:
    """The dividends paid to the account, newest first."""
    rows = cur.execute(
        "SELECT p.dividend_id, d.symbol, d.asset, d.unit_asset, p.units, d.amount_per_unit, "
        "p.amount, d.paid_at FROM ledger.dividend_payments p "
        "JOIN ledger.dividends d ON d.dividend_id = p.dividend_id "
        "WHERE p.account_id = %s ORDER BY d.paid_at DESC, p.dividend_id",
        (account_id,),
    ).fetchall()
    found: list[DividendCredit] = []
    for dividend_id, symbol, asset, unit_asset, units, per_unit, amount, paid_at in rows:
        assert isinstance(units, Decimal)  # noqa: S101 - NUMERIC columns read as Decimal
        assert isinstance(per_unit, Decimal)  # noqa: S101
        assert isinstance(amount, Decimal)  # noqa: S101
        assert isinstance(paid_at, datetime)  # noqa: S101 - a payment's dividend is PAID
        scale = scale_of(scales, str(asset))
        found.append(
            DividendCredit(
                dividend_id=str(dividend_id),
                symbol=str(symbol),
                asset=str(asset),
                units=to_scale(units, scale_of(scales, str(unit_asset))),
                amount_per_unit=to_scale(per_unit, scale),
                amount=to_scale(amount, scale),
                paid_at=paid_at,
            )
        )
    return found
