"""What the reconciliation reads from the ledger: SELECTs only, as the read-only database role
``exchange_reconciliation`` (its column grants are in migration 0004).

Each read runs in its own READ ONLY, REPEATABLE READ transaction, so what it returns is one
consistent state of the ledger: the solvency totals in particular (a deposit's row and its credit
are written in one transaction, and are seen together or not at all).
"""

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from psycopg import Cursor, IsolationLevel
from psycopg_pool import ConnectionPool

Row = tuple[object, ...]

_OPEN_HOLDS: Final = (
    "SELECT order_id, account_id, symbol, open_lots, created_at "
    "FROM ledger.reservations WHERE open_lots > 0"
)
_HOLDS: Final = (
    "SELECT order_id, account_id, symbol, open_lots, created_at "
    "FROM ledger.reservations WHERE order_id = ANY(%s)"
)
# Every order an event after ``seq`` touched: by the primary keys' (symbol, seq) ranges.
_CHANGED_AFTER: Final = (
    "SELECT order_id FROM ledger.applied_events WHERE symbol = %(symbol)s AND seq > %(seq)s "
    "UNION SELECT maker_order_id FROM ledger.settled_trades "
    "WHERE symbol = %(symbol)s AND seq > %(seq)s "
    "UNION SELECT taker_order_id FROM ledger.settled_trades "
    "WHERE symbol = %(symbol)s AND seq > %(seq)s"
)
# Per asset: every balance of a non-EXTERNAL account, against the money that came in from and
# went out to the outside world (the EXTERNAL account has no balance row: it is journal-only).
_SOLVENCY: Final = """
WITH held AS (
    SELECT b.asset, sum(b.available + b.held) AS total
    FROM ledger.balances b JOIN ledger.accounts a ON a.account_id = b.account_id
    WHERE a.kind <> 'EXTERNAL' GROUP BY b.asset
), deposited AS (
    SELECT asset, sum(amount) AS total FROM ledger.deposits
    WHERE status = 'CREDITED' GROUP BY asset
), withdrawn AS (
    SELECT asset, sum(amount) AS total FROM ledger.withdrawals
    WHERE status = 'COMPLETED' GROUP BY asset
), assets AS (
    SELECT asset FROM held UNION SELECT asset FROM deposited UNION SELECT asset FROM withdrawn
)
SELECT assets.asset, coalesce(held.total, 0), coalesce(deposited.total, 0),
       coalesce(withdrawn.total, 0)
FROM assets
LEFT JOIN held USING (asset) LEFT JOIN deposited USING (asset) LEFT JOIN withdrawn USING (asset)
ORDER BY assets.asset
"""
# A range of the primary key; by time only for a symbol whose trades table has no row to start
# the range at (then the symbol's rows are filtered: a symbol with no recent trade has few).
_SETTLED_FROM_SEQ: Final = (
    "SELECT seq, settled_at FROM ledger.settled_trades WHERE symbol = %s AND seq >= %s"
)
_SETTLED_SINCE: Final = (
    "SELECT seq, settled_at FROM ledger.settled_trades WHERE symbol = %s AND settled_at >= %s"
)


@dataclass(frozen=True, slots=True)
class HoldRow:
    """One order's reservation: what is still held for, in lots, and when it was first held."""

    order_id: str
    account_id: str
    symbol: str
    open_lots: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AssetTotals:
    """One asset's solvency figures: the ledger holds exactly what came in minus what went out."""

    asset: str
    balances: Decimal  # Σ (available + held) over every non-EXTERNAL account
    deposits: Decimal  # Σ credited deposits
    withdrawals: Decimal  # Σ completed withdrawals

    @property
    def expected(self) -> Decimal:
        return self.deposits - self.withdrawals

    @property
    def difference(self) -> Decimal:
        """Balances beyond what came in (negative: money missing). Zero when solvent."""
        return self.balances - self.expected


class AuditReads:
    """The reconciliation's ledger reads, on the function's pool."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def _read[T](self, work: Callable[[Cursor[Row]], T]) -> T:
        with self._pool.connection() as conn:
            conn.read_only = True
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            with conn.transaction(), conn.cursor() as cur:
                return work(cur)

    def open_holds(self) -> list[HoldRow]:
        """Every reservation still holding for open lots."""
        return self._read(lambda cur: [_hold(row) for row in cur.execute(_OPEN_HOLDS)])

    def holds(self, order_ids: Collection[str]) -> list[HoldRow]:
        """The reservations of ``order_ids``, open or not (an absent id has none)."""
        if not order_ids:
            return []
        return self._read(
            lambda cur: [_hold(row) for row in cur.execute(_HOLDS, (list(order_ids),))]
        )

    def changed_after(self, seqs: Mapping[str, int]) -> set[str]:
        """The order ids an engine event after ``seqs[symbol]`` changed in the ledger (a trade
        settled, a hold released or resized)."""

        def work(cur: Cursor[Row]) -> set[str]:
            changed: set[str] = set()
            for symbol, seq in seqs.items():
                rows = cur.execute(_CHANGED_AFTER, {"symbol": symbol, "seq": seq}).fetchall()
                changed.update(str(row[0]) for row in rows)
            return changed

        return self._read(work)

    def solvency(self) -> list[AssetTotals]:
        return self._read(
            lambda cur: [
                AssetTotals(str(asset), _dec(held), _dec(deposited), _dec(withdrawn))
                for asset, held, deposited, withdrawn in cur.execute(_SOLVENCY)
            ]
        )

    def settled_trades(
        self, symbol: str, *, from_seq: int | None, since: datetime
    ) -> dict[int, datetime]:
        """The symbol's settled trades from seq ``from_seq`` on (None: those settled since
        ``since``): seq -> when it was settled."""
        query, params = (
            (_SETTLED_SINCE, (symbol, since))
            if from_seq is None
            else (_SETTLED_FROM_SEQ, (symbol, from_seq))
        )
        return self._read(
            lambda cur: {
                int(str(seq)): _time(settled_at) for seq, settled_at in cur.execute(query, params)
            }
        )


def _hold(row: Row) -> HoldRow:
    order_id, account_id, symbol, open_lots, created_at = row
    return HoldRow(
        str(order_id), str(account_id), str(symbol), int(str(open_lots)), _time(created_at)
    )


def _dec(value: object) -> Decimal:
    assert isinstance(value, Decimal)  # noqa: S101 - NUMERIC columns read as Decimal
    return value


def _time(value: object) -> datetime:
    assert isinstance(value, datetime)  # noqa: S101 - timestamptz columns read as datetime
    return value


__all__ = ["AssetTotals", "AuditReads", "HoldRow"]
