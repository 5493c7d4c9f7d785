"""``PostgresStatements``: ``exchange.ledger.statements.StatementsPort`` on PostgreSQL, mixed into
``PostgresLedger``. Statements are read from the journal alone, so they reconcile with the balances
by construction (a balance is the sum of its account's entries).

A line is a group ``(tx, kind, asset)`` of the account's entries whose sum is not zero. ``post``
writes each movement as two consecutive entries (its source, negative, then its target, positive),
so an entry's counterparty is the entry written next to it in the same transaction; the kind
follows from it:

- the external account on the other side: DEPOSIT (money in) or WITHDRAWAL (money out: the hold
  debited at completion); a hold or its release moves between the account's own available and
  held balances, nets to zero and makes no line;
- in a TRADE, the fee account on the other side: FEE when money goes to it, REBATE when it comes
  from it (seen from the fee account itself: the fees it takes and the rebates it pays);
- otherwise TRADE, DIVIDEND by the transaction's kind, and ADJUSTMENT for anything else.

One page: the account's transactions walked in ``tx_id`` order along the index on
``journal_entries (account_id, tx_id)``, each classified where it stands (a lateral subquery over
its own entries), filtered by time, and cut after ``limit`` lines, so a page reads what it shows
(and the transactions it skips over), not the account's whole history. ``balance_after`` is the
running sum per asset: the account's total before the page's first transaction, plus the lines
from there on, in order. All of it is read in one REPEATABLE READ snapshot.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from psycopg import Cursor, sql

from exchange.ledger.errors import UnknownAccount
from exchange.ledger.money import ZERO, add, to_scale
from exchange.ledger.movements import EXTERNAL_ACCOUNT
from exchange.ledger.statements import (
    MovementKind,
    StatementLine,
    StatementPage,
    StatementPosition,
    StatementQuery,
    StatementsPort,
)

Row = tuple[object, ...]

_FIRST_TX: Final = 0
_LAST_TX: Final = 2**63 - 1

# The counterparty of an entry: the next entry of its transaction for a source (negative), the
# previous one for a target (positive). A transaction has a handful of entries, read through the
# index on journal_entries (tx_id).
_PARTNER: Final = """
CASE WHEN e.amount < 0 THEN (
    SELECT o.account_id FROM ledger.journal_entries o
    WHERE o.tx_id = e.tx_id AND o.entry_id > e.entry_id ORDER BY o.entry_id LIMIT 1
) ELSE (
    SELECT o.account_id FROM ledger.journal_entries o
    WHERE o.tx_id = e.tx_id AND o.entry_id < e.entry_id ORDER BY o.entry_id DESC LIMIT 1
) END
"""

# %(is_fee)s: whether the account is the fee account (its fees come in, its rebates go out).
_KIND: Final = """
CASE
    WHEN p.partner = %(external)s THEN
        CASE WHEN p.amount > 0 THEN 'DEPOSIT' ELSE 'WITHDRAWAL' END
    WHEN p.tx_kind = 'TRADE' AND (p.partner = %(fee)s) <> %(is_fee)s THEN
        CASE WHEN (p.amount < 0) <> %(is_fee)s THEN 'FEE' ELSE 'REBATE' END
    WHEN p.tx_kind = 'TRADE' THEN 'TRADE'
    WHEN p.tx_kind = 'DIVIDEND' THEN 'DIVIDEND'
    ELSE 'ADJUSTMENT'
