"""Rebuild a book from its journaled events: snapshot at ``seq`` S + replay after S = the state
of an uninterrupted run.

Each event is applied as the fact it records; nothing is matched again. A taker between its
``OrderAccepted`` / ``OrderTriggered`` / priority-losing ``OrderAmended`` and its end is held
aside until the ``BookDelta`` that rests it (the only delta on the taker's own side and price
whose total includes it), its ``OrderExpired`` or its self-trade ``OrderCancelled``. Every delta
is checked against the rebuilt level, so a journal that does not fit the book fails loudly.

A ``Trade`` moves the last price and, when at least the band's minimum quantity, the band's
reference; an ``UNKNOWN_ORDER`` refusal of an order id the book has never seen flags it as
cancelled before arrival, as the matcher did.

Operators' events set what they record: ``TradingStatusChanged`` the status, ``AccountFrozen``
the frozen accounts, ``InstrumentListed`` the instrument in force (``Engine.replay`` creates the
book of a symbol listed at run time from it); an operator's cancels (reason OPERATOR) are
cancels like any other. Each remembers its command id, as the matcher did.
"""

from collections.abc import Callable

from engine_service.core.book import BookSide, Order
from engine_service.core.cores import Core
from engine_service.core.matcher import SymbolBook
from engine_service.core.operator import parse_listing
from exchange.domain import (
    AccountFrozen,
    BookDelta,
    Event,
    Instrument,
    InstrumentListed,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderTriggered,
    RejectReason,
    Side,
    Trade,
    TradingStatusChanged,
)


class ReplayError(ValueError):
    """A journaled event that does not fit the book being rebuilt."""


