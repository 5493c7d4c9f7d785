"""Engine events on PostgreSQL: trades settled, holds resized, amend holds resolved, listings'
fees recorded.

Each event is idempotent on ``(symbol, seq)``: a trade claims its row in ``settled_trades``, a
listing its row in ``fee_schedule``, any other event that moves money its row in
``applied_events``, in the transaction that applies it. A seq is claimed in one of the three only:
a claim fails while another table holds the seq.

A claim that fails is a replay only if the row holds the same event (a trade's orders, price and
quantity; another event's kind and order; a listing's version and fees). Anything else is a seq
reused with other content (a failover's DR engine emitting seqs the primary's events had taken):
``SeqReused`` is raised, which is no ``LedgerError`` (settlement's quarantine does not take it),
so the transaction rolls back and the record fails, blocking its symbol.
"""

from dataclasses import dataclass
from decimal import Decimal

from psycopg import Cursor
from pydantic import ValidationError

from exchange.domain.enums import RejectReason
from exchange.domain.events import (
    Event,
    InstrumentListed,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    Trade,
)
from exchange.domain.instruments import Instrument
from exchange.journal.epochs import SeqReused
from exchange.ledger.catalog import LedgerInstruments
from exchange.ledger.errors import LedgerInconsistency
from exchange.ledger.fees import FeeRates
from exchange.ledger.holds import Hold
from exchange.ledger.money import AssetScales, add, check_instrument
from exchange.ledger.postgres import amends
from exchange.ledger.postgres.holds_sql import find_hold, lock_holds, update_holds
from exchange.ledger.postgres.journal import post
from exchange.ledger.settlement import resize_hold, settle_trade

Row = tuple[object, ...]
HoldEvent = OrderCancelled | OrderExpired | OrderAmended | OrderRejected

_KINDS: dict[type[Event], str] = {
    OrderCancelled: "CANCEL",
    OrderExpired: "EXPIRE",
    OrderAmended: "AMEND",
    OrderRejected: "REJECT",
}

# A seq claimed in none of the tables but the one the claim inserts into (each ``%(symbol)s`` and
# ``%(seq)s``); the settlement role may read these two columns of each.
_UNCLAIMED_ELSEWHERE = {
    "settled_trades": "NOT EXISTS (SELECT 1 FROM ledger.applied_events a "
    "WHERE a.symbol = %(symbol)s AND a.seq = %(seq)s) AND NOT EXISTS (SELECT 1 FROM "
    "ledger.fee_schedule f WHERE f.symbol = %(symbol)s AND f.effective_seq = %(seq)s)",
    "applied_events": "NOT EXISTS (SELECT 1 FROM ledger.settled_trades t "
    "WHERE t.symbol = %(symbol)s AND t.seq = %(seq)s) AND NOT EXISTS (SELECT 1 FROM "
    "ledger.fee_schedule f WHERE f.symbol = %(symbol)s AND f.effective_seq = %(seq)s)",
    "fee_schedule": "NOT EXISTS (SELECT 1 FROM ledger.settled_trades t "
    "WHERE t.symbol = %(symbol)s AND t.seq = %(seq)s) AND NOT EXISTS (SELECT 1 FROM "
    "ledger.applied_events a WHERE a.symbol = %(symbol)s AND a.seq = %(seq)s)",
}

# What the ledger holds at one (symbol, seq), whichever table claimed it: (what, content...).
_HELD_AT = (
    "SELECT 'TRADE', maker_order_id, taker_order_id, price_ticks::text, qty_lots::text "
    "FROM ledger.settled_trades WHERE symbol = %(symbol)s AND seq = %(seq)s "
    "UNION ALL SELECT 'EVENT', kind, order_id, NULL, NULL "
    "FROM ledger.applied_events WHERE symbol = %(symbol)s AND seq = %(seq)s "
    "UNION ALL SELECT 'LISTING', version::text, maker_fee_bps::text, taker_fee_bps::text, NULL "
    "FROM ledger.fee_schedule WHERE symbol = %(symbol)s AND effective_seq = %(seq)s"
)


