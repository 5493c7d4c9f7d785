"""Routes of the admin function (``/v1/admin``): operators only.

API Gateway's Cognito authorizer takes the operator's access token (scope
``aws.cognito.signin.user.admin``); every route then requires the operators' group
(``exchange.admin.auth``: 403 ``not_an_operator``) before it reads or does anything. A request
whose body is malformed is answered 400 by validation before the route runs, whoever sends it
(the schema is public in the OpenAPI document anyway).

Actions that send engine commands answer 202 with each command's outcome; ``complete: false``
lists the symbols whose command was not sent (run the action again: every action is safe to
repeat). When no command at all could be sent the answer is 503. The logic is
``exchange.admin.service``; its errors, and its ports', become problems
(``exchange.http.admin_problems``); the bodies are ``exchange.http.admin_schemas``.
"""

from decimal import Decimal
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import (
    APIGatewayProxyEvent,
)

from exchange.admin.audit import AdminAction
from exchange.admin.auth import NotAnOperator, Operator, OperatorGate
from exchange.admin.service import AdminService, DividendRequest
from exchange.domain.enums import InstrumentStatus
from exchange.http.admin_problems import (
    ListingNotPublished,
    NotAnOperatorProblem,
    as_problems,
    documented,
    sent,
)
from exchange.http.admin_schemas import (
    ACCOUNT_ID_PATTERN,
    ActionOut,
    AuditOut,
    DividendBody,
    DividendOut,
    DividendsOut,
    FreezeOut,
    InstrumentOut,
    KillSwitchBody,
    ListingBody,
    ListingOut,
    ListingResultOut,
    MarketOut,
    MarketsOut,
    MassCancelBody,
    ReasonBody,
    StatusBody,
)
from exchange.http.app import service
from exchange.http.routing import AUTHORIZED, new_router
from exchange.http.schemas import SYMBOL_PATTERN
from exchange.settings import OPERATORS_GROUP

SymbolPath = Annotated[str, Path(pattern=SYMBOL_PATTERN, description="e.g. BTC-USD")]
AccountPath = Annotated[str, Path(pattern=ACCOUNT_ID_PATTERN, description="The account id")]
TAGS = ["admin"]
# The Cognito authorizer checks the token; the handler checks the group (exchange.admin.auth).
GROUP_ONLY = {"x-cognito-group": OPERATORS_GROUP}


def admin_router() -> Router:
    router = new_router()
    _symbol_routes(router)
    _account_routes(router)
    _listing_routes(router)
    _record_routes(router)
    return router


def _admin(router: Router) -> AdminService:
    return service(router, AdminService)


def _operator(router: Router) -> Operator:
    """The caller, if in the operators' group (else 403): reads need it too."""
    event = router.current_event
    claims = (
        event.request_context.authorizer.claims if isinstance(event, APIGatewayProxyEvent) else None
    )
    try:
        return service(router, OperatorGate).check(claims)
    except NotAnOperator as exc:
        raise NotAnOperatorProblem(str(exc)) from exc


def _act(router: Router, reason: str) -> AdminAction:
    """Who acts (403 unless an operator) and why, with the request id."""
    operator = _operator(router)
    event = router.current_event
    request_id = event.raw_event.get("requestContext", {}).get("requestId")
    return AdminAction(operator, reason, str(request_id) if request_id else None)


_ACCEPTED = documented(202, "Sent; each command's outcome", 401, 404, 422, 503)


