"""Time ranges on listings, one convention for every route (orders, fills, trades, candles):
ISO-8601 with a UTC offset (``2026-12-06T10:00:00Z``), a window ``[start, end)``; a bare number
is refused (it would be ambiguous between seconds and milliseconds); an empty window is a 422."""

import re
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Final

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import AwareDatetime, BeforeValidator

from exchange.http.problems import HttpProblem
from exchange.orders.model import TimeWindow

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ISO_INSTANT: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})"
)


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
