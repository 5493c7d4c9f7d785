"""The order store, the bulk lookups and the market-data reads on DynamoDB, through the pynamodb
models of ``exchange.tables``.

Every read is a GetItem or a Query on the account's partition (or one of its indexes), never a
Scan. A listing asks for one item more than the page, so ``next_key`` is set only when there
really is a next page. A time window is a key condition (BETWEEN on the time-ordered sort key).
"""

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Final

from pynamodb.exceptions import DoesNotExist, PutError, PynamoDBException
from pynamodb.expressions.condition import Condition

from exchange.domain.enums import (
    OPEN_STATUSES,
    OrderStatus,
    OrderType,
    Side,
    StpMode,
    TimeInForce,
)
from exchange.orders.errors import StoreUnavailable
from exchange.orders.lookup import OrderLookup
from exchange.orders.model import (
    ALL_TIME,
    Fill,
    Order,
    OrderQuery,
    Page,
    PageKey,
    TimeWindow,
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
# Items a recent-orders Query evaluates per request (its filter may drop most of them).
_RECENT_PAGE: Final = 200


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
        if query.window.empty:
            return Page(items=[])
        prefix = symbol_status_prefix(query)
        first, last = query.window.order_ids()
        results: Iterable[OrderRecord]
        if prefix is not None:
            key = (
                OrderRecord.symbol_status.between(prefix + first, prefix + last)
                if query.window.bounded
                else OrderRecord.symbol_status.startswith(prefix)
            )
            results = OrderRecord.by_symbol_status.query(
                account_id,
                key,
                scan_index_forward=False,
                limit=query.limit + 1,
                last_evaluated_key=start,
            )
        else:
            # A status (or, in a window, a symbol) without the index filters the account's orders
            # (a Query, not a Scan).
            conditions = [
                *([OrderRecord.status == query.status.value] if query.status else []),
                *([OrderRecord.symbol == query.symbol] if query.symbol else []),
            ]
            results = OrderRecord.query(
                account_id,
                OrderRecord.order_id.between(first, last) if query.window.bounded else None,
                filter_condition=_all(conditions),
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
        self,
        account_id: str,
        *,
        order_id: str | None,
        limit: int,
        after: PageKey | None,
        window: TimeWindow = ALL_TIME,
    ) -> Page[Fill]:
        start = _raw(check_fill_key(after, account_id, order_id)) if after is not None else None
        if window.empty:
            return Page(items=[])
        in_window = FillRecord.fill_id.between(*window.fill_ids()) if window.bounded else None
        results: Iterable[FillRecord]
        if order_id is not None:
            results = FillRecord.by_order.query(
                order_id,
                in_window,
                filter_condition=FillRecord.account_id == account_id,
                scan_index_forward=False,
                limit=limit + 1,
                last_evaluated_key=start,
            )
        else:
            results = FillRecord.query(
                account_id,
                in_window,
                scan_index_forward=False,
                limit=limit + 1,
                last_evaluated_key=start,
            )
        fills = [_fill(record) for record in results]
        by_order = order_id is not None
        return page_of(fills, limit, lambda last: fill_key(account_id, last, by_order=by_order))


class DynamoOrderLookup(OrderLookup):
    """The ``open_orders`` and ``by_client_order_id`` indexes of the orders table, and its recent
    orders read consistently (``exchange.orders.lookup`` says why)."""

    def open_orders(
        self,
        account_id: str,
        *,
        symbol: str | None,
        placed_before_ns: int,
        limit: int,
        after: PageKey | None,
    ) -> Page[Order]:
        # The index holds only open orders (a few hundred at most, the cap), so the symbol can be
        # a filter; the status filter skips an entry its writer did not remove.
        conditions = [
            OrderRecord.status.is_in(*(status.value for status in OPEN_STATUSES)),
            *([OrderRecord.symbol == symbol] if symbol is not None else []),
        ]
        before = TimeWindow(end_ns=placed_before_ns).order_ids()[1]
        results = OrderRecord.open_orders.query(
            account_id,
            OrderRecord.open_order_id <= before,
            filter_condition=_all(conditions),
            limit=limit + 1,
            last_evaluated_key=_raw(after) if after is not None else None,
        )
        orders = [_order(record) for record in results]
        return page_of(orders, limit, open_order_key)

    def recent_orders(
        self,
        account_id: str,
        window: TimeWindow,
        *,
        limit: int,
        open_only: bool = False,
        symbol: str | None = None,
        client_order_id: str | None = None,
        newest_first: bool = False,
    ) -> list[Order]:
        # The table, not an index: a strongly consistent Query of a few seconds of the account's
        # orders (a key condition on the time-ordered sort key), the rest filtered.
        if window.empty:
            return []
        conditions = [
            *([OrderRecord.status.is_in(*(s.value for s in OPEN_STATUSES))] if open_only else []),
            *([OrderRecord.symbol == symbol] if symbol is not None else []),
            *([OrderRecord.client_order_id == client_order_id] if client_order_id else []),
        ]
        results = OrderRecord.query(
            account_id,
            OrderRecord.order_id.between(*window.order_ids()),
            filter_condition=_all(conditions),
            consistent_read=True,
            scan_index_forward=not newest_first,
            limit=limit,
            page_size=_RECENT_PAGE,
        )
        return [_order(record) for record in results]

    def by_client_order_id(
        self, account_id: str, client_order_id: str, *, limit: int
    ) -> list[Order]:
        # Every key with this client order id (keys only, ~150 bytes each: thousands per page),
        # then the newest by order id. The index's key values need not be unique and a Query
        # orders its results by the sort key alone, so taking the first ``limit`` it returns
        # would pick orders sharing a client id in whatever order DynamoDB keeps them.
        order_ids = sorted(
            {
                record.order_id
                for record in OrderRecord.by_client_order_id.query(
                    account_id, OrderRecord.client_order_id == client_order_id
                )
            },
            reverse=True,
        )[:limit]
        if not order_ids:
            return []
        # The index projects keys only: each order is read from the table, consistently.
        records = OrderRecord.batch_get(
            [(account_id, order_id) for order_id in order_ids], consistent_read=True
        )
        return sorted(
            (_order(record) for record in records), key=lambda o: o.order_id, reverse=True
        )


def open_order_key(order: Order) -> PageKey:
    """The ``open_orders`` index's position after ``order``."""
    return {
        "account_id": order.account_id,
        "order_id": order.order_id,
        "open_order_id": order.order_id,
    }


def _all(conditions: Sequence[Condition]) -> Condition | None:
    combined: Condition | None = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


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