def _symbol_routes(router: Router) -> None:
    @router.get(
        "/v1/admin/markets",
        summary="Every listed symbol: status, version, shard, listing seq",
        responses=documented(200, "The markets, by symbol", 401),
        tags=TAGS,
        security=AUTHORIZED,
        openapi_extensions=GROUP_ONLY,
    )
    def admin_markets() -> MarketsOut:
        _operator(router)
        return MarketsOut(markets=[MarketOut.of(listing) for listing in _admin(router).markets()])

    @router.put(
        "/v1/admin/markets/<symbol>/status",
        status_code=202,
        summary="Set a symbol's trading status",
        description="TRADING, POST_ONLY, CANCEL_ONLY, HALTED or DELISTED (the InstrumentStatus "
        "table says what each allows). The engine applies it in sequence with orders "
        "(TradingStatusChanged) and the status channel shows it.",
        responses=_ACCEPTED,
        tags=TAGS,
        security=AUTHORIZED,
        openapi_extensions=GROUP_ONLY,
    )
    def set_status(symbol: SymbolPath, body: StatusBody) -> ActionOut:
        action = _act(router, body.reason)
        with as_problems():
            return ActionOut.of(sent(_admin(router).set_status(symbol, body.status, action)))

    @router.post(
        "/v1/admin/markets/<symbol>/cancel-orders",
        status_code=202,
        summary="Cancel every open order of a symbol (or of one account in it)",
        description="Works in every status; each order is cancelled with reason OPERATOR.",
        responses=_ACCEPTED,
        tags=TAGS,
        security=AUTHORIZED,
        openapi_extensions=GROUP_ONLY,
    )
    def cancel_symbol_orders(symbol: SymbolPath, body: MassCancelBody) -> ActionOut:
        action = _act(router, body.reason)
        with as_problems():
            return ActionOut.of(sent(_admin(router).mass_cancel(symbol, body.account_id, action)))

    @router.post(
        "/v1/admin/kill-switch",
        status_code=202,
        summary="Set every listed symbol to CANCEL_ONLY, HALTED or TRADING",
        description="Reaches every symbol listed now, including those listed at run time; a "
        "symbol whose command was not sent is listed (complete: false): run it again.",
        responses=_ACCEPTED,
        tags=TAGS,
        security=AUTHORIZED,
        openapi_extensions=GROUP_ONLY,
    )
    def kill_switch(body: KillSwitchBody) -> ActionOut:
        action = _act(router, body.reason)
        with as_problems():
            status = InstrumentStatus(body.status)
            return ActionOut.of(sent(_admin(router).kill_switch(status, action)))


def _account_routes(router: Router) -> None:
    @router.post(
        "/v1/admin/accounts/<account_id>/freeze",
        status_code=202,
        summary="Freeze an account",
        description="The ledger first (no new holds, no withdrawals: 403 account_frozen), then "
        "every symbol's engine (new orders and amends refused, open orders cancelled). Recorded "
        "in the operators' and the account's audit chains.",
        responses=_ACCEPTED,
        tags=TAGS,
        security=AUTHORIZED,
        openapi_extensions=GROUP_ONLY,
    )
    def freeze(account_id: AccountPath, body: ReasonBody) -> FreezeOut:
        action = _act(router, body.reason)
        with as_problems():
            result = _admin(router).freeze(account_id, action)
        sent(result.dispatch)
        return FreezeOut.made(result)

    @router.post(
        "/v1/admin/accounts/<account_id>/unfreeze",
        status_code=202,
        summary="Unfreeze an account",
        description="The ledger first, then every symbol's engine.",
        responses=_ACCEPTED,
        tags=TAGS,
        security=AUTHORIZED,
        openapi_extensions=GROUP_ONLY,
    )
    def unfreeze(account_id: AccountPath, body: ReasonBody) -> FreezeOut:
        action = _act(router, body.reason)
        with as_problems():
            result = _admin(router).unfreeze(account_id, action)
        sent(result.dispatch)
        return FreezeOut.made(result)

    @router.post(
        "/v1/admin/accounts/<account_id>/cancel-orders",
        status_code=202,
        summary="Cancel every open order of an account, in every symbol",
        responses=_ACCEPTED,
        tags=TAGS,
        security=AUTHORIZED,
        openapi_extensions=GROUP_ONLY,
    )
    def cancel_account_orders(account_id: AccountPath, body: ReasonBody) -> ActionOut:
        action = _act(router, body.reason)
        with as_problems():
            return ActionOut.of(sent(_admin(router).cancel_account_orders(account_id, action)))


