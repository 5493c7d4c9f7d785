"""Errors as RFC 9457 ``application/problem+json``, mapped in one place.

Every typed error of the shared code carries a ``code``; ``STATUS`` maps codes to HTTP statuses
(a subclass without its own entry takes its parent's). Request validation errors (bad JSON,
unknown fields, wrong types, bad path, query or header values) are 400 with the offending fields.
Anything without an entry is a 500, logged: it is our fault, never the client's.
"""

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any, Final

from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponse,
    OpenAPIResponseContentModel,
)
from pydantic import BaseModel, Field

from exchange.domain.errors import ExchangeError

PROBLEM_CONTENT_TYPE: Final = "application/problem+json"
PROBLEM_TYPE_PREFIX: Final = "urn:exchange:problem:"


class FieldError(BaseModel):
    field: str = Field(description="Where: body.qty, path.order_id, query.limit, header.x")
    message: str
    type: str = Field(description="A machine-readable kind, e.g. string_pattern_mismatch")


class Problem(BaseModel):
    """An error response (RFC 9457)."""

    type: str = Field(description="urn:exchange:problem:<code>")
    title: str
    status: int
    detail: str
    code: str = Field(description="The machine-readable error code")
    instance: str | None = Field(default=None, description="The API Gateway request id")
    errors: list[FieldError] | None = Field(
        default=None, description="The offending fields of a validation error"
    )


class HttpProblem(ExchangeError):
    """An error the HTTP layer raises itself (a missing identity, an oversized body, ...)."""

    code = "http_problem"
    status: HTTPStatus = HTTPStatus.BAD_REQUEST


class Unauthorized(HttpProblem):
    code = "unauthorized"
    status = HTTPStatus.UNAUTHORIZED


class PayloadTooLarge(HttpProblem):
    code = "payload_too_large"
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class UnsupportedMediaType(HttpProblem):
    code = "unsupported_media_type"
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class MalformedRequest(HttpProblem):
    code = "malformed_request"
    status = HTTPStatus.BAD_REQUEST


class NotFound(HttpProblem):
    code = "not_found"
    status = HTTPStatus.NOT_FOUND


B, U, F, N, C, P, S = (
    HTTPStatus.BAD_REQUEST,
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.NOT_FOUND,
    HTTPStatus.CONFLICT,
    HTTPStatus.UNPROCESSABLE_ENTITY,
    HTTPStatus.SERVICE_UNAVAILABLE,
)
STATUS: Final[Mapping[str, HTTPStatus]] = {
    # the request itself is wrong
    "invalid_number": B,
    "invalid_price": B,
    "invalid_quantity": B,
    "unknown_instrument": B,
    "invalid_order": B,
    "invalid_cursor": B,
    "invalid_amount": B,
    "unknown_asset": B,
    "invalid_webhook": B,
    "invalid_destination": B,
    "validation_error": B,
    # who is asking
    "invalid_signature": U,
    "stale_webhook": U,
    "kyc_not_allowed": F,
    "account_frozen": F,
    # what it names does not exist (for this account)
    "order_not_found": N,
    "market_not_found": N,
    "book_unavailable": N,
    "unknown_withdrawal": N,
    "unknown_destination": N,
    # it clashes with what happened before
    "order_not_open": C,
    "idempotency_conflict": C,
    "request_in_progress": C,
    "reservation_conflict": C,
    "invalid_transition": C,
    "replayed_webhook": C,
    "destination_conflict": C,
    # a withdrawal to a destination still waiting, removed or another asset's; one already sent
    "destination_not_usable": C,
    "withdrawal_not_cancellable": C,
    # ... or with the symbol's trading status (an operator's; ``InstrumentStatus``)
    "symbol_halted": C,
    "symbol_cancel_only": C,
    "symbol_post_only": C,
    # well-formed, but the rules say no
    "insufficient_funds": P,
    "too_many_open_orders": P,
    "instrument_not_trading": P,
    "no_protection_price": P,
    "no_reference_price": P,
    "stp_not_allowed": P,
    "price_above_max": P,
    "notional_above_max": P,
    "unknown_account": P,
    # ours, and worth a retry
    "broker_unavailable": S,
    "store_unavailable": S,
}


