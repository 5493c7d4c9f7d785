"""Amend holds in PostgreSQL (``ledger.amend_holds``): reserving an amend's increase, and giving
it back or adding it to the order's hold when the engine answers (rules: ``ledger.amends``).

An order's amend hold rows are locked only by a transaction that holds the lock on the order's
reservation, so they can never take part in a deadlock.
"""

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from psycopg import Cursor

from exchange.domain.commands import AmendOrder
from exchange.domain.instruments import Instrument
from exchange.ledger.amends import AmendHold, amend_hold
from exchange.ledger.holds import Hold
from exchange.ledger.money import ZERO, AssetScales, add, scale_of
from exchange.ledger.movements import Bucket, Pocket, move
from exchange.ledger.postgres.accounts import refuse_frozen
from exchange.ledger.postgres.journal import hold_funds, post

Row = tuple[object, ...]

_COLUMNS = "command_id, order_id, account_id, asset, price_ticks, qty_lots, held"


def _amend_hold(row: Row) -> AmendHold:
    command_id, order_id, account_id, asset, price, qty, held = row
    assert isinstance(held, Decimal)  # noqa: S101 - NUMERIC columns read as Decimal
    return AmendHold(
        command_id=str(command_id),
        order_id=str(order_id),
        account_id=str(account_id),
        asset=str(asset),
        price_ticks=None if price is None else int(str(price)),
        qty_lots=None if qty is None else int(str(qty)),
        held=held,
    )


def reserve_amend(
    cur: Cursor[Row], amend: AmendOrder, hold: Hold, instrument: Instrument, scales: AssetScales
) -> Decimal:
    """Hold ``amend``'s increase once per command id; returns it (0: nothing more needed).
    ``hold`` is the order's, locked.

    Raises UnknownReservation (another account's order), AccountFrozen (an increase for a
    frozen account), InsufficientFunds or ReservationConflict; on any of them nothing is held.
    """
    found = cur.execute(
        f"SELECT {_COLUMNS} FROM ledger.amend_holds WHERE command_id = %s",  # noqa: S608 - fixed columns
        (amend.command_id,),
    ).fetchone()
    wanted = amend_hold(
        amend,
        hold,
        instrument,
        pending=pending_holds(cur, hold.order_id),
        existing=None if found is None else _amend_hold(found),
        quote_scale=scale_of(scales, instrument.quote),
        base_scale=scale_of(scales, instrument.base),
    )
    if found is not None:
        return wanted.held  # a retry: held once, the first time
    inserted = cur.execute(
        f"INSERT INTO ledger.amend_holds ({_COLUMNS}) "  # noqa: S608 - fixed columns
        "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (command_id) DO NOTHING RETURNING 1",
        (
            wanted.command_id,
            wanted.order_id,
            wanted.account_id,
            wanted.asset,
            wanted.price_ticks,
            wanted.qty_lots,
            wanted.held,
        ),
    ).fetchone()
    if inserted is None:
        # The same command id reserved for another order meanwhile: compare with that one.
        return reserve_amend(cur, amend, hold, instrument, scales)
    if wanted.held > 0:
        refuse_frozen(cur, wanted.account_id, what=f"amend {wanted.command_id}")
        hold_funds(cur, account_id=wanted.account_id, asset=wanted.asset, amount=wanted.held)
        post(
            cur,
            kind="AMEND_HOLD",
            reference=wanted.command_id,
            movements=move(
                wanted.asset,
                wanted.held,
                Pocket(wanted.account_id, Bucket.AVAILABLE),
                Pocket(wanted.account_id, Bucket.HELD),
            ),
            symbol=hold.symbol,
            apply_balances=False,  # hold_funds has moved them, conditionally
        )
    return wanted.held


def pending_holds(cur: Cursor[Row], order_id: str) -> list[AmendHold]:
    """The order's amend holds still waiting for the engine, locked, oldest command id first.
    Lock the order's reservation before."""
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM ledger.amend_holds "  # noqa: S608 - fixed columns
        "WHERE order_id = %s AND status = 'PENDING' ORDER BY command_id FOR UPDATE",
        (order_id,),
    ).fetchall()
    return [_amend_hold(row) for row in rows]


def pending_order_of(cur: Cursor[Row], command_id: str) -> str | None:
    """The order whose amend ``command_id`` is still pending (unlocked: lock the order, then
    ``pending_holds``), or None: no such amend, or it was answered already."""
    row = cur.execute(
        "SELECT order_id FROM ledger.amend_holds WHERE command_id = %s AND status = 'PENDING'",
        (command_id,),
    ).fetchone()
    return None if row is None else str(row[0])


def adopt(cur: Cursor[Row], hold: Hold, adopted: AmendHold, *, symbol: str, seq: int) -> Hold:
    """``OrderAmended``: the amend's increase becomes part of the order's hold. No money moves
    (it was held already); the caller recomputes the hold, which gives back any surplus."""
    _resolve(cur, [adopted], status="ADOPTED", symbol=symbol, seq=seq)
    return replace(hold, held=add(hold.held, adopted.held))


def release(
    cur: Cursor[Row],
    released: Sequence[AmendHold],
    *,
    reference: str,
    symbol: str,
    seq: int | None,
) -> Decimal:
    """Give amend increases back to available (a refused amend, or the order's final event)."""
    if not released:
        return ZERO
    _resolve(cur, released, status="RELEASED", symbol=symbol, seq=seq)
    post(
        cur,
        kind="AMEND_RELEASE",
        reference=reference,
        movements=[
            m
            for a in released
            for m in move(
                a.asset,
                a.held,
                Pocket(a.account_id, Bucket.HELD),
                Pocket(a.account_id, Bucket.AVAILABLE),
            )
        ],
        symbol=symbol,
        seq=seq,
    )
    return add(*(a.held for a in released))


def _resolve(
    cur: Cursor[Row], holds: Sequence[AmendHold], *, status: str, symbol: str, seq: int | None
) -> None:
    cur.execute(
        "UPDATE ledger.amend_holds SET status = %s, symbol = %s, seq = %s, resolved_at = now() "
        "WHERE command_id = ANY(%s) AND status = 'PENDING'",
        (status, symbol, seq, [a.command_id for a in holds]),
    )
