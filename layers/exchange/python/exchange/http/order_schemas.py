"""Bodies, answers and query types of the orders function's bulk routes: cancel-all, the dead
man's switch and time windows on listings.

Times are ISO-8601 with a UTC offset (``2026-12-06T10:00:00Z``), the same form the market-data
routes take; a window is ``[start, end)``. A bare number is refused (it would be ambiguous
between seconds and milliseconds).
"""

import re
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Final

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from exchange.http.problems import HttpProblem
from exchange.http.schemas import OrderAccepted
from exchange.orders.cancel_after import State
from exchange.orders.mass_cancel import MassCancelResult
from exchange.orders.model import TimeWindow

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ISO_INSTANT: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})"
)
# SQS delays a message 900 seconds at most; the deployment's bounds are checked by the logic.
MAX_CANCEL_AFTER_SECONDS: Final = 900


class InvalidTimeRange(HttpProblem):
    code = "invalid_time_range"
    status = HTTPStatus.UNPROCESSABLE_ENTITY


def _iso_only(value: object) -> object:
    if isinstance(value, str) and not _ISO_INSTANT.fullmatch(value):
        raise ValueError("expected an ISO-8601 time with a UTC offset, e.g. 2026-12-06T10:00:00Z")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_only)]
StartQuery = Annotated[
    Instant | None,
    Query(
        description="Only items at or after this time (ISO-8601, e.g. 2026-12-06T10:00:00Z); "
        "send the same start and end with each cursor",
        examples=["2026-12-06T10:00:00Z"],
    ),
]
EndQuery = Annotated[
    Instant | None,
    Query(
        description="Only items before this time (exclusive; ISO-8601)",
        examples=["2026-12-06T11:00:00Z"],
    ),
]


def time_window(start: datetime | None, end: datetime | None) -> TimeWindow:
    """The window ``[start, end)``; 422 when it is empty."""
    if start is not None and end is not None and end <= start:
        raise InvalidTimeRange("end must be after start")
    return TimeWindow(start_ns=_ns(start), end_ns=_ns(end))


def _ns(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1_000


def iso_ms(epoch_ms: int) -> str:
    """``2026-12-06T10:00:05.123Z``."""
    moment = _EPOCH + timedelta(milliseconds=epoch_ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CancelAfterBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_seconds: StrictInt = Field(
        ge=0,
        le=MAX_CANCEL_AFTER_SECONDS,
        description="Cancel all your open orders unless renewed within this many seconds; 0 "
        "disarms. The deployment allows 5 to 900 by default (cancel_after_min_seconds, "
        "cancel_after_max_seconds); outside its bounds is a 400",
        examples=[60],
    )


class CancelAfterOut(BaseModel):
    deadline: str | None = Field(
        description="When your open orders are cancelled unless renewed (ISO-8601, UTC); "
        "null when disarmed"
    )
    deadline_ms: int | None = Field(description="The same, in epoch milliseconds")
    timeout_seconds: int = Field(description="0 when disarmed")
    fired: str | None = Field(
        default=None,
        description="A deadline that had already passed unrenewed when this request came: its "
        "cancels were sent before the switch was set again",
    )

    @classmethod
    def of(cls, state: State) -> "CancelAfterOut":
        switch = state.switch
        return cls(
            deadline=iso_ms(switch.deadline_ms) if switch else None,
            deadline_ms=switch.deadline_ms if switch else None,
            timeout_seconds=switch.timeout_seconds if switch else 0,
            fired=iso_ms(state.fired.deadline_ms) if state.fired else None,
        )


class NotSentOut(BaseModel):
    order_id: str
    client_order_id: str
    symbol: str
    reason: str = Field(
        description="broker_unavailable, publish_unconfirmed (it may have been sent) or "
        "not_attempted (an earlier cancel failed); retry the request"
    )
    detail: str


class MassCancelOut(BaseModel):
    """What ``DELETE /v1/orders`` sent to the matching engine: one cancel per open order."""

    accepted: list[OrderAccepted] = Field(
        description="A cancel was sent for each (PENDING_CANCEL); the outcomes arrive as order "
        "updates, and settlement releases each hold when the engine confirms"
    )
    not_sent: list[NotSentOut] = Field(description="Open orders whose cancel was not sent")
    truncated: bool = Field(
        description="More open orders were found than one request cancels: call again"
    )

    @classmethod
    def of(cls, result: MassCancelResult) -> "MassCancelOut":
        return cls(
            accepted=[
                OrderAccepted(
                    order_id=accepted.order_id,
                    status=accepted.status,
                    client_order_id=accepted.client_order_id,
                    symbol=accepted.symbol,
                    command_id=accepted.command_id,
                )
                for accepted in result.sent
            ],
            not_sent=[
                NotSentOut(
                    order_id=item.order.order_id,
                    client_order_id=item.order.client_order_id,
                    symbol=item.order.symbol,
                    reason=item.reason,
                    detail=item.detail,
                )
                for item in result.not_sent
            ],
            truncated=result.truncated,
        )
