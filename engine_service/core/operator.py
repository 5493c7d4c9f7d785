"""Operators' commands on a symbol's book: trading status, mass cancel, account freeze, listing.

They are journaled like orders (each event takes the symbol's next ``seq``), so a replay and a
snapshot restore reproduce them; ``matcher``'s docstring maps the order of their events. Like a
cancel's, an operator command's ``command_id`` joins the book's dedupe window, and a command id
seen before yields no events at all.

A refusal is an ``OrderRejected`` with ``order_id`` "", ``account_id`` the target account (or
""), and the command's ``command_id``. Like a refused cancel it takes the symbol's next ``seq``
and is journaled: the journal then says what became of every operator action, and a replay
remembers its command id exactly as the live book did. Only a command with no book to journal
in (a new listing that cannot be listed) is refused with ``seq`` 0, as an unknown symbol is.

A mass cancel that finds nothing open is refused too (``UNKNOWN_ORDER``): with no event its
command id could not outlive a restart, and a redelivered copy, applied after the orders that
followed it, would cancel them.

>>> from decimal import Decimal
>>> from exchange.domain import InstrumentStatus, SetTradingStatus
>>> btc = Instrument(symbol="BTC-USD", base="BTC", quote="USD", tick_size=Decimal("0.01"),
...                  lot_size=Decimal("0.0001"), min_qty=Decimal("0.0001"), max_qty=Decimal("100"),
...                  price_band_pct=Decimal("10"))
>>> book = SymbolBook(btc, 100)
>>> halt = SetTradingStatus(symbol="BTC-USD", ts=1, command_id="adm_1",
...                         status=InstrumentStatus.HALTED, actor="ops")
>>> [(type(e).__name__, e.seq) for e in operate(book, halt)], book.status, operate(book, halt)
([('TradingStatusChanged', 1)], <InstrumentStatus.HALTED: 'HALTED'>, [])
"""

from engine_service.core.book import Order
from engine_service.core.cores import Core
from engine_service.core.matcher import SymbolBook
from exchange.domain import (
    AccountFrozen,
    CancelReason,
    Event,
    FreezeAccount,
    Instrument,
    InstrumentListed,
    ListInstrument,
    MassCancel,
    OperatorCommand,
    OrderCancelled,
    OrderRejected,
    RejectReason,
    SetTradingStatus,
    TradingStatusChanged,
)
from exchange.domain.instruments import IMMUTABLE_FIELDS


def operate(book: SymbolBook, cmd: OperatorCommand) -> list[Event]:
    """Apply an operator command to its symbol's book; returns the events, in ``seq`` order."""
    if book.seen_commands.has(cmd.command_id):
        return []
    if isinstance(cmd, ListInstrument) and is_stale(book, cmd):
        return []  # a redelivery or a stale copy: nothing to remember, so no event
    book.seen_commands.add(cmd.command_id)
    if isinstance(cmd, SetTradingStatus):
        return [_set_status(book, cmd)]
    if isinstance(cmd, MassCancel):
        return _mass_cancel(book, cmd)
    if isinstance(cmd, FreezeAccount):
        return _freeze(book, cmd)
    return _relist(book, cmd)


def is_stale(book: SymbolBook, cmd: ListInstrument) -> bool:
    """Whether ``operate`` ignores the listing: its version is not newer than the book's."""
    return cmd.version <= book.version


def cancel_open_orders(
    book: SymbolBook, ts: int, command_id: str, account_id: str | None
) -> list[Event]:
    """Cancel every open order (resting or a held stop) of ``account_id`` (None: of everyone),
    oldest first: an ``OrderCancelled`` (reason OPERATOR) each, then its level's delta (none for
    a held stop). Oldest is by arrival (its acceptance, or the amend that lost it its priority),
    which a snapshot keeps, so a restored book cancels in the same order."""
    targets = sorted(
        (o for o in book.orders.values() if account_id is None or o.account_id == account_id),
        key=_arrival,
    )
    events: list[Event] = []
    for order in targets:
        book.seq += 1
        events.append(
            OrderCancelled(
                symbol=book.symbol,
                ts=ts,
                seq=book.seq,
                order_id=order.order_id,
                account_id=order.account_id,
                cancelled_qty=order.open_qty,
                reason=CancelReason.OPERATOR,
                command_id=command_id,
            )
        )
        book._unbook(order, events, ts)
    return events


