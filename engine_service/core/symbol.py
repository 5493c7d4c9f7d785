"""The state of one symbol's book, and the small pieces every command handler shares:
building events with the next ``seq``, and the checks that need the book (band, post-only).

``SymbolBook`` (in ``matcher``) adds the command handlers and the matching on top.

The band's reference is ``band_price``, the price of the last trade of at least the instrument's
``band_min_qty`` (so one-lot trades, e.g. an account trading with itself, cannot walk it), and
before any such trade the instrument's ``reference_price`` (``opening``); with neither there is
no band. ``last_price`` is the last trade of any size: it only triggers stops.

Operators' state (``exchange.domain.commands``' operator commands, handled in ``operator``): the
symbol's ``status``, the accounts ``frozen`` in it, and the instrument in force with its JSON
(``listing``) and ``version`` (0: the static instruments file's). ``restricted`` is true while
any of them may refuse a user's command (a status other than TRADING, or a frozen account), so
the hot path pays one attribute test for all of them; what each status allows is the table in
``InstrumentStatus``'s docstring.
"""

from typing import Final

from engine_service.core.book import BookSide, Level, Order
from engine_service.core.recent import RecentIds
from engine_service.core.rules import NO_MAX_PRICE, Rejection, check_price, check_quantity
from engine_service.core.stops import StopBook
from exchange.domain import (
    AmendOrder,
    BookDelta,
    CancelOrder,
    Event,
    ExpireReason,
    Instrument,
    InstrumentStatus,
    NewOrder,
    OrderExpired,
    OrderRejected,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)

_BUY: Final = Side.BUY
_SELL: Final = Side.SELL
# Event classes as constants: compiled, a call then needs no lookup in the module's globals.
_DELTA: Final = BookDelta
_EXPIRED: Final = OrderExpired
_REJECTED: Final = OrderRejected
_TRADING: Final = InstrumentStatus.TRADING
_POST_ONLY: Final = InstrumentStatus.POST_ONLY
_CANCEL_ONLY: Final = InstrumentStatus.CANCEL_ONLY
_HALTED: Final = InstrumentStatus.HALTED
_LIMIT: Final = OrderType.LIMIT
_GTC: Final = TimeInForce.GTC


