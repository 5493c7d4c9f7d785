"""The order store and the market-data reads on DynamoDB, through the pynamodb models of
``exchange.tables``.

Every read is a GetItem or a Query on the account's partition (or one of its indexes), never a
Scan. A listing asks for one item more than the page, so ``next_key`` is set only when there
really is a next page.
"""

from collections.abc import Iterable
from typing import Any

from pynamodb.exceptions import DoesNotExist, PynamoDBException

from exchange.domain.enums import (
    OPEN_STATUSES,
    OrderStatus,
    OrderType,
    Side,
    StpMode,
    TimeInForce,
)
from exchange.orders.errors import StoreUnavailable
from exchange.orders.model import (
    Fill,
    Order,
    OrderQuery,
    Page,
    PageKey,
)
from exchange.orders.store import (
    OrderStore,
    check_fill_key,
    check_order_key,
    fill_key,
    order_key,
    page_of,
    symbol_status_prefix,
)
from exchange.tables import (
    FillRecord,
    OrderRecord,
    symbol_status_key,
)

RawKey = dict[str, dict[str, Any]]


class DynamoOrderStore(OrderStore):
    def add(self, order: Order) -> None:
        record = OrderRecord(
            account_id=order.account_id,
            order_id=order.order_id,
            symbol_status=symbol_status_key(order.symbol, order.status.value, order.order_id),
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            status=order.status.value,
            side=order.side.value,
            order_type=order.order_type.value,
            tif=order.tif.value,
            qty=order.qty,
            price=order.price,
            stop_price=order.stop_price,
            post_only=order.post_only,
            stp=order.stp.value,
            open_qty=order.qty,
            created_ns=order.created_ns,
            updated_ns=order.updated_ns,
            open_order_id=order.order_id if order.status.is_open else None,
        )
        try:
            # Order ids are unique by construction; the condition makes a collision loud.
            record.save(condition=OrderRecord.order_id.does_not_exist())
        except PynamoDBException as exc:
            raise StoreUnavailable(f"order {order.order_id} was not recorded: {exc}") from exc

    def get(self, account_id: str, order_id: str) -> Order | None:
        try:
            record = OrderRecord.get(account_id, order_id, consistent_read=True)
        except DoesNotExist:
            return None
        return _order(record)

    def list(self, account_id: str, query: OrderQuery, after: PageKey | None) -> Page[Order]:
        start = _raw(check_order_key(after, account_id, query)) if after is not None else None
        prefix = symbol_status_prefix(query)
        results: Iterable[OrderRecord]
        if prefix is not None:
            results = OrderRecord.by_symbol_status.query(
                account_id,
                OrderRecord.symbol_status.startswith(prefix),
                scan_index_forward=False,
                limit=query.limit + 1,
                last_evaluated_key=start,
            )
        else:
            # A status without a symbol filters the account's orders (a Query, not a Scan).
            condition = OrderRecord.status == query.status.value if query.status else None
            results = OrderRecord.query(
                account_id,
                filter_condition=condition,
                scan_index_forward=False,
                limit=query.limit + 1,
                last_evaluated_key=start,
            )
        orders = [_order(record) for record in results]
        return page_of(orders, query.limit, lambda last: order_key(last, query))

    def count_open(self, account_id: str, up_to: int) -> int:
        # The open_orders index is sparse (only open orders carry open_order_id); the status filter
        # guards against an entry whose writer did not remove the attribute at a final status.
        return OrderRecord.open_orders.count(
            account_id,
            filter_condition=OrderRecord.status.is_in(*(status.value for status in OPEN_STATUSES)),
            limit=up_to,
        )

    def reject(
        self, account_id: str, order_id: str, *, reason: str, detail: str, now_ns: int
    ) -> None:
        record = OrderRecord(account_id=account_id, order_id=order_id)
        current = self.get(account_id, order_id)
        if current is None:
            return
        try:
            record.update(
                actions=[
                    OrderRecord.status.set(OrderStatus.REJECTED.value),
                    OrderRecord.symbol_status.set(
                        symbol_status_key(current.symbol, OrderStatus.REJECTED.value, order_id)
                    ),
                    OrderRecord.open_order_id.remove(),
                    OrderRecord.open_qty.set("0"),
                    OrderRecord.reject_reason.set(reason),
                    OrderRecord.detail.set(detail),
                    OrderRecord.updated_ns.set(now_ns),
                ],
                # Only an order the engine never saw: nothing else may have moved it on.
                condition=OrderRecord.status == OrderStatus.PENDING_NEW.value,
            )
        except PynamoDBException as exc:
            raise StoreUnavailable(f"order {order_id} could not be marked rejected") from exc

    def fills(
        self, account_id: str, *, order_id: str | None, limit: int, after: PageKey | None
    ) -> Page[Fill]:
        start = _raw(check_fill_key(after, account_id, order_id)) if after is not None else None
        results: Iterable[FillRecord]
        if order_id is not None:
            results = FillRecord.by_order.query(
                order_id,
                filter_condition=FillRecord.account_id == account_id,
                scan_index_forward=False,
                limit=limit + 1,
                last_evaluated_key=start,
            )
        else:
            results = FillRecord.query(
                account_id, scan_index_forward=False, limit=limit + 1, last_evaluated_key=start
            )
        fills = [_fill(record) for record in results]
        by_order = order_id is not None
        return page_of(fills, limit, lambda last: fill_key(account_id, last, by_order=by_order))


def _raw(key: PageKey) -> RawKey:
    return {
        name: {"N": str(value)} if isinstance(value, int) else {"S": value}
        for name, value in key.items()
    }


def _order(record: OrderRecord) -> Order:
    return Order(
        account_id=record.account_id,
        order_id=record.order_id,
        client_order_id=record.client_order_id,
        symbol=record.symbol,
        side=Side(record.side),
        order_type=OrderType(record.order_type),
        tif=TimeInForce(record.tif),
        status=OrderStatus(record.status),
        qty=record.qty,
        price=record.price,
        stop_price=record.stop_price,
        post_only=bool(record.post_only),
        stp=StpMode(record.stp) if record.stp else StpMode.CANCEL_NEWEST,
        filled_qty=record.filled_qty,
        notional=record.notional,
        fee=record.fee,
        open_qty=record.open_qty,
        reject_reason=record.reject_reason,
        detail=record.detail,
        created_ns=int(record.created_ns),
        updated_ns=int(record.updated_ns),
    )


def _fill(record: FillRecord) -> Fill:
    return Fill(
        fill_id=record.fill_id,
        order_id=record.order_id,
        symbol=record.symbol,
        seq=int(record.seq),
        side=record.side,
        role=record.role,
        price=record.price,
        qty=record.qty,
        fee=record.fee,
        fee_asset=record.fee_asset,
        ts_ns=int(record.ts_ns),
    )