class BookReplayer:
    """Applies one symbol's events, in ``seq`` order, to its book."""

    def __init__(self, book: SymbolBook, order: Callable[..., Order]) -> None:
        """``order``: the order class of the book's own core (``Core.order``)."""
        self.book = book
        self.taker: Order | None = None
        self._order = order

    def apply(self, event: Event) -> None:
        book = self.book
        if event.seq != book.seq + 1:
            raise ReplayError(f"{book.symbol}: event seq {event.seq} after {book.seq}")
        book.seq = event.seq
        if isinstance(event, BookDelta):
            self._delta(event)
        elif isinstance(event, Trade):
            self._trade(event)
        elif isinstance(event, OrderAccepted):
            self._accepted(event)
        elif isinstance(event, OrderCancelled):
            self._cancelled(event)
        elif isinstance(event, OrderExpired):
            self._end_taker(event.order_id)
        elif isinstance(event, OrderAmended):
            self._amended(event)
        elif isinstance(event, OrderTriggered):
            self._triggered(event)
        elif isinstance(event, OrderRejected):
            self._rejected(event)
        elif isinstance(event, TradingStatusChanged):
            book.seen_commands.add(event.command_id)
            book.set_status(event.status)
        elif isinstance(event, AccountFrozen):
            book.seen_commands.add(event.command_id)
            book.set_frozen(event.account_id, event.frozen)
        elif isinstance(event, InstrumentListed):
            book.seen_commands.add(event.command_id)
            book.relist(_instrument(event), event.instrument, event.version)

    # -- one method per event -------------------------------------------------------------------
    def _accepted(self, event: OrderAccepted) -> None:
        book = self.book
        book.seen_orders.add(event.order_id)
        book.arrival += 1
        order = self._order(
            event.order_id,
            event.account_id,
            event.side is Side.BUY,
            event.order_type,
            event.tif,
            event.price or 0,
            event.stop_price or 0,
            event.qty,
            0,
            event.stp,
            event.post_only,
            book.arrival,
            event.protection_price or 0,
        )
        if order.stop_price:
            book.orders[order.order_id] = order
            book.stops.add(order)
        else:
            self.taker = order

    def _triggered(self, event: OrderTriggered) -> None:
        book = self.book
        order = book.stops.pop_due(event.last_price)
        if order is None or order.order_id != event.order_id:
            raise ReplayError(
                f"{book.symbol}: {event.order_id} is not the stop due at seq {event.seq}"
            )
        del book.orders[order.order_id]
        self.taker = order

    def _trade(self, event: Trade) -> None:
        book = self.book
        taker = self._taker(event.taker_order_id)
        maker = book.orders.get(event.maker_order_id)
        if maker is None or maker.held:
            raise ReplayError(f"{book.symbol}: maker {event.maker_order_id} is not on the book")
        side = self._side(maker.is_buy)
        level = side.level(side.key(maker.price))
        if level is None:
            raise ReplayError(f"{book.symbol}: maker {event.maker_order_id} has no level")
        maker.open_qty -= event.qty
        maker.filled += event.qty
        level.qty -= event.qty
        if maker.open_qty == 0:
            del book.orders[maker.order_id]
            side.remove(maker)
        taker.open_qty -= event.qty
        taker.filled += event.qty
        if taker.open_qty == 0:
            self.taker = None
        book.last_price = event.price
        if event.qty >= book.band_min:
            book.band_price = event.price

    def _delta(self, event: BookDelta) -> None:
        is_buy = event.side is Side.BUY
        side = self._side(is_buy)
        key = side.key(event.price)
        level = side.level(key)
        taker = self.taker
        if (
            taker is not None
            and taker.open_qty > 0
            and taker.is_buy == is_buy
            and taker.price == event.price
            and (0 if level is None else level.qty) + taker.open_qty == event.qty
        ):
            self.book.orders[taker.order_id] = taker
            level = side.add(taker)
            self.taker = None
        state = (0, 0) if level is None or level.count == 0 else (level.qty, level.count)
        if state != (event.qty, event.orders):
            raise ReplayError(f"{self.book.symbol}: delta at seq {event.seq} does not fit the book")

    def _rejected(self, event: OrderRejected) -> None:
        book = self.book
        if event.command_id is None:
            book.seen_orders.add(event.order_id)
            return
        book.seen_commands.add(event.command_id)
        order_id = event.order_id
        if (
            order_id  # an operator command's refusal names no order (``SymbolBook._not_open``)
            and event.reason is RejectReason.UNKNOWN_ORDER
            and not book.seen_orders.has(order_id)
            and order_id not in book.orders
        ):
            book.seen_orders.flag(order_id)  # see ``SymbolBook._not_open``

    def _cancelled(self, event: OrderCancelled) -> None:
        book = self.book
        if event.command_id is not None:
            book.seen_commands.add(event.command_id)
        if self.taker is not None and self.taker.order_id == event.order_id:
            self.taker = None
            return
        order = book.orders.pop(event.order_id, None)
        if order is None:
            raise ReplayError(f"{book.symbol}: cancelled {event.order_id} is not open")
        if order.held:
            book.stops.remove(order)
        else:
            self._side(order.is_buy).remove(order)

    def _amended(self, event: OrderAmended) -> None:
        book = self.book
        book.seen_commands.add(event.command_id)
        order = book.orders[event.order_id]
        side = self._side(order.is_buy)
        if event.price == order.price and event.qty <= order.qty:
            reduce = order.qty - event.qty
            order.qty = event.qty
            order.open_qty -= reduce
            level = side.level(side.key(order.price))
            if level is None:
                raise ReplayError(f"{book.symbol}: amended {event.order_id} has no level")
            level.qty -= reduce
            return
        del book.orders[order.order_id]
        side.remove(order)
        book.arrival += 1
        self.taker = self._order(
            order.order_id,
            order.account_id,
            order.is_buy,
            order.order_type,
            order.tif,
            event.price,
            order.stop_price,
            event.qty,
            order.filled,
            order.stp,
            order.post_only,
            book.arrival,
            order.protection,
        )

    # -- helpers --------------------------------------------------------------------------------
    def _side(self, is_buy: bool) -> BookSide:
        return self.book.bids if is_buy else self.book.asks

    def _taker(self, order_id: str) -> Order:
        taker = self.taker
        if taker is None or taker.order_id != order_id:
            raise ReplayError(f"{self.book.symbol}: {order_id} is not the order taking now")
        return taker

    def _end_taker(self, order_id: str) -> None:
        self._taker(order_id)
        self.taker = None


def listed_book(event: Event, dedupe_window: int, core: Core) -> SymbolBook:
    """The empty book of a symbol listed at run time, from its first event (which the book's
    replayer then applies as its ``seq`` 1)."""
    if not isinstance(event, InstrumentListed):
        raise ReplayError(f"event of {event.symbol}, which this engine does not list")
    return core.symbol_book(_instrument(event), dedupe_window, event.instrument, event.version)


def _instrument(event: InstrumentListed) -> Instrument:
    instrument = parse_listing(event.instrument)
    if isinstance(instrument, str):
        raise ReplayError(f"{event.symbol}: listing at seq {event.seq}: {instrument}")
    return instrument
