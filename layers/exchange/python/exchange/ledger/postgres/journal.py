"""Posting movements: the one place that writes the journal and changes balances."""

from decimal import Decimal

from psycopg import Cursor
from psycopg.errors import CheckViolation

from exchange.ledger.errors import InsufficientFunds, LedgerInconsistency
from exchange.ledger.money import add, show
from exchange.ledger.movements import Movement, balance_deltas

Row = tuple[object, ...]

_INSERT_JOURNAL = """
WITH tx AS (
    INSERT INTO ledger.journal_tx (kind, reference, symbol, seq)
    VALUES (%s, %s, %s, %s) RETURNING tx_id
), entries AS (
    INSERT INTO ledger.journal_entries (tx_id, account_id, asset, bucket, amount)
    SELECT tx.tx_id, e.account_id, e.asset, e.bucket, e.amount
    FROM tx, unnest(%s::text[], %s::text[], %s::text[], %s::numeric[])
        AS e(account_id, asset, bucket, amount)
)
SELECT tx_id FROM tx
"""

_LOCK_BALANCES = """
SELECT b.account_id, b.asset, b.available, b.held
FROM ledger.balances b
JOIN unnest(%s::text[], %s::text[]) AS k(account_id, asset)
  ON b.account_id = k.account_id AND b.asset = k.asset
ORDER BY b.account_id, b.asset
FOR UPDATE OF b
"""

_UPDATE_BALANCES = """
UPDATE ledger.balances b
SET available = b.available + d.available, held = b.held + d.held, updated_at = now()
FROM unnest(%s::text[], %s::text[], %s::numeric[], %s::numeric[])
    AS d(account_id, asset, available, held)
WHERE b.account_id = d.account_id AND b.asset = d.asset
"""

_INSERT_BALANCE = """
INSERT INTO ledger.balances AS b (account_id, asset, available, held) VALUES (%s, %s, %s, %s)
ON CONFLICT (account_id, asset) DO UPDATE
SET available = b.available + EXCLUDED.available, held = b.held + EXCLUDED.held,
    updated_at = now()
"""


def post(
    cur: Cursor[Row],
    *,
    kind: str,
    reference: str,
    movements: list[Movement],
    symbol: str | None = None,
    seq: int | None = None,
    apply_balances: bool = True,
) -> int | None:
    """Write the movements as one journal transaction and apply them to the balances.

    Returns the transaction id, or None when nothing moved. Raises InsufficientFunds, naming the
    account, asset, amount and what is available, when a balance would go below zero.
    """
    if not movements:
        return None
    accounts: list[str] = []
    assets: list[str] = []
    buckets: list[str] = []
    amounts: list[Decimal] = []
    for m in movements:
        for pocket, amount in ((m.source, -m.amount), (m.target, m.amount)):
            accounts.append(pocket.account_id)
            assets.append(m.asset)
            buckets.append(pocket.bucket.value)
            amounts.append(amount)
    row = cur.execute(
        _INSERT_JOURNAL, (kind, reference, symbol, seq, accounts, assets, buckets, amounts)
    ).fetchone()
    assert row is not None  # noqa: S101 - INSERT ... RETURNING always returns the row
    tx_id = int(str(row[0]))
    if apply_balances:
        _apply(cur, balance_deltas(movements))
    return tx_id


def _apply(cur: Cursor[Row], deltas: dict[tuple[str, str], tuple[Decimal, Decimal]]) -> None:
    keys = sorted(k for k, (available, held) in deltas.items() if available != 0 or held != 0)
    if not keys:
        return
    locked = cur.execute(_LOCK_BALANCES, ([k[0] for k in keys], [k[1] for k in keys])).fetchall()
    current = {(str(r[0]), str(r[1])): (_dec(r[2]), _dec(r[3])) for r in locked}
    for key in keys:
        available, held = current.get(key, (Decimal(0), Decimal(0)))
        delta_available, delta_held = deltas[key]
        if add(available, delta_available) < 0:
            raise InsufficientFunds(
                f"account {key[0]} needs {show(-delta_available)} {key[1]}, "
                f"available {show(available)}"
            )
        if add(held, delta_held) < 0:
            raise LedgerInconsistency(
                f"account {key[0]} would hold {show(add(held, delta_held))} {key[1]}"
            )
    existing = [k for k in keys if k in current]
    try:
        if existing:
            cur.execute(
                _UPDATE_BALANCES,
                (
                    [k[0] for k in existing],
                    [k[1] for k in existing],
                    [deltas[k][0] for k in existing],
                    [deltas[k][1] for k in existing],
                ),
            )
        for key in keys:
            if key not in current:
                cur.execute(_INSERT_BALANCE, (key[0], key[1], *deltas[key]))
    except CheckViolation as exc:  # the database's own guard; the checks above should win
        raise InsufficientFunds(f"a balance would go negative: {exc.diag.message_primary}") from exc


def _dec(value: object) -> Decimal:
    assert isinstance(value, Decimal)  # noqa: S101 - NUMERIC columns read as Decimal
    return value


def hold_funds(cur: Cursor[Row], *, account_id: str, asset: str, amount: Decimal) -> None:
    """Move ``amount`` from available to held in one conditional UPDATE: concurrent holds can
    never take ``available`` below zero, and there is no read-then-write window."""
    row = cur.execute(
        "UPDATE ledger.balances SET available = available - %(a)s, held = held + %(a)s, "
        "updated_at = now() "
        "WHERE account_id = %(acct)s AND asset = %(asset)s AND available >= %(a)s "
        "RETURNING available",
        {"a": amount, "acct": account_id, "asset": asset},
    ).fetchone()
    if row is None:
        found = cur.execute(
            "SELECT available FROM ledger.balances WHERE account_id = %s AND asset = %s",
            (account_id, asset),
        ).fetchone()
        available = _dec(found[0]) if found else Decimal(0)
        raise InsufficientFunds(
            f"account {account_id} needs {show(amount)} {asset}, available {show(available)}"
        )
