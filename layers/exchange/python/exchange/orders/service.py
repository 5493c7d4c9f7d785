"""Placing, amending, cancelling and reading orders: the logic behind the orders function.

``place`` checks the order against its symbol's trading status (``trading_status``), its
instrument and the account (``terms``; nothing is written for a bad order), then places it once
per idempotency key (``placement``: claim the key, hold the funds, record PENDING_NEW, publish
with a confirm). ``amend`` checks the status too, and holds what the amend adds to the order's
hold before it publishes; ``cancel`` publishes, whatever the status. An unkeyed command runs
once per request.
``cancel_all`` cancels every open order (``mass_cancel``), the ``*_by_client_order_id`` methods
find an order by the client's id (``lookup``), and ``cancel_after`` is the account's dead man's
switch (``cancel_after``).
"""

import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.domain.commands import AmendOrder, CancelOrder
from exchange.domain.enums import StpMode
from exchange.domain.instruments import Instrument, InstrumentCatalog
from exchange.ids import command_id, new_order_id
from exchange.ledger.port import LedgerPort
from exchange.orders.cancel_after import DeadMansSwitch
from exchange.orders.errors import (
    InvalidOrder,
    OrderNotFound,
    OrderNotOpen,
    SelfTradeNotAllowed,
    StoreUnavailable,
    TimerUnavailable,
)
from exchange.orders.keys import OrderKeys
from exchange.orders.lookup import OrderLookup, find_by_client_order_id
from exchange.orders.mass_cancel import MassCancel, MassCancelResult
from exchange.orders.model import (
    ALL_TIME,
    Accepted,
    Fill,
    Order,
    OrderQuery,
    OrderRequest,
    Page,
    PageKey,
    TimeWindow,
)
from exchange.orders.placement import Placement, request_payload
from exchange.orders.publisher import CommandSink
from exchange.orders.store import OrderStore
from exchange.orders.terms import PROTECTED, amend_terms, new_order_terms
from exchange.orders.trading_status import check_amend, check_new_order
from exchange.settings import DEFAULT_MAX_OPEN_ORDERS

if TYPE_CHECKING:
    # Powertools' idempotency loads boto3; the function that uses it imports it at start-up.
    from exchange.orders.idempotency import IdempotentRunner


