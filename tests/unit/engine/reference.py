"""A deliberately naive reference matcher: the spec, written as plainly as possible.

Resting orders live in one flat list and every question ("best maker?", "level total?") is
answered by filtering and sorting that list from scratch. It is slow and obviously right; the real
engine must produce the same events, field for field (``detail`` text aside). What is refused
and why, the band and a market order's limit are in ``reference_rules``; operators' commands in
``reference_operators``.
"""

from typing import Any

from exchange.domain import (
    AmendOrder,
    BookDelta,
    CancelOrder,
    CancelReason,
    EngineCommand,
    Event,
    ExpireReason,
    Instrument,
    InstrumentStatus,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderTriggered,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
    Trade,
)
from tests.unit.engine.reference_operators import ReferenceOperators
from tests.unit.engine.reference_rules import RefOrder


class ReferenceBook(ReferenceOperators):
    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.version = 0
        self.status: InstrumentStatus = instrument.status
        self.frozen: set[str] = set()
        self.arrivals = 0
        self.resting: list[RefOrder] = []
        self.stops: list[RefOrder] = []
        self.seq = 0
        self.last: int | None = None  # the last trade: what stops trigger on
        self.band_trade: int | None = None
        self.clock = 0
        self.seen_orders: set[str] = set()
        self.seen_commands: set[str] = set()
        self.events: list[Event] = []
        self.ts = 0

    # -- plumbing -------------------------------------------------------------------------------
    def emit(self, cls: type[Event], **fields: Any) -> None:
        self.seq += 1
        self.events.append(cls(symbol=self.instrument.symbol, ts=self.ts, seq=self.seq, **fields))

    def reject(self, cmd: NewOrder | CancelOrder | AmendOrder, reason: RejectReason) -> None:
        command_id = None if isinstance(cmd, NewOrder) else cmd.command_id
        self.emit(
            OrderRejected,
            order_id=cmd.order_id,
            account_id=cmd.account_id,
            reason=reason,
            command_id=command_id,
        )

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def arrive(self) -> int:
        self.arrivals += 1
        return self.arrivals

    def level(self, side: Side, price: int) -> list[RefOrder]:
        queue = [o for o in self.resting if o.side == side and o.price == price]
        return sorted(queue, key=lambda o: o.stamp)

    def delta(self, side: Side, price: int) -> None:
        queue = self.level(side, price)
        self.emit(
            BookDelta, side=side, price=price, qty=sum(o.open_qty for o in queue), orders=len(queue)
        )

    def crossing_makers(self, taker: RefOrder, limit: int | None) -> list[RefOrder]:
        """Makers the taker may trade with, in priority order."""
        other = [o for o in self.resting if o.side != taker.side]
        if limit is not None:
            other = [
                o
                for o in other
                if (o.price <= limit if taker.side == Side.BUY else o.price >= limit)  # type: ignore[operator]
            ]
        sign = 1 if taker.side == Side.BUY else -1
        return sorted(other, key=lambda o: (sign * o.price, o.stamp))  # type: ignore[operator]

    # -- commands -------------------------------------------------------------------------------
    def apply(self, cmd: EngineCommand) -> list[Event]:
        self.events = []
        self.ts = cmd.ts
        if isinstance(cmd, NewOrder):
            self.new(cmd)
        elif isinstance(cmd, CancelOrder):
            self.cancel(cmd)
        elif isinstance(cmd, AmendOrder):
            self.amend(cmd)
        else:
            self.operate(cmd)
        return self.events

    def new(self, cmd: NewOrder) -> None:
        problem = self.new_order_problem(cmd)
        if problem is not None:
            self.reject(cmd, problem)
            return
        self.emit(
            OrderAccepted,
            order_id=cmd.order_id,
            account_id=cmd.account_id,
            client_order_id=cmd.client_order_id,
            side=cmd.side,
            order_type=cmd.order_type,
            tif=cmd.tif,
            qty=cmd.qty,
            price=cmd.price,
            stop_price=cmd.stop_price,
            post_only=cmd.post_only,
            stp=cmd.stp,
            protection_price=cmd.protection_price,
        )
        order = RefOrder(
            cmd.order_id,
            cmd.account_id,
            cmd.side,
            cmd.order_type,
            cmd.tif,
            cmd.price,
            cmd.stop_price,
            cmd.qty,
            0,
            cmd.stp,
            cmd.post_only,
            self.tick(),
            cmd.protection_price,
            self.arrive(),
        )
        if cmd.stop_price is not None:
            self.stops.append(order)
        else:
            self.take(order)
        self.trigger_stops()

    def find(self, cmd: CancelOrder | AmendOrder) -> RefOrder | None:
        """The open order named, or None after rejecting the command."""
        for order in self.resting + self.stops:
            if order.order_id == cmd.order_id:
                if order.account_id != cmd.account_id:
                    self.reject(cmd, RejectReason.NOT_ORDER_OWNER)
                    return None
                return order
        # An order id never seen is cancelled before its order arrives: the id is taken.
        self.seen_orders.add(cmd.order_id)
        self.reject(cmd, RejectReason.UNKNOWN_ORDER)
        return None

    def remove(self, order: RefOrder) -> None:
        if order in self.stops:
            self.stops.remove(order)
        else:
            self.resting.remove(order)
            self.delta(order.side, order.price)  # type: ignore[arg-type]

    def cancel(self, cmd: CancelOrder) -> None:
        if cmd.command_id in self.seen_commands:
            return
        self.seen_commands.add(cmd.command_id)
        order = self.find(cmd)
        if order is None:
            return
        self.emit(
            OrderCancelled,
            order_id=order.order_id,
            account_id=order.account_id,
            cancelled_qty=order.open_qty,
            reason=CancelReason.USER_REQUESTED,
            command_id=cmd.command_id,
        )
        self.remove(order)

    def amend(self, cmd: AmendOrder) -> None:
        if cmd.command_id in self.seen_commands:
            return
        self.seen_commands.add(cmd.command_id)
        order = self.find(cmd)
        if order is None:
            return
        problem = self.amend_problem(cmd, order)
        if problem is not None:
            self.reject(cmd, problem)
            return
        price = order.price if cmd.price is None else cmd.price
        qty = order.qty if cmd.qty is None else cmd.qty
        assert price is not None
        if qty <= order.filled:
            self.emit(
                OrderCancelled,
                order_id=order.order_id,
                account_id=order.account_id,
                cancelled_qty=order.open_qty,
                reason=CancelReason.AMENDED_TO_FILLED,
                command_id=cmd.command_id,
            )
            self.remove(order)
            return
        self.emit(
            OrderAmended,
            order_id=order.order_id,
            account_id=order.account_id,
            command_id=cmd.command_id,
            price=price,
            qty=qty,
            open_qty=qty - order.filled,
        )
        if price == order.price and qty <= order.qty:
            changed = qty != order.qty
            order.qty = qty
            if changed:
                self.delta(order.side, price)
            return
        self.remove(order)
        order.price, order.qty, order.stamp, order.arrival = price, qty, self.tick(), self.arrive()
        self.take(order)
        self.trigger_stops()

    # -- matching -------------------------------------------------------------------------------
    def fillable(self, taker: RefOrder, limit: int | None) -> bool:
        need = taker.open_qty
        for maker in self.crossing_makers(taker, limit):
            if maker.account_id == taker.account_id and taker.stp != StpMode.NONE:
                if taker.stp == StpMode.CANCEL_OLDEST:
                    continue
                return False
            need -= maker.open_qty
            if need <= 0:
                return True
        return False

    def take(self, taker: RefOrder) -> None:
        limit = self.limit_of(taker)  # fixed when it starts to take
        if taker.tif == TimeInForce.FOK and not self.fillable(taker, limit):
            self.expire(taker, ExpireReason.FOK_NOT_FILLABLE)
            return
        while taker.open_qty > 0:
            makers = self.crossing_makers(taker, limit)
            if not makers:
                break
            maker = makers[0]
            if maker.account_id == taker.account_id and taker.stp != StpMode.NONE:
                if taker.stp in (StpMode.CANCEL_OLDEST, StpMode.CANCEL_BOTH):
                    self.emit(
                        OrderCancelled,
                        order_id=maker.order_id,
                        account_id=maker.account_id,
                        cancelled_qty=maker.open_qty,
                        reason=CancelReason.SELF_TRADE_PREVENTION,
                    )
                    self.remove(maker)
                    if taker.stp == StpMode.CANCEL_OLDEST:
                        continue
                self.emit(
                    OrderCancelled,
                    order_id=taker.order_id,
                    account_id=taker.account_id,
                    cancelled_qty=taker.open_qty,
                    reason=CancelReason.SELF_TRADE_PREVENTION,
                )
                return
            fill = min(taker.open_qty, maker.open_qty)
            taker.filled += fill
            maker.filled += fill
            self.last = maker.price
            if self.moves_band(fill):
                self.band_trade = maker.price
            self.emit(
                Trade,
                maker_order_id=maker.order_id,
                taker_order_id=taker.order_id,
                maker_account_id=maker.account_id,
                taker_account_id=taker.account_id,
                price=maker.price,
                qty=fill,
                aggressor_side=taker.side,
            )
            if maker.open_qty == 0:
                self.resting.remove(maker)
            self.delta(maker.side, maker.price)  # type: ignore[arg-type]
        if taker.open_qty > 0:
            self.end(taker)

    def end(self, taker: RefOrder) -> None:
        """What becomes of a taker's remainder once nothing more crosses."""
        if taker.price is not None and taker.tif == TimeInForce.GTC:
            taker.stamp = self.tick()
            self.resting.append(taker)
            self.delta(taker.side, taker.price)
        elif taker.price is not None:
            self.expire(taker, ExpireReason.IOC_REMAINDER)
        elif any(o.side != taker.side for o in self.resting):
            self.expire(taker, ExpireReason.PRICE_PROTECTION)  # what is left is beyond its limit
        else:
            self.expire(taker, ExpireReason.MARKET_NO_LIQUIDITY)

    def expire(self, taker: RefOrder, reason: ExpireReason) -> None:
        self.emit(
            OrderExpired,
            order_id=taker.order_id,
            account_id=taker.account_id,
            expired_qty=taker.open_qty,
            reason=reason,
        )

    def trigger_stops(self) -> None:
        while self.last is not None:
            last = self.last
            buys = [o for o in self.stops if o.side == Side.BUY and o.stop_price <= last]  # type: ignore[operator]
            sells = [o for o in self.stops if o.side == Side.SELL and o.stop_price >= last]  # type: ignore[operator]
            if buys:
                order = min(buys, key=lambda o: (o.stop_price, o.stamp))
            elif sells:
                order = min(sells, key=lambda o: (-o.stop_price, o.stamp))  # type: ignore[operator]
            else:
                return
            self.stops.remove(order)
            self.emit(
                OrderTriggered,
                order_id=order.order_id,
                account_id=order.account_id,
                last_price=last,
            )
            self.take(order)
