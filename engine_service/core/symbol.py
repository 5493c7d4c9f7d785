"""The state of one symbol's book, and the small pieces every command handler shares:
building events with the next ``seq``, and the checks that need the book (band, post-only).

``SymbolBook`` (in ``matcher``) adds the command handlers and the matching on top.
"""

from typing import Final

from engine_service.core.book import BookSide, Level, Order
from engine_service.core.recent import RecentIds
from engine_service.core.rules import Rejection, check_quantity
from engine_service.core.stops import StopBook
from exchange.domain import (
    AmendOrder,
    BookDelta,
    CancelOrder,
    Event,
    ExpireReason,
    Instrument,
    NewOrder,
    OrderExpired,
    OrderRejected,
    RejectReason,
    Side,
)

_BUY: Final = Side.BUY
_SELL: Final = Side.SELL
# Event classes as constants: compiled, a call then needs no lookup in the module's globals.
_DELTA: Final = BookDelta
_EXPIRED: Final = OrderExpired
_REJECTED: Final = OrderRejected


class BookCore:
    """The book, held stops, counters and dedupe windows of one symbol."""

    def __init__(self, instrument: Instrument, dedupe_window: int) -> None:
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.trading = instrument.is_trading
        self.min_lots = instrument.min_lots
        self.max_lots = instrument.max_lots
        self.bids = BookSide(True)
        self.asks = BookSide(False)
        self.orders: dict[str, Order] = {}  # every open order: resting or held stop
        self.stops = StopBook()
        self.seq = 0
        self.last_price = 0  # 0 until the first trade: no reference, no band
        self.arrival = 0
        self.seen_orders = RecentIds(dedupe_window)
        self.seen_commands = RecentIds(dedupe_window)
        self._bands: dict[int, tuple[int, int]] = {}

    # -- events and checks shared by the handlers ------------------------------------------------
    def _delta(self, events: list[Event], ts: int, is_buy: bool, level: Level) -> None:
        self.seq += 1
        events.append(
            _DELTA(
                symbol=self.symbol,
                ts=ts,
                seq=self.seq,
                side=_BUY if is_buy else _SELL,
                price=level.price,
                qty=level.qty,
                orders=level.count,
            )
        )

    def _expire(self, taker: Order, events: list[Event], ts: int, reason: ExpireReason) -> None:
        self.seq += 1
        events.append(
            _EXPIRED(
                symbol=self.symbol,
                ts=ts,
                seq=self.seq,
                order_id=taker.order_id,
                account_id=taker.account_id,
                expired_qty=taker.open_qty,
                reason=reason,
            )
        )
        taker.open_qty = 0

    def _would_take(self, is_buy: bool, price: int) -> bool:
        best = (self.asks if is_buy else self.bids).best_price()
        return best is not None and (best <= price if is_buy else best >= price)

    def _check_band(self, price: int) -> Rejection | None:
        reference = self.last_price
        if not reference:
            return None
        band = self._bands.get(reference)
        if band is None:
            if len(self._bands) >= 4096:
                self._bands.clear()
            band = self.instrument.band(reference)
            self._bands[reference] = band
        if band[0] <= price <= band[1]:
            return None
        return (
            RejectReason.PRICE_OUT_OF_BAND,
            f"price {price} is outside the band {band[0]}..{band[1]} around {reference}",
        )

    def _check_amend(  # noqa: PLR0911 - one guard clause per reason
        self, cmd: AmendOrder, order: Order
    ) -> Rejection | None:
        if not self.trading:
            return RejectReason.INSTRUMENT_NOT_TRADING, self._status()
        if order.held:
            return (
                RejectReason.INVALID_ORDER,
                "held stops cannot be amended; cancel and replace",
            )
        if cmd.price is None and cmd.qty is None:
            return RejectReason.INVALID_ORDER, "amend changes neither price nor quantity"
        if cmd.price is not None and cmd.price <= 0:
            return RejectReason.INVALID_PRICE, f"price must be positive, was {cmd.price}"
        if cmd.qty is not None:
            if cmd.qty <= 0:
                return RejectReason.INVALID_QUANTITY, f"quantity must be positive, was {cmd.qty}"
            if cmd.qty <= order.filled:
                return None  # cancels the order, whatever the price
            rejection = check_quantity(cmd.qty, self.min_lots, self.max_lots)
            if rejection is not None:
                return rejection
        if cmd.price is not None and cmd.price != order.price:
            rejection = self._check_band(cmd.price)
            if rejection is not None:
                return rejection
            if order.post_only and self._would_take(order.is_buy, cmd.price):
                return RejectReason.POST_ONLY_WOULD_TAKE, "post-only order would take"
        return None

    def _open_order(self, cmd: CancelOrder | AmendOrder) -> Order | OrderRejected:
        """The open order a cancel or amend names, or the rejection to answer with."""
        order = self.orders.get(cmd.order_id)
        if order is None or order.account_id != cmd.account_id:
            return self._refuse(cmd, unknown_or_foreign(cmd.order_id, order))
        return order

    def _status(self) -> str:
        return f"{self.symbol} is {self.instrument.status}"

    def _reject(self, cmd: NewOrder, reason: RejectReason, detail: str) -> list[Event]:
        return [self.rejection(cmd.ts, cmd.order_id, cmd.account_id, reason, detail, None)]

    def _refuse(self, cmd: CancelOrder | AmendOrder, rejection: Rejection) -> OrderRejected:
        return self.rejection(
            cmd.ts, cmd.order_id, cmd.account_id, rejection[0], rejection[1], cmd.command_id
        )

    def rejection(  # noqa: PLR0917 - one place builds every rejection
        self,
        ts: int,
        order_id: str,
        account_id: str,
        reason: RejectReason,
        detail: str,
        command_id: str | None,
    ) -> OrderRejected:
        self.seq += 1
        return _REJECTED(
            symbol=self.symbol,
            ts=ts,
            seq=self.seq,
            order_id=order_id,
            account_id=account_id,
            reason=reason,
            command_id=command_id,
            detail=detail,
        )


def unknown_or_foreign(order_id: str, order: Order | None) -> Rejection:
    if order is None:
        return RejectReason.UNKNOWN_ORDER, f"no open order {order_id}"
    return RejectReason.NOT_ORDER_OWNER, "order of another account"
