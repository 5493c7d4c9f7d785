"""An in-memory ``PendingOrders``: the orders table's rows the reconciler and the dead-letter
consumer read and write, with the conditional rules of ``DynamoPendingOrders``."""

from dataclasses import dataclass

from exchange.domain import OrderStatus
from exchange.orders.reconcile import PendingOrder, PendingOrders


@dataclass
class Row:
    order: PendingOrder
    status: OrderStatus = OrderStatus.PENDING_NEW
    reject_reason: str | None = None
    detail: str | None = None


class InMemoryPendingOrders(PendingOrders):
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Row] = {}
        self.rejects = 0

    def add(self, order: PendingOrder, status: OrderStatus = OrderStatus.PENDING_NEW) -> None:
        self.rows[(order.account_id, order.order_id)] = Row(order, status)

    def older_than(self, symbol: str, cutoff_ns: int, limit: int) -> list[PendingOrder]:
        found = [
            row.order
            for row in self.rows.values()
            if row.order.symbol == symbol
            and row.status is OrderStatus.PENDING_NEW
            and row.order.created_ns < cutoff_ns
        ]
        return sorted(found, key=lambda order: order.created_ns)[:limit]

    def status(self, account_id: str, order_id: str) -> tuple[OrderStatus, str | None] | None:
        row = self.rows.get((account_id, order_id))
        return None if row is None else (row.status, row.reject_reason)

    def reject(self, order: PendingOrder, *, reason: str, detail: str, now_ns: int) -> bool:
        row = self.rows.get((order.account_id, order.order_id))
        if row is None or row.status is not OrderStatus.PENDING_NEW:
            return False
        row.status, row.reject_reason, row.detail = OrderStatus.REJECTED, reason, detail
        self.rejects += 1
        return True
