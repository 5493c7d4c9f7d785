"""Placing a new order once its terms are checked: one order and one hold per key, whatever fails.

1. Claim ``(account, key)`` for a new order id with one of the account's open-order slots
   (``keys``), before anything is held. A retry finds the claim and resumes that order, so even
   after the idempotency record expired (it expires with an invocation that timed out) a key
   makes no second order or hold.
2. Hold the funds (once per order id, so a resumed order holds nothing more). A definite refusal
   (no such account, KYC, funds, a frozen account) holds nothing: the slot and the claim are
   given back, and no order is recorded.
3. Record the order PENDING_NEW (a resumed order's row may be there already: it is kept).
4. Publish the ``NewOrder`` with a confirm, within the sink's deadline.

An unconfirmed publish (the confirm lost, the connection dropped, the deadline passed) is not a
failure: the engine may hold the order. The order stays PENDING_NEW with its hold and a
``CancelOrder`` for the same id follows on the same queue, so the engine gives a definite answer
either way (cancelled, or "unknown order": it never took it). Once either command is confirmed
the answer is 202; if neither is, 503, the order still kept, and a retry with the same key
resumes it. Holds are released only by settlement, on the engine's answer; the API never
releases one, and never marks an order REJECTED.
"""

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from exchange.domain.commands import NewOrder
from exchange.domain.enums import OrderStatus
from exchange.ids import new_order_id
from exchange.ledger.errors import (
    AccountFrozen,
    InsufficientFunds,
    KycNotAllowed,
    NoProtectionPrice,
    UnknownAccount,
)
from exchange.ledger.port import LedgerPort
from exchange.observability import logger, metrics
from exchange.orders.errors import BrokerUnavailable, IdempotencyConflict
from exchange.orders.keys import KeyClaim, OrderKeys, fingerprint
from exchange.orders.model import Accepted, Order, OrderRequest, settling_cancel
from exchange.orders.publisher import CommandSink
from exchange.orders.store import OrderStore
from exchange.orders.terms import Terms

# Refusals after which the ledger holds nothing for the order (ReservationConflict is not one:
# the order id holds funds under other terms).
_NOTHING_HELD = (
    UnknownAccount,
    KycNotAllowed,
    InsufficientFunds,
    NoProtectionPrice,
    AccountFrozen,
)


class Placement:
    def __init__(
        self,
        *,
        store: OrderStore,
        keys: OrderKeys,
        ledger: LedgerPort,
        sink: CommandSink,
        max_open_orders: int,
        clock: Callable[[], int] = time.time_ns,
        new_id: Callable[[int], str] = new_order_id,
    ) -> None:
        self._store = store
        self._keys = keys
        self._ledger = ledger
        self._sink = sink
        self._max_open = max_open_orders
        self._clock = clock
        self._new_id = new_id

    def place(
        self, account_id: str, request: OrderRequest, terms: Terms, *, key: str | None
    ) -> Accepted:
        now = self._clock()
        fresh = KeyClaim(
            order_id=self._new_id(now),
            fingerprint=fingerprint(request_payload(request)),
            created_ns=now,
            protection_price=terms.protection_ticks,
        )
        if key is None:
            self._keys.take_slot(account_id, max_open=self._max_open)
            claim = fresh
        else:
            claim = self._keys.claim(account_id, key, fresh, max_open=self._max_open)
            if claim.fingerprint != fresh.fingerprint:
                raise IdempotencyConflict("this idempotency key was used with a different request")
            if claim.order_id != fresh.order_id:
                metrics.add_metric(name="OrdersResumed", unit=MetricUnit.Count, value=1)
                answered = self._answered(account_id, claim.order_id)
                if answered is not None:
                    return answered
        command = _new_order(account_id, request, terms, claim)
        self._hold(command, key)
        self._store.add(_pending(command, request))
        self._publish(command)
        metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=1)
        return Accepted(
            command.order_id,
            OrderStatus.PENDING_NEW.value,
            command.client_order_id,
            command.symbol,
        )

    def _answered(self, account_id: str, order_id: str) -> Accepted | None:
        """A resumed order the engine has answered already: nothing is left to do for it."""
        order = self._store.get(account_id, order_id)
        if order is None or order.status is OrderStatus.PENDING_NEW:
            return None
        return Accepted(order.order_id, order.status.value, order.client_order_id, order.symbol)

    def _hold(self, command: NewOrder, key: str | None) -> None:
        try:
            self._ledger.reserve(command)
        except _NOTHING_HELD:
            self._keys.give_back(command.account_id, key)
            raise

    def _publish(self, command: NewOrder) -> None:
        try:
            self._sink.publish(command)
            return
        except BrokerUnavailable as exc:
            metrics.add_metric(name="OrdersPublishUnconfirmed", unit=MetricUnit.Count, value=1)
            logger.warning(
                "new order not confirmed; cancelling it",
                extra={"order_id": command.order_id, "error": repr(exc)},
            )
        # The order's one settling cancel: a resumed placement, the reconciler and the dead-letter
        # consumer send the same command, so the engine acts on it once.
        cancel = settling_cancel(
            symbol=command.symbol,
            account_id=command.account_id,
            order_id=command.order_id,
            ts=self._clock(),
        )
        try:
            self._sink.publish(cancel)
        except BrokerUnavailable as exc:
            raise BrokerUnavailable(
                f"order {command.order_id} could not be handed to the matching engine; it is "
                "kept PENDING_NEW with its funds held: retry with the same Idempotency-Key to "
                "resume it"
            ) from exc


def request_payload(request: OrderRequest) -> dict[str, Any]:
    """What a retry is compared on (by the idempotency record, and by the key's claim): the whole
    request, as sent."""
    return {
        name: str(value) if value is not None else None for name, value in asdict(request).items()
    }


def _new_order(account_id: str, request: OrderRequest, terms: Terms, claim: KeyClaim) -> NewOrder:
    return NewOrder(
        symbol=request.symbol,
        ts=claim.created_ns,
        order_id=claim.order_id,
        account_id=account_id,
        client_order_id=request.client_order_id or claim.order_id,
        side=request.side,
        order_type=request.order_type,
        tif=request.tif,
        qty=terms.lots,
        price=terms.price_ticks,
        stop_price=terms.stop_ticks,
        post_only=request.post_only,
        stp=request.stp,
        protection_price=claim.protection_price,
    )


def _pending(command: NewOrder, request: OrderRequest) -> Order:
    return Order(
        account_id=command.account_id,
        order_id=command.order_id,
        client_order_id=command.client_order_id,
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
        created_ns=command.ts,
        updated_ns=command.ts,
    )