def _trade_content(trade: Trade) -> tuple[object, ...]:
    return ("TRADE", trade.maker_order_id, trade.taker_order_id, str(trade.price), str(trade.qty))


def _replay_or_reused(cur: Cursor[Row], event: Event, content: tuple[object, ...]) -> None:
    """A claim of ``event``'s (symbol, seq) failed: fine if the ledger holds this very event
    (a replay), ``SeqReused`` if it holds anything else."""
    held = cur.execute(_HELD_AT, {"symbol": event.symbol, "seq": event.seq}).fetchall()
    if held == [content]:
        return
    shown = "; ".join(" ".join(str(part) for part in row) for row in held) or "nothing"
    raise SeqReused(
        "ledger",
        event.symbol,
        [event.seq],
        None,
        None,
        detail=f"holds {shown}, not {' '.join(str(part) for part in content)}",
    )


def settles(event: Event) -> bool:
    """Trades, events that shrink, reprice or close a hold, and listings (their fees). A reject
    with a command id refused a cancel or an amend: it leaves the order as it was, but gives back
    a refused amend's increase. A status change or an account frozen in the engine changes
    nothing here (the engine's cancels that follow a freeze are ordinary cancels)."""
    return isinstance(
        event,
        Trade | OrderCancelled | OrderExpired | OrderAmended | OrderRejected | InstrumentListed,
    )