def _listing_routes(router: Router) -> None:
    @router.get(
        "/v1/admin/instruments/<symbol>",
        summary="A symbol's listing in force and every stored version",
        responses=documented(200, "The listing and its history", 401, 404),
        tags=TAGS,
        security=AUTHORIZED,
        openapi_extensions=GROUP_ONLY,
    )
    def get_instrument(symbol: SymbolPath) -> InstrumentOut:
        _operator(router)
        with as_problems():
            listing, history = _admin(router).instrument(symbol)
        return InstrumentOut(
            listing=ListingOut.of(listing), history=[ListingOut.of(v) for v in history]
        )

    @router.put(
        "/v1/admin/instruments/<symbol>",
        status_code=202,
        summary="List a new instrument, or change a listed one",
        description="Writes the next version to the instruments store, then sends the engine "
        "ListInstrument (command id list:<symbol>:<version>). Fixed once listed: symbol, base, "
        "quote, tick_size, lot_size, asset_class and the shard (409). Base and quote must be "
        "assets the ledger keeps (422). 503 listing_not_published: the version is stored but "
        "the engine did not get it: send the same request again (same version) to republish it.",
        responses=documented(
            202, "Stored and sent (or sent again)", 401, 404, 409, 413, 415, 422, 503
        ),
        tags=TAGS,
        security=AUTHORIZED,
        openapi_extensions=GROUP_ONLY,
    )
    def put_instrument(symbol: SymbolPath, body: ListingBody) -> ListingResultOut:
        action = _act(router, body.reason)
        with as_problems():
            result = _admin(router).list_instrument(
                symbol, body.instrument, action, version=body.version, shard=body.shard
            )
        if result.dispatch.nothing_sent:
            raise ListingNotPublished(
                f"version {result.listing.version} of {symbol} is stored but the engine did not "
                f"get it ({result.command.detail}): send the same request again to republish it"
            )
        return ListingResultOut.of(result)


def _record_routes(router: Router) -> None:
    @router.get(
        "/v1/admin/dividends",
        summary="Declared dividends, newest first",
        responses=documented(200, "The dividends", 401),
        tags=TAGS,
        security=AUTHORIZED,
        openapi_extensions=GROUP_ONLY,
    )
    def list_dividends(
        symbol: Annotated[str | None, Query(pattern=SYMBOL_PATTERN)] = None,
    ) -> DividendsOut:
        _operator(router)
        return DividendsOut(dividends=[DividendOut.of(d) for d in _admin(router).dividends(symbol)])

    @router.post(
        "/v1/admin/dividends",
        status_code=201,
        summary="Declare a cash dividend on an EQUITY instrument",
        description="Holders of record: user accounts holding the base at record_time; each is "
        "paid floor(units x amount_per_unit) of the quote from the issuer at pay_time, once. "
        "With the same dividend_id a retry returns the same dividend (409 if the terms differ).",
        responses=documented(201, "Declared", 401, 404, 409, 413, 415, 422),
        tags=TAGS,
        security=AUTHORIZED,
        openapi_extensions=GROUP_ONLY,
    )
    def declare_dividend(body: DividendBody) -> DividendOut:
        action = _act(router, body.reason)
        request = DividendRequest(
            symbol=body.symbol,
            amount_per_unit=Decimal(body.amount_per_unit),
            record_time=body.record_time,
            pay_time=body.pay_time,
            issuer_account_id=body.issuer_account_id,
            dividend_id=body.dividend_id,
        )
        with as_problems():
            return DividendOut.of(_admin(router).declare_dividend(request, action))

    @router.get(
        "/v1/admin/audit",
        summary="The operators' audit log, newest first, and whether its chain verifies",
        responses=documented(200, "A page of entries", 401),
        tags=TAGS,
        security=AUTHORIZED,
        openapi_extensions=GROUP_ONLY,
    )
    def audit_log(
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        before: Annotated[int | None, Query(ge=2, description="next_before of a page")] = None,
    ) -> AuditOut:
        _operator(router)
        return AuditOut.of(_admin(router).audit_log(limit=limit, before=before))
