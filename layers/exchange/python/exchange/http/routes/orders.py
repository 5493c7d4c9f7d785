"""Routes of the orders function: place, amend, cancel and read orders; list fills."""

from dataclasses import asdict
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query

from exchange.domain.enums import OrderStatus
from exchange.http.app import service
from exchange.http.cursor import decode_cursor, encode_cursor
from exchange.http.identity import account_id
from exchange.http.problems import responses
from exchange.http.routing import AUTHORIZED, new_router
from exchange.http.schemas import (
    CURSOR_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    SYMBOL_PATTERN,
    AmendOrderBody,
    FillOut,
    FillPage,
    OrderAccepted,
    OrderOut,
    OrderPage,
    PlaceOrderBody,
)
from exchange.ids import ORDER_ID_PATTERN
from exchange.orders.model import Accepted, Order, OrderQuery, OrderRequest
from exchange.orders.service import OrderService

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Retries with the same key (per account) return the first answer; the same "
        "key with a different body is a 409",
    ),
]
OrderIdPath = Annotated[str, Path(pattern=ORDER_ID_PATTERN, description="The order's id (ULID)")]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(pattern=CURSOR_PATTERN)]


def orders_router() -> Router:
    router = new_router()

    def orders() -> OrderService:
        return service(router, OrderService)

    def me() -> str:
        return account_id(router.current_event)

    @router.post(
        "/v1/orders",
        status_code=202,
        summary="Place an order",
        description="Validates the order against its instrument, reserves the funds, records it "
        "and hands it to the matching engine. Market and stop orders get a protection price "
        "(the band's edge around the last trade) and hold their funds at it. The order id "
        "follows from the Idempotency-Key (else client_order_id): a retry with the same key, "
        "however late, answers the same order. 202 means the order exists (PENDING_NEW); if "
        "the engine's receipt could not be confirmed it is also cancelled, and its outcome "
        "arrives as order updates. 503: retry with the same key to resume it.",
        responses=responses(202, "Accepted (PENDING_NEW)", 401, 403, 409, 413, 415, 422, 503),
        tags=["orders"],
        security=AUTHORIZED,
    )
    def place_order(body: PlaceOrderBody, idempotency_key: IdempotencyKey = None) -> OrderAccepted:
        accepted = orders().place(
            me(),
            OrderRequest(**dict(body)),
            idempotency_key=idempotency_key,
            context=router.lambda_context,
        )
        return _accepted(accepted)

    @router.get(
        "/v1/orders",
        summary="List your orders, newest first",
        description="Filter by symbol, status or both; page with next_cursor.",
        responses=responses(200, "A page of orders", 401),
        tags=["orders"],
        security=AUTHORIZED,
    )
    def list_orders(
        symbol: Annotated[str | None, Query(pattern=SYMBOL_PATTERN)] = None,
        status: Annotated[OrderStatus | None, Query()] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> OrderPage:
        after = decode_cursor(cursor) if cursor is not None else None
        page = orders().list(me(), OrderQuery(symbol=symbol, status=status, limit=limit), after)
        return OrderPage(
            orders=[_order(order) for order in page.items],
            next_cursor=encode_cursor(page.next_key) if page.next_key else None,
        )

    @router.get(
        "/v1/orders/<order_id>",
        summary="Read one of your orders",
        responses=responses(200, "The order", 401, 404),
        tags=["orders"],
        security=AUTHORIZED,
    )
    def get_order(order_id: OrderIdPath) -> OrderOut:
        return _order(orders().get(me(), order_id))

    @router.patch(
        "/v1/orders/<order_id>",
        status_code=202,
        summary="Amend an open order's price and/or quantity",
        description="Holds what the amend adds to the order's hold before it is sent (422 "
        "insufficient_funds if it cannot), then hands it to the matching engine.",
        responses=responses(202, "Accepted (PENDING_AMEND)", 401, 404, 409, 413, 415, 422, 503),
        tags=["orders"],
        security=AUTHORIZED,
    )
    def amend_order(
        order_id: OrderIdPath, body: AmendOrderBody, idempotency_key: IdempotencyKey = None
    ) -> OrderAccepted:
        accepted = orders().amend(
            me(),
            order_id,
            price=body.price,
            qty=body.qty,
            idempotency_key=idempotency_key,
            context=router.lambda_context,
        )
        return _accepted(accepted)

    @router.delete(
        "/v1/orders/<order_id>",
        status_code=202,
        summary="Cancel an open order",
        responses=responses(202, "Accepted (PENDING_CANCEL)", 401, 404, 409, 503),
        tags=["orders"],
        security=AUTHORIZED,
    )
    def cancel_order(
        order_id: OrderIdPath, idempotency_key: IdempotencyKey = None
    ) -> OrderAccepted:
        accepted = orders().cancel(
            me(), order_id, idempotency_key=idempotency_key, context=router.lambda_context
        )
        return _accepted(accepted)

    @router.get(
        "/v1/fills",
        summary="List your fills, newest first",
        responses=responses(200, "A page of fills", 401),
        tags=["orders"],
        security=AUTHORIZED,
    )
    def list_fills(
        order_id: Annotated[str | None, Query(pattern=ORDER_ID_PATTERN)] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> FillPage:
        after = decode_cursor(cursor) if cursor is not None else None
        page = orders().fills(me(), order_id=order_id, limit=limit, after=after)
        return FillPage(
            fills=[FillOut(**asdict(fill)) for fill in page.items],
            next_cursor=encode_cursor(page.next_key) if page.next_key else None,
        )

    return router


def _accepted(accepted: Accepted) -> OrderAccepted:
    return OrderAccepted(
        order_id=accepted.order_id,
        status=accepted.status,
        client_order_id=accepted.client_order_id,
        symbol=accepted.symbol,
        command_id=accepted.command_id,
    )


def _order(order: Order) -> OrderOut:
    fields = asdict(order)
    del fields["account_id"]
    return OrderOut(**fields)