END
"""

_LINES: Final = """
SELECT x.tx_id, l.kind, l.asset, l.amount, x.created_at, x.reference, x.symbol, x.seq
FROM ledger.journal_entries f
JOIN ledger.journal_tx x ON x.tx_id = f.tx_id
CROSS JOIN LATERAL (
    SELECT k.kind, k.asset, sum(k.amount) AS amount
    FROM (
        SELECT p.asset, p.amount, {kind} AS kind
        FROM (
            SELECT e.asset, e.amount, x.kind AS tx_kind, {partner} AS partner
            FROM ledger.journal_entries e
            WHERE e.account_id = %(account)s AND e.tx_id = x.tx_id
              AND (%(asset)s::text IS NULL OR e.asset = %(asset)s)
        ) p
    ) k
    GROUP BY k.kind, k.asset
    HAVING sum(k.amount) <> 0
) l
WHERE f.account_id = %(account)s AND f.tx_id BETWEEN %(lo)s AND %(hi)s
  AND (%(asset)s::text IS NULL OR f.asset = %(asset)s)
  AND NOT EXISTS (  -- f: the account's first entry in the transaction
      SELECT 1 FROM ledger.journal_entries g
      WHERE g.account_id = %(account)s AND g.tx_id = f.tx_id AND g.entry_id < f.entry_id
        AND (%(asset)s::text IS NULL OR g.asset = %(asset)s)
  )
  AND (%(start)s::timestamptz IS NULL OR x.created_at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR x.created_at < %(end)s)
  AND (%(after_tx)s::bigint IS NULL
       OR (x.tx_id, l.kind COLLATE "C", l.asset COLLATE "C") {after}
          (%(after_tx)s::bigint, %(after_kind)s::text, %(after_asset)s::text))