def new_listing(cmd: ListInstrument, dedupe_window: int, core: Core) -> SymbolBook | OrderRejected:
    """The book a listing of a symbol not listed yet creates (its ``InstrumentListed`` is then
    ``seq`` 1, see ``listed``), or its refusal with ``seq`` 0 (no stream to journal it in)."""
    instrument = parse_listing(cmd.instrument)
    if isinstance(instrument, str):
        problem = instrument
    elif instrument.symbol != cmd.symbol:
        problem = f"the listing is of {instrument.symbol}, not {cmd.symbol}"
    elif cmd.version < 1:
        problem = f"a new listing's version is 1 or more, was {cmd.version}"
    else:
        book = core.symbol_book(instrument, dedupe_window, cmd.instrument, cmd.version)
        book.seen_commands.add(cmd.command_id)
        return book
    return OrderRejected(
        symbol=cmd.symbol,
        ts=cmd.ts,
        seq=0,
        order_id="",
        account_id="",
        reason=RejectReason.INVALID_COMMAND,
        command_id=cmd.command_id,
        detail=problem,
    )


def listed(book: SymbolBook, cmd: ListInstrument) -> InstrumentListed:
    """The ``InstrumentListed`` of the instrument now in force, with the book's next seq."""
    book.seq += 1
    return InstrumentListed(
        symbol=book.symbol,
        ts=cmd.ts,
        seq=book.seq,
        command_id=cmd.command_id,
        instrument=cmd.instrument,
        version=cmd.version,
        actor=cmd.actor,
        reason=cmd.reason,
    )


def parse_listing(text: str) -> Instrument | str:
    """The instrument a listing's JSON describes, or why it describes none."""
    try:
        return Instrument.model_validate_json(text)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        return f"invalid instrument: {exc}"


# -- one function per command -------------------------------------------------------------------
def _set_status(book: SymbolBook, cmd: SetTradingStatus) -> TradingStatusChanged:
    previous = book.status
    book.set_status(cmd.status)
    book.seq += 1
    return TradingStatusChanged(
        symbol=book.symbol,
        ts=cmd.ts,
        seq=book.seq,
        command_id=cmd.command_id,
        status=cmd.status,
        previous=previous,
        actor=cmd.actor,
        reason=cmd.reason,
    )


def _mass_cancel(book: SymbolBook, cmd: MassCancel) -> list[Event]:
    events = cancel_open_orders(book, cmd.ts, cmd.command_id, cmd.account_id)
    if events:
        return events
    whose = "any account" if cmd.account_id is None else f"account {cmd.account_id}"
    return [_refusal(book, cmd, RejectReason.UNKNOWN_ORDER, f"no open order of {whose} to cancel")]


def _freeze(book: SymbolBook, cmd: FreezeAccount) -> list[Event]:
    book.set_frozen(cmd.account_id, cmd.frozen)
    book.seq += 1
    events: list[Event] = [
        AccountFrozen(
            symbol=book.symbol,
            ts=cmd.ts,
            seq=book.seq,
            command_id=cmd.command_id,
            account_id=cmd.account_id,
            frozen=cmd.frozen,
            actor=cmd.actor,
            reason=cmd.reason,
        )
    ]
    if cmd.frozen:
        events.extend(cancel_open_orders(book, cmd.ts, cmd.command_id, cmd.account_id))
    return events


def _relist(book: SymbolBook, cmd: ListInstrument) -> list[Event]:
    instrument = parse_listing(cmd.instrument)
    if isinstance(instrument, str):
        return [_refusal(book, cmd, RejectReason.INVALID_COMMAND, instrument)]
    current = book.instrument
    for field in IMMUTABLE_FIELDS:
        was, now = getattr(current, field), getattr(instrument, field)
        if was != now:
            detail = f"{field} cannot change once listed (was {was}, now {now})"
            return [_refusal(book, cmd, RejectReason.INVALID_COMMAND, detail)]
    book.relist(instrument, cmd.instrument, cmd.version)
    return [listed(book, cmd)]


def _refusal(
    book: SymbolBook, cmd: OperatorCommand, reason: RejectReason, detail: str
) -> OrderRejected:
    account_id = cmd.account_id if isinstance(cmd, MassCancel | FreezeAccount) else None
    return book.rejection(cmd.ts, "", account_id or "", reason, detail, cmd.command_id)


def _arrival(order: Order) -> int:
    return order.arrival
