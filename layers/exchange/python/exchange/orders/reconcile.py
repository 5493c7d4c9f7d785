"""The reconciler: settles orders left PENDING_NEW against the engine's answer.

An order stays PENDING_NEW, its funds held, until the engine answers its ``NewOrder``. When that
answer does not come (the publish was ambiguous, the command was lost or dead-lettered), the order
would wait for ever. So every minute (an EventBridge schedule; a loop in local mode) the
reconciler takes the orders PENDING_NEW for longer than the timeout and publishes, for each, a
``CancelOrder`` whose command id follows from the order (``reconcile_cancel``): every run, and the
dead-letter consumer, publish the same command, and the engine acts on it once. The engine either
had the order (``OrderCancelled``) or had not, and then refuses a ``NewOrder`` that comes later
(``OrderRejected`` ``UNKNOWN_ORDER``). Its answer reaches settlement (which releases the hold) and
the recorder (which ends the order) through the journal, as every answer does; the reconciler
itself changes no order and no balance.

The orders are found without a Scan: the orders table's sparse ``pending_new`` index holds an
order only while it is PENDING_NEW (``exchange.tables.models``), one Query per symbol, oldest
first. Each candidate is re-read consistently before anything is published, and an index entry
left on an order that moved on is removed here.

Metrics: ``OrdersReconciled`` (cancels published) and ``ReconcilerStuckOrders`` (orders still
pending a whole timeout after their first reconcile: the engine is not answering; alarmed).
"""

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit
from pynamodb.exceptions import DoesNotExist, PynamoDBException, UpdateError

from exchange.domain.commands import CancelOrder
from exchange.domain.enums import OrderStatus
from exchange.observability import logger, metrics
from exchange.orders.errors import StoreUnavailable
from exchange.orders.model import settling_cancel
from exchange.orders.publisher import CommandSink
from exchange.orders.recorder_dynamo import close_order
from exchange.tables import OrderRecord, condition_failed, symbol_status_key

NANOS: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class PendingOrder:
    account_id: str
    order_id: str
    symbol: str
    created_ns: int


class PendingOrders(ABC):
    """Orders the engine has not answered yet (the orders table; ``DynamoPendingOrders``)."""

    @abstractmethod
    def older_than(self, symbol: str, cutoff_ns: int, limit: int) -> list[PendingOrder]:
        """The symbol's orders still PENDING_NEW (by a consistent read) that were recorded before
        ``cutoff_ns``, oldest first, at most ``limit``."""

    @abstractmethod
    def status(self, account_id: str, order_id: str) -> tuple[OrderStatus, str | None] | None:
        """The order's status and reject reason (consistent read), or None when there is no row."""

    @abstractmethod
    def reject(self, order: PendingOrder, *, reason: str, detail: str, now_ns: int) -> bool:
        """Move the order from PENDING_NEW to REJECTED (no longer open, out of the index);
        False, changing nothing, when it is not PENDING_NEW."""


def reconcile_cancel(order: PendingOrder, now_ns: int) -> CancelOrder:
    """``settling_cancel`` for a pending order: every run, the dead-letter consumer and the API's
    own cancel of an unconfirmed order send the same command.

    >>> order = PendingOrder("alice", "01HF", "BTC-USD", 1)
    >>> reconcile_cancel(order, 5).command_id == reconcile_cancel(order, 9).command_id
    True
    """
    return settling_cancel(
        symbol=order.symbol, account_id=order.account_id, order_id=order.order_id, ts=now_ns
    )


