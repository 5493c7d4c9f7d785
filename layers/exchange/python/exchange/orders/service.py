"""Placing, amending, cancelling and reading orders: the logic behind the orders function.

``place`` validates the order against its instrument (nothing is written for a bad order), then,
once per idempotency key: caps the account's open orders, reserves the funds in the ledger,
records the order as PENDING_NEW and publishes the ``NewOrder`` with a confirm. If recording or
publishing fails, the hold is released and a recorded order is marked REJECTED, so nothing is left
half-way; the caller answers 503 and the client may retry with the same key.

The price band is the engine's to check: its reference is the last trade, which only the engine
knows at the moment the order arrives.
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.domain.commands import AmendOrder, CancelOrder, NewOrder
from exchange.domain.enums import OrderStatus, OrderType, TimeInForce
from exchange.domain.instruments import Instrument, InstrumentCatalog
from exchange.ids import command_id, new_order_id
from exchange.ledger.port import LedgerPort
from exchange.observability import metrics
from exchange.orders.errors import (
    InstrumentNotTrading,
    InvalidOrder,
    OrderNotFound,
    OrderNotOpen,
    QuantityOutOfRange,
    TooManyOpenOrders,
)
from exchange.orders.model import (
    BROKER_UNAVAILABLE_REASON,
    Accepted,
    Fill,
    Order,
    OrderQuery,
    OrderRequest,
    Page,
    PageKey,
)
from exchange.orders.publisher import CommandSink
from exchange.orders.store import OrderStore
from exchange.settings import DEFAULT_MAX_OPEN_ORDERS

if TYPE_CHECKING:
    # Powertools' idempotency loads boto3; the function that uses it imports it at start-up.
    from exchange.orders.idempotency import IdempotentRunner

_PRICED = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_STOPS = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})


@dataclass(frozen=True, slots=True)
class _Terms:
    """A new order's quantity, price and stop in lots and ticks, checked against its instrument."""

    lots: int
    price_ticks: int | None
    stop_ticks: int | None


class OrderService:
    def __init__(
        self,
        *,
        instruments: InstrumentCatalog,
        store: OrderStore,
        ledger: LedgerPort,
        sink: CommandSink,
        idempotency: "IdempotentRunner",
        max_open_orders: int = DEFAULT_MAX_OPEN_ORDERS,
        clock: Callable[[], int] = time.time_ns,
        new_id: Callable[[int], str] = new_order_id,
    ) -> None:
        self._instruments = instruments
        self._store = store
        self._ledger = ledger
        self._sink = sink
        self._idempotency = idempotency
        self._max_open = max_open_orders
        self._clock = clock
        self._new_id = new_id

    # -- commands -------------------------------------------------------------------------------
    def place(
        self,
        account_id: str,
        request: OrderRequest,
        *,
        idempotency_key: str | None = None,
        context: LambdaContext | None = None,
    ) -> Accepted:
        """Place an order once per key: the header's key, else the client order id."""
        instrument = self._tradable(request.symbol)
        terms = _terms(instrument, request)
        key = idempotency_key or request.client_order_id
        if key is None:
            return self._place(account_id, request, terms)
        stored = self._idempotency.run(
            f"place\x1f{account_id}\x1f{key}",
            _payload(request),
            lambda: self._place(account_id, request, terms).as_dict(),
            context,
        )
        return Accepted.from_dict(stored)

    def amend(
        self,
        account_id: str,
        order_id: str,
        *,
        price: str | None,
        qty: str | None,
        idempotency_key: str | None = None,
        context: LambdaContext | None = None,
    ) -> Accepted:
        if price is None and qty is None:
            raise InvalidOrder("an amend needs a new price, a new quantity, or both")
        order = self._open_order(account_id, order_id)
        instrument = self._instruments.get(order.symbol)
        if price is not None and order.order_type not in _PRICED:
            raise InvalidOrder(f"a {order.order_type} order has no limit price to amend")
        ticks = instrument.price_to_ticks(price) if price is not None else None
        lots = _lots(instrument, qty) if qty is not None else None

        def publish(cid: str) -> Accepted:
            self._sink.publish(
                AmendOrder(
                    symbol=order.symbol,
                    ts=self._clock(),
                    command_id=cid,
                    order_id=order_id,
                    account_id=account_id,
                    price=ticks,
                    qty=lots,
                )
            )
            return Accepted(order_id, "PENDING_AMEND", order.client_order_id, order.symbol, cid)

        return self._command(
            "amend",
            account_id=account_id,
            order_id=order_id,
            payload={"price": price, "qty": qty},
            idempotency_key=idempotency_key,
            context=context,
            publish=publish,
        )

    def cancel(
        self,
        account_id: str,
        order_id: str,
        *,
        idempotency_key: str | None = None,
        context: LambdaContext | None = None,
    ) -> Accepted:
        order = self._open_order(account_id, order_id)

        def publish(cid: str) -> Accepted:
            self._sink.publish(
                CancelOrder(
                    symbol=order.symbol,
                    ts=self._clock(),
                    command_id=cid,
                    order_id=order_id,
                    account_id=account_id,
                )
            )
            return Accepted(order_id, "PENDING_CANCEL", order.client_order_id, order.symbol, cid)

        return self._command(
            "cancel",
            account_id=account_id,
            order_id=order_id,
            payload={},
            idempotency_key=idempotency_key,
            context=context,
            publish=publish,
        )

    # -- reads ----------------------------------------------------------------------------------
    def get(self, account_id: str, order_id: str) -> Order:
        order = self._store.get(account_id, order_id)
        if order is None:
            raise OrderNotFound(f"no order {order_id}")
        return order

    def list(self, account_id: str, query: OrderQuery, after: PageKey | None) -> Page[Order]:
        if query.symbol is not None:
            self._instruments.get(query.symbol)  # UnknownInstrument for a symbol we do not list
        return self._store.list(account_id, query, after)

    def fills(
        self, account_id: str, *, order_id: str | None, limit: int, after: PageKey | None
    ) -> Page[Fill]:
        return self._store.fills(account_id, order_id=order_id, limit=limit, after=after)

    # -- internals ------------------------------------------------------------------------------
    def _tradable(self, symbol: str) -> Instrument:
        instrument = self._instruments.get(symbol)
        if not instrument.is_trading:
            raise InstrumentNotTrading(f"{symbol} is {instrument.status}; orders are not accepted")
        return instrument

    def _place(self, account_id: str, request: OrderRequest, terms: _Terms) -> Accepted:
        if self._store.count_open(account_id, self._max_open) >= self._max_open:
            raise TooManyOpenOrders(
                f"the account has {self._max_open} open orders, the most allowed; cancel some first"
            )
        now = self._clock()
        order_id = self._new_id(now)
        client_order_id = request.client_order_id or order_id
        command = NewOrder(
            symbol=request.symbol,
            ts=now,
            order_id=order_id,
            account_id=account_id,
            client_order_id=client_order_id,
            side=request.side,
            order_type=request.order_type,
            tif=request.tif,
            qty=terms.lots,
            price=terms.price_ticks,
            stop_price=terms.stop_ticks,
            post_only=request.post_only,
            stp=request.stp,
        )
        self._ledger.reserve(command)  # typed ledger errors leave nothing held
        recorded = published = False
        try:
            self._store.add(_pending(account_id, order_id, client_order_id, request, now))
            recorded = True
            self._sink.publish(command)
            published = True
        finally:
            if not published:
                # Undo in reverse: the order first (it must never look live), then the hold.
                if recorded:
                    self._store.reject(
                        account_id,
                        order_id,
                        reason=BROKER_UNAVAILABLE_REASON,
                        detail="the order could not be handed to the matching engine",
                        now_ns=self._clock(),
                    )
                self._ledger.release(order_id)
        metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=1)
        return Accepted(order_id, OrderStatus.PENDING_NEW.value, client_order_id, request.symbol)

    def _open_order(self, account_id: str, order_id: str) -> Order:
        order = self.get(account_id, order_id)
        if not order.status.is_open:
            raise OrderNotOpen(f"order {order_id} is {order.status}; it can no longer change")
        return order

    def _command(
        self,
        operation: str,
        *,
        account_id: str,
        order_id: str,
        payload: dict[str, Any],
        idempotency_key: str | None,
        context: LambdaContext | None,
        publish: Callable[[str], Accepted],
    ) -> Accepted:
        if idempotency_key is None:
            return publish(command_id())
        # The command id follows from the key, so even a retry past the record's expiry is a
        # duplicate the engine drops.
        cid = command_id(account_id, order_id, operation, idempotency_key)
        stored = self._idempotency.run(
            f"{operation}\x1f{account_id}\x1f{order_id}\x1f{idempotency_key}",
            payload,
            lambda: publish(cid).as_dict(),
            context,
        )
        return Accepted.from_dict(stored)


