"""One symbol's book and matcher: commands in, events out. No I/O, no clock, deterministic.

Event order within one command (every event takes the next ``seq`` of the symbol):

* ``NewOrder``: ``OrderAccepted``; then, for each step of matching, a ``Trade`` followed by the
  ``BookDelta`` of the maker's level (or, when self-trade prevention cancels a maker, its
  ``OrderCancelled`` followed by that delta); then the taker's end: the ``BookDelta`` of the level
  it rests on, or ``OrderExpired``, or its ``OrderCancelled`` (self-trade prevention). Nothing
  follows a fully filled taker. A FOK that cannot fill completely (within its limit) is
  ``OrderAccepted`` then ``OrderExpired`` with no trade.
* A market order, and a stop once triggered, trades only within its limit: its
  ``protection_price``, tightened to the band around the band's reference (``symbol``); with
  neither, it has no limit. What it cannot fill ends in ``OrderExpired`` with reason
  ``PRICE_PROTECTION`` when the other side still holds orders (all beyond its limit), and
  ``MARKET_NO_LIQUIDITY`` when the other side is empty, limit or not. So a protected market
  order is ``OrderAccepted``, its trades and deltas up to its limit, then ``OrderExpired``; a
  protected stop is ``OrderAccepted`` alone, and when released the same after ``OrderTriggered``.
* ``CancelOrder``: ``OrderCancelled``, then the level's ``BookDelta`` (none for a held stop).
* ``AmendOrder``: ``OrderAmended`` then the level's ``BookDelta`` when priority is kept; when it is
  lost, ``OrderAmended``, the old level's ``BookDelta``, then matching and resting as for a new
  order. An amend to at or below the filled quantity is ``OrderCancelled`` then the ``BookDelta``.
* After any of these, stops the last trade price has reached are released one at a time in
  trigger order (see ``stops``): ``OrderTriggered``, then matching and the end as above.
* A refused command is one ``OrderRejected``. A cancel or amend whose ``command_id`` was already
  seen yields no events at all and takes no ``seq``. A cancel or amend naming an order id never
  seen is ``OrderRejected`` (``UNKNOWN_ORDER``) and cancels that id before its order arrives: a
  later ``NewOrder`` with it is ``OrderRejected`` (``DUPLICATE_ORDER_ID``).
* The symbol's status and frozen accounts (``symbol``) refuse a user's new order or amend before
  anything else about it is checked but its ids and, for an amend, its order: ``SYMBOL_HALTED``,
  ``SYMBOL_CANCEL_ONLY``, ``SYMBOL_POST_ONLY`` (a market, stop, IOC or FOK order),
  ``INSTRUMENT_NOT_TRADING`` when delisted, then ``ACCOUNT_FROZEN``. A POST_ONLY limit (or amend)
  that would cross is ``SYMBOL_POST_ONLY`` where a post-only order's ``POST_ONLY_WOULD_TAKE``
  would come. Cancels are never refused for either.

Operators' commands (``operator``; a ``command_id`` already seen: no events, as above):

* ``SetTradingStatus``: ``TradingStatusChanged``, also when the status is unchanged.
* ``MassCancel``: for each open order of the target, oldest (by arrival) first,
  ``OrderCancelled`` (reason OPERATOR, the command's ``command_id``) then its level's
  ``BookDelta`` (none for a held stop). Nothing open: ``OrderRejected`` (``UNKNOWN_ORDER``,
  ``order_id`` "").
* ``FreezeAccount``: ``AccountFrozen``; when freezing, then the account's cancels as above.
* ``ListInstrument``: ``InstrumentListed`` (``seq`` 1 of a new symbol); a change of a field fixed
  at listing, or JSON that is no instrument, is ``OrderRejected`` (``INVALID_COMMAND``); a
  version not newer than the book's yields no events.

This file is over the 400-line norm on purpose: it is the one hot path (new order, match, cancel,
amend, stop release) that ``make build-engine`` compiles with mypyc, and keeping it in one module
lets mypyc call between these methods natively instead of through Python's call protocol.
Splitting it would cost throughput for no gain in reading: the event order above is its map.
"""

from typing import Final

from engine_service.core.book import BookSide, Level, Order
from engine_service.core.rules import cancel_fields, check_new_order, new_order_fields
from engine_service.core.symbol import BookCore
from exchange.domain import (
    AmendOrder,
    BookDelta,
    CancelOrder,
    CancelReason,
    Event,
    ExpireReason,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    OrderTriggered,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
    Trade,
)