class BookCore:
    """The book, held stops, counters and dedupe windows of one symbol."""

    def __init__(
        self,
        instrument: Instrument,
        dedupe_window: int,
        listing: str | None = None,
        version: int = 0,
    ) -> None:
        """A new book, ``status`` the instrument's. ``listing`` is the instrument's JSON as
        journaled (by default its own dump: the static file's definition, ``version`` 0)."""
        self.symbol = instrument.symbol
        self.bids = BookSide(True)
        self.asks = BookSide(False)
        self.orders: dict[str, Order] = {}  # every open order: resting or held stop
        self.stops = StopBook()
        self.seq = 0
        self.last_price = 0  # the last trade (0 before the first): what stops trigger on
        self.band_price = 0  # the band's reference (module docstring): ``band_price or opening``
        self.arrival = 0
        self.seen_orders = RecentIds(dedupe_window)
        self.seen_commands = RecentIds(dedupe_window)
        self.status = instrument.status
        self.frozen: set[str] = set()
        self.restricted = self.status is not _TRADING
        # The instrument in force and the rules taken from it (``relist`` replaces them). Set
        # here rather than through ``relist`` so that mypyc knows them always defined: the hot
        # path then reads them without a check.
        self.instrument = instrument
        self.listing = instrument.model_dump_json() if listing is None else listing
        self.version = version
        self.min_lots = instrument.min_lots
        self.max_lots = instrument.max_lots
        self.max_price = instrument.max_price_ticks or NO_MAX_PRICE
        self.band_min = instrument.band_min_lots or 0
        self.opening = instrument.reference_ticks or 0  # 0 = no band before a band trade
        self._bands: dict[int, tuple[int, int]] = {}

    # -- operators' state ------------------------------------------------------------------------
    def set_status(self, status: InstrumentStatus) -> None:
        self.status = status
        self.restricted = status is not _TRADING or bool(self.frozen)

    def set_frozen(self, account_id: str, frozen: bool) -> None:
        if frozen:
            self.frozen.add(account_id)
        else:
            self.frozen.discard(account_id)
        self.restricted = self.status is not _TRADING or bool(self.frozen)

    def relist(self, instrument: Instrument, listing: str, version: int) -> None:
        """Put a changed instrument in force: the limits, band and reference of orders from
        now on (open orders stay as they are). The status is not the listing's to change."""
        self.instrument = instrument
        self.listing = listing
        self.version = version
        self.min_lots = instrument.min_lots
        self.max_lots = instrument.max_lots
        self.max_price = instrument.max_price_ticks or NO_MAX_PRICE
        self.band_min = instrument.band_min_lots or 0
        self.opening = instrument.reference_ticks or 0
        self._bands = {}

    def _restriction(self, account_id: str, kind: OrderType, tif: TimeInForce) -> Rejection | None:
        """Why the status or a freeze refuses a new order before its own fields are checked
        (a POST_ONLY limit that would cross is refused later, by ``_resting_only``)."""
        status = self.status
        if status is _HALTED:
            return RejectReason.SYMBOL_HALTED, self._status()
        if status is _CANCEL_ONLY:
            return RejectReason.SYMBOL_CANCEL_ONLY, self._status()
        if status is _POST_ONLY:
            if kind is not _LIMIT or tif is not _GTC:
                return (
                    RejectReason.SYMBOL_POST_ONLY,
                    f"{self._status()}: only GTC limit orders that rest, not {kind} {tif}",
                )
        elif status is not _TRADING:
            return RejectReason.INSTRUMENT_NOT_TRADING, self._status()
        if account_id in self.frozen:
            return RejectReason.ACCOUNT_FROZEN, f"account {account_id} is frozen"
        return None

    def _amend_restriction(self, cmd: AmendOrder, order: Order) -> Rejection | None:
        """Why the status or a freeze refuses an amend (a POST_ONLY amend that would cross is
        refused later, by ``_resting_only``)."""
        status = self.status
        if status is _HALTED:
            return RejectReason.SYMBOL_HALTED, self._status()
        if status is _CANCEL_ONLY:
            reduces = cmd.qty is not None and cmd.qty < order.qty
            if not reduces or (cmd.price is not None and cmd.price != order.price):
                return (
                    RejectReason.SYMBOL_CANCEL_ONLY,
                    f"{self._status()}: an amend may only reduce the quantity, at the same price",
                )
        elif status is not _TRADING and status is not _POST_ONLY:
            return RejectReason.INSTRUMENT_NOT_TRADING, self._status()
        if order.account_id in self.frozen:
            return RejectReason.ACCOUNT_FROZEN, f"account {order.account_id} is frozen"
        return None

    def _resting_only(self, post_only: bool, is_buy: bool, price: int) -> Rejection | None:
        """Why a limit at ``price`` may not take: its own post-only flag, or the symbol's
        POST_ONLY status. Called when either may apply (a freeze alone makes it answer None)."""
        if post_only:
            if self._would_take(is_buy, price):
                return RejectReason.POST_ONLY_WOULD_TAKE, "post-only order would take"
        elif self.status is _POST_ONLY and self._would_take(is_buy, price):
            return RejectReason.SYMBOL_POST_ONLY, f"{self._status()}: the order would take"
        return None

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

    def _band(self, reference: int) -> tuple[int, int]:
        """The lowest and highest price allowed around ``reference`` (cached: it is exact
        rational arithmetic)."""
        band = self._bands.get(reference)
        if band is None:
            if len(self._bands) >= 4096:
                self._bands.clear()
            band = self.instrument.band(reference)
            self._bands[reference] = band
        return band

    def _check_band(self, price: int) -> Rejection | None:
        reference = self.band_price or self.opening
        if not reference:
            return None
        # The cache looked up here first: every limit order passes, and a call costs more.
        band = self._bands.get(reference)
        if band is None:
            band = self._band(reference)
        if band[0] <= price <= band[1]:
            return None
        return (
            RejectReason.PRICE_OUT_OF_BAND,
            f"price {price} is outside the band {band[0]}..{band[1]} around {reference}",
        )

    def _check_amend(  # noqa: PLR0911, PLR0912 - one guard clause per reason
        self, cmd: AmendOrder, order: Order
    ) -> Rejection | None:
        if self.restricted:
            rejection = self._amend_restriction(cmd, order)
            if rejection is not None:
                return rejection
        if order.held:
            return (
                RejectReason.INVALID_ORDER,
                "held stops cannot be amended; cancel and replace",
            )
        if cmd.price is None and cmd.qty is None:
            return RejectReason.INVALID_ORDER, "amend changes neither price nor quantity"
        if cmd.price is not None:
            rejection = check_price("price", cmd.price, self.max_price)
            if rejection is not None:
                return rejection
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
            if order.post_only or self.restricted:
                return self._resting_only(order.post_only, order.is_buy, cmd.price)
        return None

    def _open_order(self, cmd: CancelOrder | AmendOrder) -> Order | OrderRejected:
        """The open order a cancel or amend names, or the rejection to answer with."""
        order = self.orders.get(cmd.order_id)
        if order is None or order.account_id != cmd.account_id:
            return self._refuse(cmd, self._not_open(cmd.order_id, order))
        return order

    def _not_open(self, order_id: str, order: Order | None) -> Rejection:
        """Why a cancel or amend cannot touch ``order_id``: not this account's, or not open.

        An id the engine has never seen takes effect as cancelled before its order arrived: it
        joins the dedupe window, flagged, so the order is refused should it come later. The API
        settles an ambiguous publish by cancelling the order id, and reads ``UNKNOWN_ORDER`` as
        "the engine never took the order": that answer must stay true. (An amend does the same,
        because its rejection looks exactly like a cancel's to everyone downstream and to replay.)
        """
        if order is not None:
            return RejectReason.NOT_ORDER_OWNER, "order of another account"
        if not order_id or self.seen_orders.has(order_id):
            # An empty id names no order, ever: nothing to flag (and operators' refusals, which
            # carry it, must replay the same way).
            return RejectReason.UNKNOWN_ORDER, f"no open order {order_id}"
        self.seen_orders.flag(order_id)
        return (
            RejectReason.UNKNOWN_ORDER,
            f"no order {order_id} has arrived; its id is cancelled, so it can never arrive",
        )

    def _duplicate(self, order_id: str) -> str:
        """The detail of a ``DUPLICATE_ORDER_ID`` rejection."""
        if self.seen_orders.is_flagged(order_id):
            return f"order id {order_id} was cancelled before the order arrived"
        return f"order id {order_id} already used"

    def _status(self) -> str:
        return f"{self.symbol} is {self.status}"

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