@dataclass(frozen=True, slots=True)
class Settler:
    instruments: LedgerInstruments
    scales: AssetScales
    fee_account_id: str

    def apply(self, cur: Cursor[Row], event: Event) -> bool:
        """Apply one event in the caller's transaction; False when it was applied before or moves
        nothing."""
        if isinstance(event, Trade):
            return self._settle(cur, event)
        if isinstance(event, InstrumentListed):
            return self._record_fees(cur, event)
        if isinstance(event, OrderRejected) and event.command_id is not None:
            if event.reason is RejectReason.UNKNOWN_ORDER:
                return self._not_held_by_engine(cur, event, event.command_id)
            return self._refuse_amend(cur, event, event.command_id)
        assert isinstance(event, OrderCancelled | OrderExpired | OrderAmended | OrderRejected)  # noqa: S101
        return self._apply_to_hold(cur, event)

    def resize(
        self,
        cur: Cursor[Row],
        hold: Hold,
        *,
        kind: str,
        reference: str,
        open_lots: int,
        limit_ticks: int | None = None,
        seq: int | None = None,
    ) -> Decimal:
        """Hold what ``open_lots`` need and give back the rest (with any pending amend increase
        once the order is closed); returns what was given back."""
        resized = resize_hold(
            hold,
            self.instruments.get(hold.symbol),
            open_lots=open_lots,
            limit_ticks=limit_ticks,
            scales=self.scales,
        )
        update_holds(cur, [resized.after])
        post(
            cur,
            kind=kind,
            reference=reference,
            movements=resized.movements,
            symbol=hold.symbol,
            seq=seq,
        )
        released = hold.held - resized.after.held
        return add(released, self._close(cur, resized.after, reference=reference, seq=seq))

    def _close(self, cur: Cursor[Row], after: Hold, *, reference: str, seq: int | None) -> Decimal:
        """A final event (fill, cancel, expiry, reject, release) gives back every increase
        still held for the order's unanswered amends."""
        if after.is_open:
            return Decimal(0)
        pending = amends.pending_holds(cur, after.order_id)
        return amends.release(cur, pending, reference=reference, symbol=after.symbol, seq=seq)

    def _settle(self, cur: Cursor[Row], trade: Trade) -> bool:
        claimed = cur.execute(
            "INSERT INTO ledger.settled_trades (symbol, seq, maker_order_id, taker_order_id, "
            "maker_account_id, taker_account_id, aggressor_side, price_ticks, qty_lots) "
            "SELECT %(symbol)s, %(seq)s, %(maker)s, %(taker)s, %(maker_account)s, "
            "%(taker_account)s, %(side)s, %(price)s, %(qty)s "
            f"WHERE {_UNCLAIMED_ELSEWHERE['settled_trades']} "
            "ON CONFLICT (symbol, seq) DO NOTHING RETURNING 1",
            {
                "symbol": trade.symbol,
                "seq": trade.seq,
                "maker": trade.maker_order_id,
                "taker": trade.taker_order_id,
                "maker_account": trade.maker_account_id,
                "taker_account": trade.taker_account_id,
                "side": trade.aggressor_side.value,
                "price": trade.price,
                "qty": trade.qty,
            },
        ).fetchone()
        if claimed is None:
            _replay_or_reused(cur, trade, _trade_content(trade))
            return False  # settled before: a replay changes nothing
        holds = lock_holds(cur, [trade.maker_order_id, trade.taker_order_id])
        instrument = self.instruments.get(trade.symbol)
        settlement = settle_trade(
            trade,
            instrument,
            maker=holds[trade.maker_order_id],
            taker=holds[trade.taker_order_id],
            scales=self.scales,
            fee_account_id=self.fee_account_id,
            # Before any journaled listing: the fees the symbol was first listed with, never a
            # change the operators made since (its InstrumentListed is after this trade).
            fees=_fees_at(cur, trade.symbol, trade.seq)
            or FeeRates.of(self.instruments.original(trade.symbol)),
        )
        update_holds(cur, [settlement.maker.after, settlement.taker.after])
        reference = f"{trade.symbol}#{trade.seq}"
        tx_id = post(
            cur,
            kind="TRADE",
            reference=reference,
            movements=settlement.movements,
            symbol=trade.symbol,
            seq=trade.seq,
        )
        for after in sorted((settlement.maker.after, settlement.taker.after), key=_order_id):
            self._close(cur, after, reference=reference, seq=trade.seq)
        cur.execute(
            "UPDATE ledger.settled_trades SET notional = %s, maker_fee = %s, taker_fee = %s, "
            "tx_id = %s WHERE symbol = %s AND seq = %s",
            (
                settlement.notional,
                settlement.maker.fee,
                settlement.taker.fee,
                tx_id,
                trade.symbol,
                trade.seq,
            ),
        )
        return True

    def _record_fees(self, cur: Cursor[Row], event: InstrumentListed) -> bool:
        """A listing (new, or a change) at ``event.seq``: its fees apply to the symbol's trades
        after it. An instrument the ledger could not hold exactly is refused here already."""
        listed = _listed(event)
        check_instrument(listed, self.scales)
        row = cur.execute(
            "INSERT INTO ledger.fee_schedule (symbol, effective_seq, maker_fee_bps, "
            "taker_fee_bps, version) SELECT %(symbol)s, %(seq)s, %(maker)s, %(taker)s, "
            f"%(version)s WHERE {_UNCLAIMED_ELSEWHERE['fee_schedule']} "
            "ON CONFLICT (symbol, effective_seq) DO NOTHING RETURNING 1",
            {
                "symbol": event.symbol,
                "seq": event.seq,
                "maker": listed.maker_fee_bps,
                "taker": listed.taker_fee_bps,
                "version": event.version,
            },
        ).fetchone()
        if row is None:
            content = (
                "LISTING",
                str(event.version),
                str(listed.maker_fee_bps),
                str(listed.taker_fee_bps),
                None,
            )
            _replay_or_reused(cur, event, content)
            return False
        return True

    def _claim(self, cur: Cursor[Row], event: HoldEvent) -> bool:
        kind = _KINDS[type(event)]
        row = cur.execute(
            "INSERT INTO ledger.applied_events (symbol, seq, kind, order_id) "
            "SELECT %(symbol)s, %(seq)s, %(kind)s, %(order_id)s "
            f"WHERE {_UNCLAIMED_ELSEWHERE['applied_events']} "
            "ON CONFLICT (symbol, seq) DO NOTHING RETURNING 1",
            {"symbol": event.symbol, "seq": event.seq, "kind": kind, "order_id": event.order_id},
        ).fetchone()
        if row is None:
            _replay_or_reused(cur, event, ("EVENT", kind, event.order_id, None, None))
            return False
        return True

    def _apply_to_hold(self, cur: Cursor[Row], event: HoldEvent) -> bool:
        if not self._claim(cur, event):
            return False
        hold = lock_holds(cur, [event.order_id])[event.order_id]
        limit: int | None = None
        match event:
            case OrderCancelled():
                open_lots = hold.open_lots - event.cancelled_qty
            case OrderExpired():
                open_lots = hold.open_lots - event.expired_qty
            case OrderAmended():
                adopted = [
                    a
                    for a in amends.pending_holds(cur, hold.order_id)
                    if a.command_id == event.command_id
                ]
                for amend in adopted:
                    hold = amends.adopt(cur, hold, amend, symbol=event.symbol, seq=event.seq)
                open_lots, limit = event.open_qty, event.price
            case OrderRejected():
                open_lots = 0
        self.resize(
            cur,
            hold,
            kind=_KINDS[type(event)],
            reference=f"{event.symbol}#{event.seq}",
            open_lots=open_lots,
            limit_ticks=limit,
            seq=event.seq,
        )
        return True

    def _not_held_by_engine(self, cur: Cursor[Row], event: OrderRejected, command_id: str) -> bool:
        """A cancel or amend the engine answered ``UNKNOWN_ORDER``: the engine holds no such order,
        and (it remembers the id) never will. That is the definite answer for an order whose
        publish was ambiguous, or that the reconciler cancelled: whatever it still holds goes
        back. An order that did reach the engine was closed by an earlier event of the symbol,
        which settlement applied first (events apply in seq order), so its hold is already
        closed and only a refused amend's increase remains to give back."""
        hold = find_hold(cur, event.order_id)
        if hold is None:
            return False  # nothing was ever held (the placement failed before its hold)
        hold = lock_holds(cur, [event.order_id])[event.order_id]
        if not hold.is_open:
            return self._refuse_amend(cur, event, command_id)
        if not self._claim(cur, event):
            return False
        self.resize(
            cur,
            hold,
            kind=_KINDS[OrderRejected],
            reference=f"{event.symbol}#{event.seq}",
            open_lots=0,
            seq=event.seq,
        )
        return True

    def _refuse_amend(self, cur: Cursor[Row], event: OrderRejected, command_id: str) -> bool:
        """The engine refused a cancel or an amend: give back a refused amend's increase."""
        order_id = amends.pending_order_of(cur, command_id)
        if order_id is None:
            return False  # a refused cancel, or an amend answered before: nothing is held
        if order_id != event.order_id:
            raise LedgerInconsistency(
                f"reject {event.symbol}#{event.seq}: amend {command_id} is for order {order_id}, "
                f"not {event.order_id}"
            )
        lock_holds(cur, [order_id])
        refused = [a for a in amends.pending_holds(cur, order_id) if a.command_id == command_id]
        if not refused or not self._claim(cur, event):
            return False  # answered meanwhile, or this event was applied before
        amends.release(
            cur,
            refused,
            reference=f"{event.symbol}#{event.seq}",
            symbol=event.symbol,
            seq=event.seq,
        )
        return True


def _order_id(hold: Hold) -> str:
    return hold.order_id


def _listed(event: InstrumentListed) -> Instrument:
    try:
        instrument = Instrument.model_validate_json(event.instrument)
    except ValidationError as exc:
        raise LedgerInconsistency(
            f"listing {event.symbol}#{event.seq}: not an instrument: {exc.error_count()} error(s)"
        ) from exc
    if instrument.symbol != event.symbol:
        raise LedgerInconsistency(
            f"listing {event.symbol}#{event.seq} lists instrument {instrument.symbol}"
        )
    return instrument


def _fees_at(cur: Cursor[Row], symbol: str, seq: int) -> FeeRates | None:
    """The fees of the symbol's latest listing before ``seq``; None: never listed in the
    journal (the fees it was first listed with are in force)."""
    row = cur.execute(
        "SELECT maker_fee_bps, taker_fee_bps FROM ledger.fee_schedule "
        "WHERE symbol = %s AND effective_seq < %s ORDER BY effective_seq DESC LIMIT 1",
        (symbol, seq),
    ).fetchone()
    return None if row is None else FeeRates(int(str(row[0])), int(str(row[1])))