_BUY: Final = Side.BUY
_SELL: Final = Side.SELL
_GTC: Final = TimeInForce.GTC
_FOK: Final = TimeInForce.FOK
_NO_STP: Final = StpMode.NONE
_CANCEL_NEWEST: Final = StpMode.CANCEL_NEWEST
_DEFAULT_STP: Final = StpMode.CANCEL_NEWEST  # OrderAccepted's default
_CANCEL_OLDEST: Final = StpMode.CANCEL_OLDEST
_STP: Final = CancelReason.SELF_TRADE_PREVENTION
_USER: Final = CancelReason.USER_REQUESTED
_NO_LIQUIDITY: Final = ExpireReason.MARKET_NO_LIQUIDITY
_PROTECTION: Final = ExpireReason.PRICE_PROTECTION
# Event classes as constants: compiled, a call then needs no lookup in the module's globals.
_ACCEPTED: Final = OrderAccepted
_TRADE: Final = Trade
_DELTA: Final = BookDelta
_CANCELLED: Final = OrderCancelled
_AMENDED: Final = OrderAmended
_TRIGGERED: Final = OrderTriggered
# A market-like taker crosses every level: no key is below this.
_NO_LIMIT: Final = -(1 << 62)


class SymbolBook(BookCore):
    """One symbol's command handlers and matcher over the state in ``BookCore``."""

    # -- commands -------------------------------------------------------------------------------
    def new_order(self, cmd: NewOrder) -> list[Event]:  # noqa: PLR0912 - guard clauses, inline
        (_, ts, order_id, account_id, client_order_id, side, kind, tif, qty, price, stop_price,
         post_only, stp, protection) = new_order_fields(cmd)  # fmt: skip
        seen = self.seen_orders
        # An open order's id is in the window unless the window has evicted it since.
        if not seen.add(order_id) or (seen.evicted and order_id in self.orders):
            return self._reject(cmd, RejectReason.DUPLICATE_ORDER_ID, self._duplicate(order_id))
        if self.restricted:
            rejection = self._restriction(account_id, kind, tif)
            if rejection is not None:
                return self._reject(cmd, rejection[0], rejection[1])
        rejection = check_new_order(
            qty,
            kind,
            tif,
            price,
            stop_price,
            protection=protection,
            post_only=post_only,
            min_lots=self.min_lots,
            max_lots=self.max_lots,
            max_price=self.max_price,
        )
        if rejection is not None:
            return self._reject(cmd, rejection[0], rejection[1])
        is_buy = side is _BUY
        if price is not None:
            rejection = self._check_band(price)
            if rejection is not None:
                return self._reject(cmd, rejection[0], rejection[1])
            if post_only or self.restricted:
                rejection = self._resting_only(post_only, is_buy, price)
                if rejection is not None:
                    return self._reject(cmd, rejection[0], rejection[1])
        self.seq += 1
        if stop_price is None and protection is None and not post_only and stp is _DEFAULT_STP:
            # The common case, built without the fields at their defaults: msgspec pays for
            # every keyword it matches, and this is the hottest event.
            accepted = _ACCEPTED(
                symbol=self.symbol,
                ts=ts,
                seq=self.seq,
                order_id=order_id,
                account_id=account_id,
                client_order_id=client_order_id,
                side=side,
                order_type=kind,
                tif=tif,
                qty=qty,
                price=price,
            )
        else:
            accepted = _ACCEPTED(
                symbol=self.symbol,
                ts=ts,
                seq=self.seq,
                order_id=order_id,
                account_id=account_id,
                client_order_id=client_order_id,
                side=side,
                order_type=kind,
                tif=tif,
                qty=qty,
                price=price,
                stop_price=stop_price,
                post_only=post_only,
                stp=stp,
                protection_price=protection,
            )
        events: list[Event] = [accepted]
        self.arrival += 1
        order = Order(
            order_id,
            account_id,
            is_buy,
            kind,
            tif,
            0 if price is None else price,
            0 if stop_price is None else stop_price,
            qty,
            0,
            stp,
            post_only,
            self.arrival,
            0 if protection is None else protection,
        )
        if stop_price is not None:
            self.orders[order_id] = order
            self.stops.add(order)
        else:
            self._take(order, events, ts)
        if self.stops.count and self.last_price:
            self._release_stops(events, ts)
        return events

    def cancel(self, cmd: CancelOrder) -> list[Event]:
        _, ts, command_id, order_id, account_id = cancel_fields(cmd)
        if not self.seen_commands.add(command_id):
            return []
        order = self.orders.pop(order_id, None)
        if order is None or order.account_id != account_id:
            if order is not None:
                self.orders[order_id] = order  # not theirs to cancel: put it back
            return [self._refuse(cmd, self._not_open(order_id, order))]
        self.seq += 1
        events: list[Event] = [
            _CANCELLED(
                symbol=self.symbol,
                ts=ts,
                seq=self.seq,
                order_id=order_id,
                account_id=account_id,
                cancelled_qty=order.open_qty,
                reason=_USER,
                command_id=command_id,
            )
        ]
        self._unlink(order, events, ts)
        return events

    def amend(self, cmd: AmendOrder) -> list[Event]:
        if not self.seen_commands.add(cmd.command_id):
            return []
        order = self._open_order(cmd)
        if isinstance(order, OrderRejected):
            return [order]
        rejection = self._check_amend(cmd, order)
        if rejection is not None:
            return [self._refuse(cmd, rejection)]
        ts = cmd.ts
        price = order.price if cmd.price is None else cmd.price
        qty = order.qty if cmd.qty is None else cmd.qty
        events: list[Event] = []
        self.seq += 1
        if qty <= order.filled:
            events.append(
                _CANCELLED(
                    symbol=self.symbol,
                    ts=ts,
                    seq=self.seq,
                    order_id=order.order_id,
                    account_id=order.account_id,
                    cancelled_qty=order.open_qty,
                    reason=CancelReason.AMENDED_TO_FILLED,
                    command_id=cmd.command_id,
                )
            )
            self._unbook(order, events, ts)
            return events
        amended = _AMENDED(
            symbol=self.symbol,
            ts=ts,
            seq=self.seq,
            order_id=order.order_id,
            account_id=order.account_id,
            command_id=cmd.command_id,
            price=price,
            qty=qty,
            open_qty=qty - order.filled,
        )
        events.append(amended)
        if price == order.price and qty <= order.qty:
            # Smaller (or unchanged) at the same price: stays where it is in the queue.
            side = self.bids if order.is_buy else self.asks
            level = side.levels[side.key(price)]
            reduce = order.qty - qty
            order.qty = qty
            order.open_qty -= reduce
            level.qty -= reduce
            if reduce:
                self._delta(events, ts, order.is_buy, level)
            return events
        self._unbook(order, events, ts)
        self.arrival += 1
        replacement = Order(
            order.order_id,
            order.account_id,
            order.is_buy,
            order.order_type,
            order.tif,
            price,
            order.stop_price,
            qty,
            order.filled,
            order.stp,
            order.post_only,
            self.arrival,
            order.protection,
        )
        self._take(replacement, events, ts)
        if self.stops.count and self.last_price:
            self._release_stops(events, ts)
        return events

    # -- matching -------------------------------------------------------------------------------
    def _take(self, taker: Order, events: list[Event], ts: int) -> None:
        """Match ``taker`` against the other side, then rest, expire or drop its remainder."""
        is_buy = taker.is_buy
        opposite = self.asks if is_buy else self.bids
        price = taker.price
        if price:
            threshold = -price if is_buy else price
        else:
            threshold = self._market_threshold(is_buy, taker.protection)
        if taker.tif is _FOK and not self._fillable(taker, opposite, threshold):
            self._expire(taker, events, ts, ExpireReason.FOK_NOT_FILLABLE)
            return
        if (
            opposite.keys
            and opposite.keys[-1] >= threshold
            and self._match(taker, opposite, threshold, events, ts)
        ):
            return
        if taker.open_qty == 0:
            return
        if price and taker.tif is _GTC:
            self.orders[taker.order_id] = taker
            own = self.bids if is_buy else self.asks
            level = own.add(taker)
            self._delta(events, ts, is_buy, level)
        elif price:
            self._expire(taker, events, ts, ExpireReason.IOC_REMAINDER)
        else:
            # Liquidity left on the other side is all beyond the taker's limit: protection
            # stopped it. An empty side would have stopped it whatever its limit.
            self._expire(taker, events, ts, _PROTECTION if opposite.keys else _NO_LIQUIDITY)

    def _market_threshold(self, is_buy: bool, protection: int) -> int:
        """The threshold key of a market-like taker: its protection price (0: none), tightened
        to the band around the band's reference; ``_NO_LIMIT`` when it has neither."""
        limit = protection
        reference = self.band_price or self.opening
        if reference:
            low, high = self._band(reference)
            if is_buy:
                if not limit or limit > high:
                    limit = high
            elif limit < low:
                limit = low
        if not limit:
            return _NO_LIMIT
        return -limit if is_buy else limit

    def _match(
        self, taker: Order, opposite: BookSide, threshold: int, events: list[Event], ts: int
    ) -> bool:
        """Cross the taker against ``opposite``; True when self-trade prevention cancelled it."""
        symbol = self.symbol
        orders = self.orders
        keys = opposite.keys
        levels = opposite.levels
        maker_is_buy = not taker.is_buy
        aggressor = _BUY if taker.is_buy else _SELL
        taker_id = taker.order_id
        account = taker.account_id
        stp = taker.stp
        remaining = taker.open_qty
        while remaining and keys:
            key = keys[-1]
            if key < threshold:
                break
            level = levels[key]
            maker = level.first()
            if stp is not _NO_STP and maker.account_id == account:
                if stp is not _CANCEL_NEWEST:
                    self._cancel_maker(maker, opposite, level, events, ts)
                    if stp is _CANCEL_OLDEST:
                        continue
                taker.filled += taker.open_qty - remaining
                taker.open_qty = remaining
                self.seq += 1
                events.append(
                    _CANCELLED(
                        symbol=symbol,
                        ts=ts,
                        seq=self.seq,
                        order_id=taker_id,
                        account_id=account,
                        cancelled_qty=remaining,
                        reason=_STP,
                    )
                )
                taker.open_qty = 0
                return True
            fill = min(maker.open_qty, remaining)
            remaining -= fill
            maker.open_qty -= fill
            maker.filled += fill
            level.qty -= fill
            price = level.price
            self.last_price = price
            if fill >= self.band_min:
                self.band_price = price
            self.seq += 1
            events.append(
                _TRADE(
                    symbol=symbol,
                    ts=ts,
                    seq=self.seq,
                    maker_order_id=maker.order_id,
                    taker_order_id=taker_id,
                    maker_account_id=maker.account_id,
                    taker_account_id=account,
                    price=price,
                    qty=fill,
                    aggressor_side=aggressor,
                )
            )
            if maker.open_qty == 0:
                del orders[maker.order_id]
                level.remove(maker)
                if level.count == 0:
                    opposite.drop(key)
            self.seq += 1
            events.append(
                _DELTA(
                    symbol=symbol,
                    ts=ts,
                    seq=self.seq,
                    side=_BUY if maker_is_buy else _SELL,
                    price=price,
                    qty=level.qty,
                    orders=level.count,
                )
            )
        taker.filled += taker.open_qty - remaining
        taker.open_qty = remaining
        return False

    def _fillable(self, taker: Order, opposite: BookSide, threshold: int) -> bool:
        """Whether the taker would fill completely now, honouring its self-trade prevention."""
        needed = taker.open_qty
        stp = taker.stp
        account = taker.account_id
        keys = opposite.keys
        for i in range(len(keys) - 1, -1, -1):
            if keys[i] < threshold:
                return False
            level = opposite.levels[keys[i]]
            if stp is _NO_STP:
                needed -= level.qty
            else:
                for maker in level.live_orders():
                    if maker.account_id != account:
                        needed -= maker.open_qty
                    elif stp is not _CANCEL_OLDEST:
                        return False
                    if needed <= 0:
                        return True
            if needed <= 0:
                return True
        return False

    def _release_stops(self, events: list[Event], ts: int) -> None:
        stops = self.stops
        while True:
            order = stops.pop_due(self.last_price)
            if order is None:
                return
            del self.orders[order.order_id]
            self.seq += 1
            events.append(
                _TRIGGERED(
                    symbol=self.symbol,
                    ts=ts,
                    seq=self.seq,
                    order_id=order.order_id,
                    account_id=order.account_id,
                    last_price=self.last_price,
                )
            )
            self._take(order, events, ts)

    # -- helpers --------------------------------------------------------------------------------
    def _cancel_maker(
        self, maker: Order, side: BookSide, level: Level, events: list[Event], ts: int
    ) -> None:
        self.seq += 1
        events.append(
            _CANCELLED(
                symbol=self.symbol,
                ts=ts,
                seq=self.seq,
                order_id=maker.order_id,
                account_id=maker.account_id,
                cancelled_qty=maker.open_qty,
                reason=_STP,
            )
        )
        del self.orders[maker.order_id]
        side.remove(maker)
        maker.open_qty = 0
        self._delta(events, ts, side.is_buy, level)

    def _unbook(self, order: Order, events: list[Event], ts: int) -> None:
        """Take an open order off the book (or the stop book), with its level's delta."""
        del self.orders[order.order_id]
        self._unlink(order, events, ts)

    def _unlink(self, order: Order, events: list[Event], ts: int) -> None:
        """``_unbook`` for an order already out of ``self.orders``."""
        if order.held:
            self.stops.remove(order)
        else:
            side = self.bids if order.is_buy else self.asks
            level = side.remove(order)
            self._delta(events, ts, order.is_buy, level)
        order.open_qty = 0