class OrderService:
    def __init__(
        self,
        *,
        instruments: InstrumentCatalog,
        store: OrderStore,
        keys: OrderKeys,
        ledger: LedgerPort,
        sink: CommandSink,
        idempotency: "IdempotentRunner",
        max_open_orders: int = DEFAULT_MAX_OPEN_ORDERS,
        market_makers: Collection[str] = (),
        lookup: OrderLookup | None = None,
        cancel_after: DeadMansSwitch | None = None,
        clock: Callable[[], int] = time.time_ns,
        new_id: Callable[[int], str] = new_order_id,
    ) -> None:
        self._instruments = instruments
        self._store = store
        self._ledger = ledger
        self._sink = sink
        self._idempotency = idempotency
        self._market_makers = frozenset(market_makers)
        self._clock = clock
        self._lookup = lookup
        self._cancel_after = cancel_after
        self._mass_cancel = (
            MassCancel(lookup=lookup, sink=sink, limit=max_open_orders, clock=clock)
            if lookup is not None
            else None
        )
        self._placement = Placement(
            store=store,
            keys=keys,
            ledger=ledger,
            sink=sink,
            max_open_orders=max_open_orders,
            clock=clock,
            new_id=new_id,
        )

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
        instrument = self._instruments.get(request.symbol)
        check_new_order(instrument, order_type=request.order_type, tif=request.tif)
        if request.stp is StpMode.NONE and account_id not in self._market_makers:
            raise SelfTradeNotAllowed(
                "stp NONE (allowing self-trades) is for market makers; use another stp mode"
            )
        protected = request.order_type in PROTECTED
        terms = new_order_terms(
            instrument, request, self._reference(instrument) if protected else None
        )
        key = idempotency_key or request.client_order_id
        if key is None:
            return self._placement.place(account_id, request, terms, key=None)
        stored = self._idempotency.run(
            f"place\x1f{account_id}\x1f{key}",
            request_payload(request),
            lambda: self._placement.place(account_id, request, terms, key=key).as_dict(),
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
        ticks, lots = amend_terms(instrument, order, price=price, qty=qty)
        check_amend(instrument, order, price_ticks=ticks, qty_lots=lots)

        def publish(cid: str) -> Accepted:
            command = AmendOrder(
                symbol=order.symbol,
                ts=self._clock(),
                command_id=cid,
                order_id=order_id,
                account_id=account_id,
                price=ticks,
                qty=lots,
            )
            # Before it is sent: settlement never takes more than an order holds. Typed ledger
            # errors (InsufficientFunds, ...) hold nothing, and nothing is published.
            self._ledger.reserve_amend(command)
            self._sink.publish(command)
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

    def cancel_all(
        self,
        account_id: str,
        *,
        symbol: str | None,
        idempotency_key: str | None = None,
        context: LambdaContext | None = None,
    ) -> MassCancelResult:
        """One cancel per open order of the account (of ``symbol``), at most the open-order cap.
        With a key the first answer is kept: a retry gets it again (nothing listed or sent anew,
        so an order placed since is left alone), and the key with another symbol is a 409."""
        if symbol is not None:
            self._instruments.get(symbol)  # UnknownInstrument for a symbol we do not list
        mass_cancel = self._mass_cancel
        if mass_cancel is None:
            raise StoreUnavailable("cancel-all is not configured here")
        if idempotency_key is None:
            return mass_cancel.cancel_all(account_id, source="cancel_all", symbol=symbol)
        stored = self._idempotency.run(
            f"cancel_all\x1f{account_id}\x1f{idempotency_key}",
            {"symbol": symbol},
            lambda: mass_cancel.cancel_all(
                account_id, source="cancel_all", symbol=symbol, key=idempotency_key
            ).as_dict(),
            context,
        )
        return MassCancelResult.from_dict(stored)

    def cancel_by_client_order_id(
        self,
        account_id: str,
        client_order_id: str,
        *,
        idempotency_key: str | None = None,
        context: LambdaContext | None = None,
    ) -> Accepted:
        order = self.by_client_order_id(account_id, client_order_id)
        return self.cancel(
            account_id, order.order_id, idempotency_key=idempotency_key, context=context
        )

    @property
    def cancel_after(self) -> DeadMansSwitch:
        if self._cancel_after is None:
            raise TimerUnavailable("the dead man's switch is not configured here")
        return self._cancel_after

    # -- reads ----------------------------------------------------------------------------------
    def get(self, account_id: str, order_id: str) -> Order:
        order = self._store.get(account_id, order_id)
        if order is None:
            raise OrderNotFound(f"no order {order_id}")
        return order

    def by_client_order_id(self, account_id: str, client_order_id: str) -> Order:
        """The newest open order with this client order id, else the newest one (a client may
        reuse a client order id across orders it sends with distinct Idempotency-Keys); one
        placed a moment ago included."""
        if self._lookup is None:
            raise StoreUnavailable("reads by client order id are not configured here")
        order = find_by_client_order_id(
            self._lookup, account_id, client_order_id, now_ns=self._clock()
        )
        if order is None:
            raise OrderNotFound(f"no order with client_order_id {client_order_id}")
        return order

    def list(self, account_id: str, query: OrderQuery, after: PageKey | None) -> Page[Order]:
        if query.symbol is not None:
            self._instruments.get(query.symbol)  # UnknownInstrument for a symbol we do not list
        return self._store.list(account_id, query, after)

    def fills(
        self,
        account_id: str,
        *,
        order_id: str | None,
        limit: int,
        after: PageKey | None,
        window: TimeWindow = ALL_TIME,
    ) -> Page[Fill]:
        return self._store.fills(
            account_id, order_id=order_id, limit=limit, after=after, window=window
        )

    # -- internals ------------------------------------------------------------------------------
    def _reference(self, instrument: Instrument) -> int | None:
        """The band's reference in ticks: the last trade that may move it, else the instrument's
        configured one."""
        last = self._store.last_trade_price(instrument.symbol, min_qty=instrument.band_min_qty)
        if last is not None:
            return instrument.price_to_ticks(last)
        return instrument.reference_ticks

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