def status_of(error: ExchangeError) -> HTTPStatus:
    if isinstance(error, HttpProblem):
        return error.status
    for cls in type(error).__mro__:
        code = getattr(cls, "code", None)
        if isinstance(code, str) and code in STATUS:
            return STATUS[code]
    return HTTPStatus.INTERNAL_SERVER_ERROR


def problem(
    status: HTTPStatus,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[FieldError] | None = None,
) -> Problem:
    return Problem(
        type=f"{PROBLEM_TYPE_PREFIX}{code}",
        title=status.phrase,
        status=status.value,
        detail=detail,
        code=code,
        instance=instance,
        errors=errors,
    )


def from_error(error: ExchangeError, *, instance: str | None = None) -> Problem:
    status = status_of(error)
    if status is HTTPStatus.INTERNAL_SERVER_ERROR:
        # Never leak the internals of our own failure.
        return problem(
            status, "internal_error", "the server failed; retry later", instance=instance
        )
    return problem(status, error.code, str(error), instance=instance)


def from_validation(errors: Iterable[Mapping[str, Any]], *, instance: str | None) -> Problem:
    """A 400 naming each offending field. Messages come from pydantic and never echo the input."""
    fields = [
        FieldError(
            field=_field(error),
            message=_message(error),
            type=str(error.get("type", "invalid")),
        )
        for error in errors
    ]
    summary = ", ".join(sorted({f.field for f in fields}))
    return problem(
        HTTPStatus.BAD_REQUEST,
        "validation_error",
        f"invalid request: {summary}",
        instance=instance,
        errors=fields,
    )


def _field(error: Mapping[str, Any]) -> str:
    location = [str(part) for part in error.get("loc", ())]
    if error.get("type") == "json_invalid":
        return "body"  # the location's second part is a character offset, not a field
    return ".".join(location) or "request"


def _message(error: Mapping[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        where = error.get("loc", ("body", "?"))[-1]
        reason = error.get("ctx", {}).get("error", "decode error")
        return f"body is not valid JSON: {reason} (at character {where})"
    return str(error.get("msg", "invalid value"))


_DESCRIPTIONS: Final[Mapping[int, str]] = {
    400: "Bad request: malformed JSON, unknown fields, wrong types, bad values (see errors)",
    401: "No valid identity (or, for the webhook, no valid signature)",
    403: "The account may not do this: KYC not verified (kyc_not_allowed), or an operator froze "
    "it (account_frozen: no new orders, amends or withdrawals; cancels go through)",
    404: "Not found (another account's order reads the same as a missing one)",
    409: "Conflicts with an earlier request (idempotency key reused with another body, ...), or "
    "with the symbol's trading status: symbol_halted (no new orders or amends), "
    "symbol_cancel_only (no new orders; only amends that reduce the quantity), symbol_post_only "
    "(no market, stop, IOC or FOK orders). Cancels are accepted in every status",
    413: "The request body is too large",
    415: "The request body is not application/json",
    422: "Well-formed, but the rules refuse it (funds, open-order cap, price or notional above "
    "the instrument's maximum, no reference price, stp NONE, instrument delisted "
    "(instrument_not_trading), ...)",
    503: "Not done: retry with the same Idempotency-Key. A new order may be kept PENDING_NEW "
    "with its funds held (the detail names it); the retry resumes it",
}


def responses(success: int, description: str, *errors: int) -> dict[int, OpenAPIResponse]:
    """A route's documented responses: its success, then problems for each error status.

    Every route may also answer 400 (validation) and 413/415 (body checks), so they are listed.
    """
    documented: dict[int, OpenAPIResponse] = {success: OpenAPIResponse(description=description)}
    for status in sorted({400, *errors}):
        documented[status] = OpenAPIResponse(
            description=_DESCRIPTIONS[status],
            content={PROBLEM_CONTENT_TYPE: OpenAPIResponseContentModel(model=Problem)},
        )
    return documented