ORDER BY x.tx_id {order}, l.kind COLLATE "C" {order}, l.asset COLLATE "C" {order}
LIMIT %(limit)s
"""


def _lines_sql(*, newest_first: bool) -> sql.Composed:
    after, order = ("<", "DESC") if newest_first else (">", "ASC")
    return sql.SQL(_LINES).format(
        kind=sql.SQL(_KIND), partner=sql.SQL(_PARTNER), after=sql.SQL(after), order=sql.SQL(order)
    )


_NEWEST_FIRST: Final = _lines_sql(newest_first=True)
_OLDEST_FIRST: Final = _lines_sql(newest_first=False)

# The account's total of each asset before transaction %(tx)s, summed from whichever end is
# nearer for the page: from the first entry (oldest first), or back from the balance (newest
# first: a balance is the sum of its account's entries, so this reads only the entries after it).
_BEFORE_FROM_START: Final = """
SELECT asset, sum(amount) FROM ledger.journal_entries
WHERE account_id = %(account)s AND tx_id < %(tx)s AND asset = ANY(%(assets)s)
GROUP BY asset
"""
_BEFORE_FROM_BALANCE: Final = """
SELECT b.asset, b.available + b.held - coalesce((
    SELECT sum(e.amount) FROM ledger.journal_entries e
    WHERE e.account_id = b.account_id AND e.asset = b.asset AND e.tx_id >= %(tx)s
), 0)
FROM ledger.balances b
WHERE b.account_id = %(account)s AND b.asset = ANY(%(assets)s)
"""


@dataclass(frozen=True, slots=True)
class _Line:
    tx_id: int
    kind: MovementKind
    asset: str
    amount: Decimal
    at: datetime
    reference: str
    symbol: str | None
    seq: int | None

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.tx_id, self.kind.value, self.asset)


class PostgresStatements(StatementsPort):
    _scales: dict[str, int]  # set by PostgresLedger
    _fee_account_id: str

    def _run[T](self, work: Callable[[Cursor[Row]], T]) -> T:
        """One transaction (PostgresLedger._run, which overrides this)."""
        raise NotImplementedError

    def statement(self, query: StatementQuery) -> StatementPage:
        if query.limit < 1:
            raise ValueError(f"limit must be at least 1, was {query.limit}")
        return self._run(lambda cur: _statement(cur, query, self._fee_account_id, self._scales))


def _statement(
    cur: Cursor[Row], query: StatementQuery, fee_account_id: str, scales: Mapping[str, int]
) -> StatementPage:
    # One snapshot for the page, the lines around it and the sums before it.
    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    if (
        cur.execute(
            "SELECT 1 FROM ledger.accounts WHERE account_id = %s", (query.account_id,)
        ).fetchone()
        is None
    ):
        raise UnknownAccount(f"no account {query.account_id!r}")
    after = query.after
    lo, hi = _FIRST_TX, _LAST_TX
    if after is not None:
        lo, hi = (lo, after.tx_id) if query.newest_first else (after.tx_id, hi)
    found = _lines(
        cur,
        _NEWEST_FIRST if query.newest_first else _OLDEST_FIRST,
        fee_account_id,
        account=query.account_id,
        asset=query.asset,
        lo=lo,
        hi=hi,
        start=query.start,
        end=query.end,
        after=after,
        limit=query.limit + 1,
    )
    page = found[: query.limit]
    if not page:
        return StatementPage(lines=[], next_after=None)
    balances = _balances_after(cur, page, query, fee_account_id)
    lines = [
        StatementLine(
            tx_id=line.tx_id,
            at=line.at,
            kind=line.kind,
            asset=line.asset,
            amount=_scaled(line.amount, line.asset, scales),
            balance_after=_scaled(balances[line.key], line.asset, scales),
            reference=line.reference,
            symbol=line.symbol,
            seq=line.seq,
        )
        for line in page
    ]
    last = page[-1]
    more = len(found) > query.limit
    return StatementPage(
        lines=lines,
        next_after=StatementPosition(last.tx_id, last.kind, last.asset) if more else None,
    )


def _balances_after(
    cur: Cursor[Row], page: list[_Line], query: StatementQuery, fee_account_id: str
) -> dict[tuple[int, str, str], Decimal]:
    """Each page line's running total of its asset: the entries before the page's first
    transaction, then every line of the account from there to the page's last transaction (lines
    the time window leaves out, and those of the first and last transaction on other pages,
    count too)."""
    lo = min(line.tx_id for line in page)
    hi = max(line.tx_id for line in page)
    assets = sorted({line.asset for line in page})
    before = _BEFORE_FROM_BALANCE if query.newest_first else _BEFORE_FROM_START
    running: dict[str, Decimal] = {
        str(asset): _dec(total)
        for asset, total in cur.execute(
            before, {"account": query.account_id, "tx": lo, "assets": assets}
        ).fetchall()
    }
    span = _lines(
        cur,
        _OLDEST_FIRST,
        fee_account_id,
        account=query.account_id,
        asset=query.asset,
        lo=lo,
        hi=hi,
        start=None,
        end=None,
        after=None,
        limit=None,
    )
    after: dict[tuple[int, str, str], Decimal] = {}
    for line in span:
        running[line.asset] = add(running.get(line.asset, ZERO), line.amount)
        after[line.key] = running[line.asset]
    return after


def _lines(
    cur: Cursor[Row],
    statement: sql.Composed,
    fee_account_id: str,
    *,
    account: str,
    asset: str | None,
    lo: int,
    hi: int,
    start: datetime | None,
    end: datetime | None,
    after: StatementPosition | None,
    limit: int | None,
) -> list[_Line]:
    params: dict[str, Any] = {
        "account": account,
        "asset": asset,
        "lo": lo,
        "hi": hi,
        "start": start,
        "end": end,
        "after_tx": None if after is None else after.tx_id,
        "after_kind": None if after is None else after.kind.value,
        "after_asset": None if after is None else after.asset,
        "limit": limit,
        "fee": fee_account_id,
        "is_fee": account == fee_account_id,
        "external": EXTERNAL_ACCOUNT,
    }
    return [
        _Line(
            tx_id=int(str(tx_id)),
            kind=MovementKind(str(kind)),
            asset=str(line_asset),
            amount=_dec(amount),
            at=_moment(at),
            reference=str(reference),
            symbol=None if symbol is None else str(symbol),
            seq=None if seq is None else int(str(seq)),
        )
        for tx_id, kind, line_asset, amount, at, reference, symbol, seq in cur.execute(
            statement, params, prepare=False
        ).fetchall()
    ]


def _scaled(amount: Decimal, asset: str, scales: Mapping[str, int]) -> Decimal:
    scale = scales.get(asset)
    return amount.normalize() if scale is None else to_scale(amount, scale)


def _dec(value: object) -> Decimal:
    assert isinstance(value, Decimal)  # noqa: S101 - NUMERIC columns read as Decimal
    return value


def _moment(value: object) -> datetime:
    assert isinstance(value, datetime)  # noqa: S101 - timestamptz reads as an aware datetime
    return value
