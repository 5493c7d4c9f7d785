"""The naive reference model's order record and its rules: why a command is refused (the
symbol's status and frozen accounts included), the band and the limit a market-like order trades
within. Written as plainly as possible; see ``reference`` for the book and the matching.
"""

from dataclasses import dataclass

from exchange.domain import (
    AmendOrder,
    Instrument,
    InstrumentStatus,
    NewOrder,
    OrderType,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
)


@dataclass
class RefOrder:
    order_id: str
    account_id: str
    side: Side
    kind: OrderType
    tif: TimeInForce
    price: int | None
    stop_price: int | None
    qty: int
    filled: int
    stp: StpMode
    post_only: bool
    stamp: int  # time priority on the book, or arrival among held stops
    protection: int | None = None
    # Acceptance, or the amend that lost the order its priority: what "oldest first" means
    # when an operator cancels many orders.
    arrival: int = 0

    @property
    def open_qty(self) -> int:
        return self.qty - self.filled


class ReferenceRules:
    """The checks, over state that ``ReferenceBook`` keeps."""

    instrument: Instrument
    resting: list[RefOrder]
    stops: list[RefOrder]
    seen_orders: set[str]
    band_trade: int | None  # the last trade of at least band_min_qty
    status: InstrumentStatus
    frozen: set[str]

    # -- the band ---------------------------------------------------------------------------------
    def band_reference(self) -> int | None:
        if self.band_trade is not None:
            return self.band_trade
        return self.instrument.reference_ticks

    def moves_band(self, qty: int) -> bool:
        minimum = self.instrument.band_min_lots
        return minimum is None or qty >= minimum

    def out_of_band(self, price: int) -> bool:
        reference = self.band_reference()
        if reference is None:
            return False
        low, high = self.instrument.band(reference)
        return not low <= price <= high

    def limit_of(self, taker: RefOrder) -> int | None:
        """The worst price the taker may trade at: a limit order's price; for a market-like
        order the tighter of its protection price and the band's edge (None: no limit)."""
        if taker.price is not None:
            return taker.price
        limit = taker.protection
        reference = self.band_reference()
        if reference is not None:
            low, high = self.instrument.band(reference)
            if taker.side == Side.BUY:
                limit = high if limit is None else min(limit, high)
            else:
                limit = low if limit is None else max(limit, low)
        return limit

    def too_high(self, price: int | None) -> bool:
        maximum = self.instrument.max_price_ticks
        return price is not None and maximum is not None and price > maximum

    # -- the book's top ---------------------------------------------------------------------------
    def best(self, side: Side) -> int | None:
        prices = [o.price for o in self.resting if o.side == side]
        if not prices:
            return None
        return max(prices) if side == Side.BUY else min(prices)  # type: ignore[type-var]

    def would_take(self, side: Side, price: int) -> bool:
        best = self.best(Side.SELL if side == Side.BUY else Side.BUY)
        return best is not None and (best <= price if side == Side.BUY else best >= price)

    # -- commands ---------------------------------------------------------------------------------
    def new_order_problem(self, cmd: NewOrder) -> RejectReason | None:  # noqa: PLR0911, PLR0912
        if cmd.order_id in self.seen_orders:
            return RejectReason.DUPLICATE_ORDER_ID
        self.seen_orders.add(cmd.order_id)
        if self.status == InstrumentStatus.HALTED:
            return RejectReason.SYMBOL_HALTED
        if self.status == InstrumentStatus.CANCEL_ONLY:
            return RejectReason.SYMBOL_CANCEL_ONLY
        if self.status == InstrumentStatus.DELISTED:
            return RejectReason.INSTRUMENT_NOT_TRADING
        if self.status == InstrumentStatus.POST_ONLY and (
            cmd.order_type != OrderType.LIMIT or cmd.tif != TimeInForce.GTC
        ):
            return RejectReason.SYMBOL_POST_ONLY
        if cmd.account_id in self.frozen:
            return RejectReason.ACCOUNT_FROZEN
        if cmd.qty <= 0:
            return RejectReason.INVALID_QUANTITY
        if cmd.qty < self.instrument.min_lots:
            return RejectReason.QUANTITY_BELOW_MIN
        if cmd.qty > self.instrument.max_lots:
            return RejectReason.QUANTITY_ABOVE_MAX
        needs_price = cmd.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        if needs_price != (cmd.price is not None) or (cmd.price is not None and cmd.price <= 0):
            return RejectReason.INVALID_PRICE
        if self.too_high(cmd.price):
            return RejectReason.INVALID_PRICE
        needs_stop = cmd.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_stop != (cmd.stop_price is not None):
            return RejectReason.INVALID_ORDER
        if cmd.stop_price is not None and (cmd.stop_price <= 0 or self.too_high(cmd.stop_price)):
            return RejectReason.INVALID_PRICE
        protection = cmd.protection_price
        if protection is not None and (needs_price or protection <= 0 or self.too_high(protection)):
            return RejectReason.INVALID_PRICE
        if cmd.post_only and (cmd.order_type != OrderType.LIMIT or cmd.tif != TimeInForce.GTC):
            return RejectReason.INVALID_ORDER
        if cmd.price is not None and self.out_of_band(cmd.price):
            return RejectReason.PRICE_OUT_OF_BAND
        if cmd.price is not None and self.would_take(cmd.side, cmd.price):
            if cmd.post_only:
                return RejectReason.POST_ONLY_WOULD_TAKE
            if self.status == InstrumentStatus.POST_ONLY:
                return RejectReason.SYMBOL_POST_ONLY
        return None

    def amend_problem(  # noqa: PLR0911, PLR0912
        self, cmd: AmendOrder, order: RefOrder
    ) -> RejectReason | None:
        if self.status == InstrumentStatus.HALTED:
            return RejectReason.SYMBOL_HALTED
        if self.status == InstrumentStatus.DELISTED:
            return RejectReason.INSTRUMENT_NOT_TRADING
        if self.status == InstrumentStatus.CANCEL_ONLY and not (
            cmd.qty is not None and cmd.qty < order.qty and cmd.price in (None, order.price)
        ):
            return RejectReason.SYMBOL_CANCEL_ONLY
        if order.account_id in self.frozen:
            return RejectReason.ACCOUNT_FROZEN
        if order in self.stops:
            return RejectReason.INVALID_ORDER
        if cmd.price is None and cmd.qty is None:
            return RejectReason.INVALID_ORDER
        if cmd.price is not None and (cmd.price <= 0 or self.too_high(cmd.price)):
            return RejectReason.INVALID_PRICE
        if cmd.qty is not None:
            if cmd.qty <= 0:
                return RejectReason.INVALID_QUANTITY
            if cmd.qty <= order.filled:
                return None
            if cmd.qty < self.instrument.min_lots:
                return RejectReason.QUANTITY_BELOW_MIN
            if cmd.qty > self.instrument.max_lots:
                return RejectReason.QUANTITY_ABOVE_MAX
        if cmd.price is not None and cmd.price != order.price:
            if self.out_of_band(cmd.price):
                return RejectReason.PRICE_OUT_OF_BAND
            if self.would_take(order.side, cmd.price):
                if order.post_only:
                    return RejectReason.POST_ONLY_WOULD_TAKE
                if self.status == InstrumentStatus.POST_ONLY:
                    return RejectReason.SYMBOL_POST_ONLY
        return None
