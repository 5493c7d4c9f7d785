"""The order store and the market-data reads on DynamoDB, through the pynamodb models of
``exchange.tables``.

Every read is a GetItem or a Query on the account's partition (or one of its indexes), never a
Scan. A listing asks for one item more than the page, so ``next_key`` is set only when there
really is a next page.
"""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final

from pynamodb.exceptions import DoesNotExist, PutError, PynamoDBException

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
    TradeRecord,
    condition_failed,
    symbol_status_key,
)
from exchange.tables.models import pending_since

RawKey = dict[str, dict[str, Any]]
_RECENT_TRADES: Final = 100


class DynamoOrderStore(OrderStore):
    def add(self, order: Order) -> bool:
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
            pending_new_ns=pending_since(order.status.value, order.created_ns),
        )
        try:
            # A resumed placement finds its order recorded: the first write wins, and is kept.
            record.save(condition=OrderRecord.order_id.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise StoreUnavailable(f"order {order.order_id} was not recorded: {exc}") from exc
        except PynamoDBException as exc:
            raise StoreUnavailable(f"order {order.order_id} was not recorded: {exc}") from exc
        return True

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

    def last_trade_price(self, symbol: str, *, min_qty: Decimal | None = None) -> str | None:
        # One page of the newest trades: a reference older than that many small prints is stale
        # enough that the instrument's configured reference is as good.
        for row in TradeRecord.query(symbol, scan_index_forward=False, limit=_RECENT_TRADES):
            if min_qty is None or Decimal(row.qty) >= min_qty:
                return row.price
        return None

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