@dataclass(frozen=True, slots=True)
class ReconcileRun:
    reconciled: int  # cancels published
    stuck: int  # of those, orders a whole timeout past their first reconcile

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Reconciler:
    def __init__(
        self,
        *,
        orders: PendingOrders,
        sink: CommandSink,
        symbols: Callable[[], Sequence[str]],
        timeout_s: int,
        limit: int = 500,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._orders = orders
        self._sink = sink
        # Read at every run: an operator may list a symbol while the function is warm.
        self._symbols = symbols
        self._timeout_ns = timeout_s * NANOS
        self._limit = limit
        self._clock = clock

    def run(self) -> ReconcileRun:
        """One pass over every symbol: a reconcile cancel for each order pending past the
        timeout (at most ``limit`` per symbol; the next run takes the rest). Raises
        BrokerUnavailable or StoreUnavailable, having published what came before."""
        now = self._clock()
        cutoff = now - self._timeout_ns
        reconciled = stuck = 0
        try:
            for symbol in self._symbols():
                for order in self._orders.older_than(symbol, cutoff, self._limit):
                    self._sink.publish(reconcile_cancel(order, now))
                    reconciled += 1
                    if order.created_ns < cutoff - self._timeout_ns:
                        stuck += 1
                        logger.warning(
                            "order still pending after its reconcile",
                            extra={"order_id": order.order_id, "symbol": symbol,
                                   "pending_s": (now - order.created_ns) // NANOS},
                        )  # fmt: skip
        finally:
            metrics.add_metric(name="OrdersReconciled", unit=MetricUnit.Count, value=reconciled)
            metrics.add_metric(name="ReconcilerStuckOrders", unit=MetricUnit.Count, value=stuck)
        if reconciled:
            logger.info("orders reconciled", extra={"reconciled": reconciled, "stuck": stuck})
        return ReconcileRun(reconciled=reconciled, stuck=stuck)


class DynamoPendingOrders(PendingOrders):
    """The ``pending_new`` index of the orders table, and conditional writes on its rows."""

    def older_than(self, symbol: str, cutoff_ns: int, limit: int) -> list[PendingOrder]:
        try:
            keys = [
                (entry.account_id, entry.order_id)
                for entry in OrderRecord.pending_new.query(
                    symbol, OrderRecord.pending_new_ns < cutoff_ns, limit=limit
                )
            ]
            rows = list(OrderRecord.batch_get(keys, consistent_read=True)) if keys else []
        except PynamoDBException as exc:
            raise StoreUnavailable(f"pending {symbol} orders could not be read: {exc}") from exc
        pending = []
        for row in rows:
            if row.status == OrderStatus.PENDING_NEW.value:
                pending.append(
                    PendingOrder(row.account_id, row.order_id, row.symbol, int(row.created_ns))
                )
            else:
                self._leave_index(row.account_id, row.order_id)
        return sorted(pending, key=lambda order: order.created_ns)

    def status(self, account_id: str, order_id: str) -> tuple[OrderStatus, str | None] | None:
        try:
            row = OrderRecord.get(account_id, order_id, consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise StoreUnavailable(f"order {order_id} could not be read: {exc}") from exc
        return OrderStatus(row.status), row.reject_reason

    def reject(self, order: PendingOrder, *, reason: str, detail: str, now_ns: int) -> bool:
        rejected = OrderStatus.REJECTED.value
        try:
            # With its open-order slot given back, in the same transaction (as the recorder does
            # when the engine closes an order), so the slot is freed exactly once.
            return close_order(
                OrderRecord(order.account_id, order.order_id),
                actions=[
                    OrderRecord.status.set(rejected),
                    OrderRecord.symbol_status.set(
                        symbol_status_key(order.symbol, rejected, order.order_id)
                    ),
                    OrderRecord.open_order_id.remove(),
                    OrderRecord.pending_new_ns.remove(),
                    OrderRecord.open_qty.set("0"),
                    OrderRecord.reject_reason.set(reason),
                    OrderRecord.detail.set(detail),
                    OrderRecord.updated_ns.set(now_ns),
                ],
                # Only an order the engine never answered: nothing else may have moved it on.
                condition=OrderRecord.status == OrderStatus.PENDING_NEW.value,
            )
        except PynamoDBException as exc:
            raise StoreUnavailable(f"order {order.order_id} was not rejected: {exc}") from exc

    @staticmethod
    def _leave_index(account_id: str, order_id: str) -> None:
        """Remove the index entry of an order that moved on but kept it (a writer that did not
        remove ``pending_new_ns``); conditional, so a PENDING_NEW order keeps its entry."""
        try:
            OrderRecord(account_id, order_id).update(
                actions=[OrderRecord.pending_new_ns.remove()],
                condition=OrderRecord.status != OrderStatus.PENDING_NEW.value,
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                logger.warning(
                    "stale pending_new entry not removed",
                    extra={"order_id": order_id, "error": str(exc)},
                )
