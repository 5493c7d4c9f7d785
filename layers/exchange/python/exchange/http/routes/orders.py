"""Routes of the orders function: place, amend, cancel and read orders (by id or by client order
id), cancel all of them, the dead man's switch, and list fills."""

from dataclasses import asdict
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query

from exchange.domain.enums import OrderStatus
from exchange.http.app import problem_response, service
from exchange.http.cursor import decode_cursor, encode_cursor
from exchange.http.identity import account_id
from exchange.http.order_schemas import CancelAfterBody, CancelAfterOut, MassCancelOut
from exchange.http.problems import problem, responses
from exchange.http.routing import AUTHORIZED, new_router
from exchange.http.schemas import (
    CLIENT_ID_PATTERN,
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
from exchange.http.time_range import EndQuery, StartQuery, time_window
from exchange.ids import ORDER_ID_PATTERN
from exchange.orders.lookup import MAX_SAME_CLIENT_ID
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
ClientOrderIdPath = Annotated[
    str,
    Path(
        pattern=CLIENT_ID_PATTERN,
        description="Your client_order_id (an order placed without one has its order id). If "
        f"you reused it: of the newest {MAX_SAME_CLIENT_ID} orders with it, the newest open "
        "one, else the newest",
    ),
]
SymbolQuery = Annotated[str | None, Query(pattern=SYMBOL_PATTERN)]
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
        "arrives as order updates. 503: retry with the same key to resume it. The symbol's "
        "trading status (GET /v1/markets) is checked first: 409 symbol_halted, "
        "symbol_cancel_only or symbol_post_only, 422 instrument_not_trading when delisted; a "
        "status changed a moment ago is the engine's to apply, and the order is then REJECTED "
        "with its reason (reject_reason). 403 account_frozen: an operator froze the account; "
        "nothing is held or recorded.",
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
        description="Filter by symbol, status or both, and by when they were placed (start, end; "
        "to the millisecond); page with next_cursor. By symbol alone and without a time window "
        "the orders come grouped by status. 422: end not after start.",
        responses=responses(200, "A page of orders", 401, 422),
        tags=["orders"],
        security=AUTHORIZED,
    )
    def list_orders(
        *,
        symbol: SymbolQuery = None,
        status: Annotated[OrderStatus | None, Query()] = None,
        start: StartQuery = None,
        end: EndQuery = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> OrderPage:
        query = OrderQuery(
            symbol=symbol, status=status, limit=limit, window=time_window(start, end)
        )
        after = decode_cursor(cursor) if cursor is not None else None
        page = orders().list(me(), query, after)
        return OrderPage(
            orders=[_order(order) for order in page.items],
            next_cursor=encode_cursor(page.next_key) if page.next_key else None,
        )

    @router.delete(
        "/v1/orders",
        status_code=202,
        summary="Cancel all your open orders (of one symbol)",
        description="Sends one cancel per open order placed before the request (at most the "
        "open-order cap; truncated says to call again) and answers which were sent. Each "
        "order's outcome arrives as order updates, and its hold is released when the engine "
        "confirms. With an Idempotency-Key a retry gets the first answer again (nothing is sent "
        "anew, and an order placed since is left alone); the same key with another symbol is a "
        "409. To cancel what an answer left (not_sent, truncated), call again with a new key. "
        "503: nothing could be sent; retry.",
        responses=responses(202, "The cancels sent, and those not sent", 401, 409, 503),
        tags=["orders"],
        security=AUTHORIZED,
    )
    def cancel_all_orders(
        symbol: SymbolQuery = None, idempotency_key: IdempotencyKey = None
    ) -> MassCancelOut:
        result = orders().cancel_all(
            me(), symbol=symbol, idempotency_key=idempotency_key, context=router.lambda_context
        )
        return MassCancelOut.of(result)

    @router.get(
        "/v1/orders/by-client-id/<client_order_id>",
        summary="Read one of your orders by your client_order_id",
        responses=responses(200, "The order", 401, 404),
        tags=["orders"],
        security=AUTHORIZED,
    )
    def get_order_by_client_id(client_order_id: ClientOrderIdPath) -> OrderOut:
        return _order(orders().by_client_order_id(me(), client_order_id))

    @router.delete(
        "/v1/orders/by-client-id/<client_order_id>",
        status_code=202,
        summary="Cancel an open order by your client_order_id",
        description="As DELETE /v1/orders/{order_id}, for the order this client_order_id names "
        "(if reused: the newest open one). 409: it names only finished orders.",
        responses=responses(202, "Accepted (PENDING_CANCEL)", 401, 404, 409, 503),
        tags=["orders"],
        security=AUTHORIZED,
    )
    def cancel_order_by_client_id(
        client_order_id: ClientOrderIdPath, idempotency_key: IdempotencyKey = None
    ) -> OrderAccepted:
        accepted = orders().cancel_by_client_order_id(
            me(), client_order_id, idempotency_key=idempotency_key, context=router.lambda_context
        )
        return _accepted(accepted)

    @router.post(
        "/v1/orders/cancel-after",
        summary="Arm, renew or disarm your dead man's switch",
        description="Unless you call again within timeout_seconds, every order you have open "
        "then is cancelled (within about a second of the deadline). Each call sets a new "
        "deadline; timeout_seconds 0 disarms. A call that comes after the deadline finds the "
        "switch fired: it sends those cancels first, says so in fired, then sets the new "
        "deadline. 503: nothing was changed; retry.",
        responses=responses(200, "The switch as it now stands", 401, 503),
        tags=["orders"],
        security=AUTHORIZED,
    )
    def set_cancel_after(body: CancelAfterBody) -> CancelAfterOut:
        return CancelAfterOut.of(orders().cancel_after.set(me(), body.timeout_seconds))

    @router.get(
        "/v1/orders/cancel-after",
        summary="Read your dead man's switch",
        description="The deadline in force (null: disarmed). A deadline in the past means the "
        "switch fired and its cancels are being sent.",
        responses=responses(200, "The switch", 401, 503),
        tags=["orders"],
        security=AUTHORIZED,
    )
    def get_cancel_after() -> CancelAfterOut:
        return CancelAfterOut.of(orders().cancel_after.get(me()))

    # API Gateway matches a resource before a path parameter: no other method on
    # /v1/orders/cancel-after reaches /v1/orders/{order_id}. The function answers them 405 too,
    # with the resource's own methods, rather than read "cancel-after" as a malformed order id.
    @router.route(
        "/v1/orders/cancel-after",
        method=["PATCH", "DELETE", "PUT", "OPTIONS", "HEAD"],
        include_in_schema=False,
    )
    def cancel_after_other_methods() -> Response[str]:
        body = problem(
            HTTPStatus.METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this resource allows GET, POST",
            instance=(router.current_event.raw_event.get("requestContext") or {}).get("requestId"),
        )
        return problem_response(body, headers={"Allow": "GET, POST"})

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
        "insufficient_funds if it cannot), then hands it to the matching engine. The symbol's "
        "trading status may refuse it: 409 symbol_halted, or symbol_cancel_only unless it only "
        "reduces the quantity; in POST_ONLY the engine refuses an amend that would cross. 403 "
        "account_frozen: an operator froze the account; nothing is held or sent.",
        responses=responses(
            202, "Accepted (PENDING_AMEND)", 401, 403, 404, 409, 413, 415, 422, 503
        ),
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
        description="Accepted in every trading status of the symbol, and from a frozen account.",
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
        description="Of one order, or all; by when they happened (start, end); page with "
        "next_cursor. 422: end not after start.",
        responses=responses(200, "A page of fills", 401, 422),
        tags=["orders"],
        security=AUTHORIZED,
    )
    def list_fills(
        order_id: Annotated[str | None, Query(pattern=ORDER_ID_PATTERN)] = None,
        start: StartQuery = None,
        end: EndQuery = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> FillPage:
        window = time_window(start, end)
        after = decode_cursor(cursor) if cursor is not None else None
        page = orders().fills(me(), order_id=order_id, limit=limit, after=after, window=window)
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
