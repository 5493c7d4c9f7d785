"""Snapshot and restore of one symbol's book, and its L2 / L3 views.

``restore(export(book))`` gives a book whose future events are identical to the original's: queue
order, held stops and their arrival order, counters, the last trade price, the band's reference
and the dedupe windows are all kept, and so are the operators' status, frozen accounts and the
instrument in force. Dead entries awaiting compaction are not: they never change an event.
"""

from engine_service.core.book import BookSide, Order
from engine_service.core.cores import Core
from engine_service.core.matcher import SymbolBook
from engine_service.core.operator import parse_listing
from engine_service.core.state import (
    SNAPSHOT_VERSION,
    BookState,
    L2View,
    L3Level,
    L3View,
    LevelView,
    OrderState,
    OrderView,
)


def _order_state(order: Order) -> OrderState:
    return OrderState(
        order.order_id,
        order.account_id,
        order.is_buy,
        order.order_type,
        order.tif,
        order.price,
        order.stop_price,
        order.qty,
        order.filled,
        order.stp,
        order.post_only,
        order.arrival,
        order.protection,
    )


def _order(core: Core, state: OrderState) -> Order:
    return core.order(
        state.order_id,
        state.account_id,
        state.is_buy,
        state.order_type,
        state.tif,
        state.price,
        state.stop_price,
        state.qty,
        state.filled,
        state.stp,
        state.post_only,
        state.arrival,
        state.protection,
    )


def _resting(side: BookSide) -> list[OrderState]:
    return [
        _order_state(order) for level in side.top(len(side.keys)) for order in level.live_orders()
    ]


def export_book(book: SymbolBook) -> BookState:
    return BookState(
        symbol=book.symbol,
        seq=book.seq,
        last_price=book.last_price,
        arrival=book.arrival,
        resting=_resting(book.bids) + _resting(book.asks),
        stops=[_order_state(order) for order in book.stops.held()],
        seen_orders=book.seen_orders.as_list(),
        seen_commands=book.seen_commands.as_list(),
        band_price=book.band_price,
        cancelled_early=book.seen_orders.flagged_list(),
        status=book.status,
        frozen=sorted(book.frozen),
        instrument=book.listing,
        instrument_version=book.version,
    )


def restore_book(
    state: BookState,
    static: SymbolBook | None,
    dedupe_window: int,
    core: Core,
    version: int = SNAPSHOT_VERSION,
) -> SymbolBook:
    """The book ``state`` describes; ``static`` is the (empty) book of the static instruments
    file's definition of the symbol, if it has one.

    The instrument: the snapshot's when an operator listed it (version 1 or more); the static
    file's when the snapshot holds that one (version 0), so a changed file takes effect; the
    snapshot's JSON when the file lacks the symbol. The status: the snapshot's (it is journaled
    state); a snapshot before version 3 has none, so the instrument's. A version 1 snapshot
    predates the band's own reference: its band followed every trade, so its last trade becomes
    the band's reference. ``core``: whose classes to build it from.
    """
    kind = core.symbol_book
    if static is not None and state.instrument_version == 0:
        book = kind(static.instrument, dedupe_window, static.listing)
    elif state.instrument:
        instrument = parse_listing(state.instrument)
        if isinstance(instrument, str):
            raise ValueError(f"snapshot of {state.symbol}: {instrument}")
        book = kind(instrument, dedupe_window, state.instrument, state.instrument_version)
    else:
        raise ValueError(f"snapshot holds {state.symbol}, not among the instruments")
    if book.symbol != state.symbol:
        raise ValueError(f"snapshot of {state.symbol} restored for {book.symbol}")
    book.seq = state.seq
    book.last_price = state.last_price
    book.band_price = state.last_price if version == 1 else state.band_price
    book.arrival = state.arrival
    for item in state.resting:
        order = _order(core, item)
        book.orders[order.order_id] = order
        (book.bids if order.is_buy else book.asks).add(order)
    for item in state.stops:
        order = _order(core, item)
        book.orders[order.order_id] = order
        book.stops.add(order)
    book.seen_orders = core.recent_ids(dedupe_window, state.seen_orders, state.cancelled_early)
    book.seen_commands = core.recent_ids(dedupe_window, state.seen_commands)
    for account_id in state.frozen:
        book.set_frozen(account_id, True)
    if state.status is not None:
        book.set_status(state.status)
    return book


def l2_view(book: SymbolBook, depth: int) -> L2View:
    def levels(side: BookSide) -> list[LevelView]:
        return [LevelView(lvl.price, lvl.qty, lvl.count) for lvl in side.top(depth)]

    return L2View(symbol=book.symbol, seq=book.seq, bids=levels(book.bids), asks=levels(book.asks))


def l3_view(book: SymbolBook, depth: int) -> L3View:
    def levels(side: BookSide) -> list[L3Level]:
        return [
            L3Level(
                price=lvl.price,
                qty=lvl.qty,
                orders=[OrderView(o.order_id, o.account_id, o.open_qty) for o in lvl.live_orders()],
            )
            for lvl in side.top(depth)
        ]

    return L3View(symbol=book.symbol, seq=book.seq, bids=levels(book.bids), asks=levels(book.asks))
