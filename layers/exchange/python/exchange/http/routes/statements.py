"""Routes of the account function's statement: ``GET /v1/transactions``, one page of the account's
money movements, and ``GET /v1/transactions/csv``, the whole range as a CSV download.

Both read the ledger's journal (``StatementsPort``): every deposit, completed withdrawal, trade
leg, fee, rebate and dividend, each with the account's balance after it, so per asset the lines
add up to the balance's total.
"""

from dataclasses import replace
from typing import Annotated, Final, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponse,
    OpenAPIResponseContentSchema,
)

from exchange.http.app import service
from exchange.http.identity import account_id
from exchange.http.market_schemas import Order, PageCursor
from exchange.http.problems import responses
from exchange.http.routing import AUTHORIZED, new_router
from exchange.http.statement_csv import (
    CSV_CONTENT_TYPE,
    MAX_CSV_LINES,
    StatementTooLarge,
    checked_size,
    csv_filename,
    statement_csv,
)
from exchange.http.statement_schemas import (
    AssetQuery,
    TransactionPage,
    statement_cursor,
    statement_query,
    transaction_out,
)
from exchange.http.time_range import EndQuery, StartQuery
from exchange.ledger.statements import (
    StatementLine,
    StatementPosition,
    StatementQuery,
    StatementsPort,
)

Limit = Annotated[int, Query(ge=1, le=500)]
CSV_PAGE: Final = 1000
RANGE: Final = (
    "start (inclusive) and end (exclusive) select a time range, ISO-8601 with an offset "
    "(2026-12-06T10:00:00Z); asset one asset's lines. 422: end not after start."
)
CsvOrder = Annotated[
    Literal["asc", "desc"],
    Query(description="asc: oldest first (the default, as a statement reads); desc: newest first"),
]


def statements_router() -> Router:
    router = new_router()

    def ledger() -> StatementsPort:
        return service(router, StatementsPort)  # type: ignore[type-abstract]

    @router.get(
        "/v1/transactions",
        summary="Your statement: every movement of your money, page by page",
        description="One line per ledger transaction, asset and kind: DEPOSIT, WITHDRAWAL (when "
        "the payout completes; a pending, failed or cancelled one moves nothing), TRADE (each "
        "asset a fill moved), FEE, REBATE, DIVIDEND, ADJUSTMENT. amount is signed (positive "
        "in), at the asset's scale; balance_after is your total (available + held) of the "
        "asset after the line, so the lines of an asset add up to its balance. "
        f"{RANGE} order=asc lists oldest first. next_cursor continues the listing (send the "
        "same asset, start, end and order); it never skips or repeats a line.",
        responses=responses(200, "A page of lines", 401, 422),
        tags=["account"],
        security=AUTHORIZED,
    )
    def list_transactions(
        *,
        asset: AssetQuery = None,
        start: StartQuery = None,
        end: EndQuery = None,
        order: Order = "desc",
        limit: Limit = 100,
        cursor: PageCursor = None,
    ) -> TransactionPage:
        query = statement_query(
            account_id(router.current_event),
            asset=asset,
            start=start,
            end=end,
            order=order,
            limit=limit,
            cursor=cursor,
        )
        page = ledger().statement(query)
        return TransactionPage(
            transactions=[transaction_out(line) for line in page.lines],
            next_cursor=statement_cursor(query, page.next_after),
        )

    csv_responses = responses(200, "", 401, 422)
    csv_responses[200] = OpenAPIResponse(
        description="The statement as CSV (RFC 4180, UTF-8, CRLF), a header row first: "
        "tx_id, at, kind, asset, amount, balance_after, reference, symbol, seq",
        headers={
            "Content-Disposition": {
                "description": "attachment; filename=transactions[-ASSET][-from-...][-to-...].csv",
                "schema": {"type": "string"},
            }
        },
        content={"text/csv": OpenAPIResponseContentSchema(schema={"type": "string"})},
    )

    @router.get(
        "/v1/transactions/csv",
        summary="Your statement as a CSV download",
        description=f"Every line of the range (not one page), oldest first unless order=desc. "
        f"{RANGE} At most {MAX_CSV_LINES} lines: a range with more is a 422 "
        "statement_too_large (export it in shorter ranges).",
        responses=csv_responses,
        tags=["account"],
        security=AUTHORIZED,
    )
    def export_transactions(
        *,
        asset: AssetQuery = None,
        start: StartQuery = None,
        end: EndQuery = None,
        order: CsvOrder = "asc",
    ) -> Response[str]:
        query = statement_query(
            account_id(router.current_event),
            asset=asset,
            start=start,
            end=end,
            order=order,
            limit=CSV_PAGE,
            cursor=None,
        )
        # Text, not base64: API Gateway passes a Lambda proxy's body through as UTF-8 text unless
        # the API lists binary media types ("Binary media types for REST APIs in API Gateway").
        body = checked_size(statement_csv(_every_line(ledger(), query)))
        return Response(
            status_code=200,
            content_type=CSV_CONTENT_TYPE,
            body=body,
            headers={"Content-Disposition": f'attachment; filename="{csv_filename(query)}"'},
        )

    return router


def _every_line(ledger: StatementsPort, query: StatementQuery) -> list[StatementLine]:
    """The range's lines, page by page; StatementTooLarge past ``MAX_CSV_LINES``."""
    lines: list[StatementLine] = []
    while True:
        page = ledger.statement(query)
        lines.extend(page.lines)
        if len(lines) > MAX_CSV_LINES:
            raise StatementTooLarge(
                f"the range has more than {MAX_CSV_LINES} lines; ask for a shorter one (start, end)"
            )
        if page.next_after is None:
            return lines
        query = _after(query, page.next_after)


def _after(query: StatementQuery, position: StatementPosition) -> StatementQuery:
    return replace(query, after=position)
