"""Reservation rows: read under lock, insert, update."""

from decimal import Decimal

from psycopg import Cursor

from exchange.domain.enums import Side
from exchange.ledger.errors import UnknownReservation
from exchange.ledger.holds import Hold

Row = tuple[object, ...]

_COLUMNS = (
    "order_id, account_id, symbol, side, asset, limit_ticks, original_lots, open_lots, held, "
    "max_fee_bps, fee_accrued, fee_charged, filled_lots"
)


def _hold(row: Row) -> Hold:
    (
        order_id,
        account_id,
        symbol,
        side,
        asset,
        limit,
        original,
        open_,
        held,
        bps,
        acc,
        chg,
        filled,
    ) = row
    assert isinstance(held, Decimal)  # noqa: S101 - NUMERIC columns read as Decimal
    assert isinstance(acc, Decimal)  # noqa: S101
    assert isinstance(chg, Decimal)  # noqa: S101
    return Hold(
        order_id=str(order_id),
        account_id=str(account_id),
        symbol=str(symbol),
        side=Side(str(side)),
        asset=str(asset),
        limit_ticks=None if limit is None else int(str(limit)),
        original_lots=int(str(original)),
        open_lots=int(str(open_)),
        held=held,
        max_fee_bps=int(str(bps)),
        fee_accrued=acc,
        fee_charged=chg,
        filled_lots=int(str(filled)),
    )


def lock_holds(cur: Cursor[Row], order_ids: list[str]) -> dict[str, Hold]:
    """The holds of ``order_ids``, locked by order id; UnknownReservation for a missing one."""
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM ledger.reservations WHERE order_id = ANY(%s) "  # noqa: S608 - fixed columns
        "ORDER BY order_id FOR UPDATE",
        (sorted(set(order_ids)),),
    ).fetchall()
    holds = {h.order_id: h for h in map(_hold, rows)}
    missing = [o for o in order_ids if o not in holds]
    if missing:
        raise UnknownReservation(f"no reservation for order(s) {', '.join(missing)}")
    return holds


def find_hold(cur: Cursor[Row], order_id: str) -> Hold | None:
    row = cur.execute(
        f"SELECT {_COLUMNS} FROM ledger.reservations WHERE order_id = %s",  # noqa: S608
        (order_id,),
    ).fetchone()
    return None if row is None else _hold(row)


def insert_hold(cur: Cursor[Row], hold: Hold) -> bool:
    """Insert a new reservation; False when the order id already has one."""
    row = cur.execute(
        f"INSERT INTO ledger.reservations ({_COLUMNS}) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (order_id) DO NOTHING RETURNING 1",
        (
            hold.order_id,
            hold.account_id,
            hold.symbol,
            hold.side.value,
            hold.asset,
            hold.limit_ticks,
            hold.original_lots,
            hold.open_lots,
            hold.held,
            hold.max_fee_bps,
            hold.fee_accrued,
            hold.fee_charged,
            hold.filled_lots,
        ),
    ).fetchone()
    return row is not None


def update_holds(cur: Cursor[Row], holds: list[Hold]) -> None:
    cur.executemany(
        "UPDATE ledger.reservations SET limit_ticks = %s, open_lots = %s, held = %s, "
        "fee_accrued = %s, fee_charged = %s, filled_lots = %s, updated_at = now() "
        "WHERE order_id = %s",
        [
            (
                h.limit_ticks,
                h.open_lots,
                h.held,
                h.fee_accrued,
                h.fee_charged,
                h.filled_lots,
                h.order_id,
            )
            for h in holds
        ],
    )