def _terms(instrument: Instrument, request: OrderRequest) -> _Terms:
    kind = request.order_type
    if kind in _PRICED and request.price is None:
        raise InvalidOrder(f"a {kind} order needs a price")
    if kind not in _PRICED and request.price is not None:
        raise InvalidOrder(f"a {kind} order takes no price")
    if kind in _STOPS and request.stop_price is None:
        raise InvalidOrder(f"a {kind} order needs a stop_price")
    if kind not in _STOPS and request.stop_price is not None:
        raise InvalidOrder(f"a {kind} order takes no stop_price")
    if request.post_only and (kind is not OrderType.LIMIT or request.tif is not TimeInForce.GTC):
        raise InvalidOrder("post_only needs a LIMIT GTC order")
    price = instrument.price_to_ticks(request.price) if request.price is not None else None
    stop = instrument.price_to_ticks(request.stop_price) if request.stop_price is not None else None
    return _Terms(_lots(instrument, request.qty), price, stop)


def _lots(instrument: Instrument, qty: str) -> int:
    lots = instrument.qty_to_lots(qty)
    if not instrument.min_lots <= lots <= instrument.max_lots:
        raise QuantityOutOfRange(
            f"quantity must be between {instrument.min_qty} and {instrument.max_qty}, was {qty}"
        )
    return lots


def _pending(
    account_id: str, order_id: str, client_order_id: str, request: OrderRequest, now: int
) -> Order:
    return Order(
        account_id=account_id,
        order_id=order_id,
        client_order_id=client_order_id,
        symbol=request.symbol,
        side=request.side,
        order_type=request.order_type,
        tif=request.tif,
        status=OrderStatus.PENDING_NEW,
        qty=request.qty,
        price=request.price,
        stop_price=request.stop_price,
        post_only=request.post_only,
        stp=request.stp,
        open_qty=request.qty,
        created_ns=now,
        updated_ns=now,
    )


def _payload(request: OrderRequest) -> dict[str, Any]:
    """What the idempotency record compares on a retry: the whole request, as sent."""
    return {
        name: str(value) if value is not None else None for name, value in asdict(request).items()
    }
