"""What every endpoint module shares: the transport, exact decimals, listings and time bounds."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from exchange_client.http import Transport
from exchange_client.models import Page, convert

Number = Decimal | str | int
Moment = datetime | int
"""A time bound: an aware ``datetime``, or epoch milliseconds (ccxt's ``since``)."""


class Endpoints:
    """The base of the endpoint mixins: they all send through ``self.http``."""

    http: Transport


def decimal_string(value: Number, what: str) -> str:
    """Exact decimal text; a float is refused (``0.1`` is not 0.1 in binary)."""
    if isinstance(value, bool | float):
        raise TypeError(f"{what} must be Decimal, str or int, not {type(value).__name__}")
    return str(Decimal(value)) if not isinstance(value, str) else value


def iso_time(value: Moment | None) -> str | None:
    """A time bound as the API takes it: ISO-8601 in UTC, to the millisecond.

    >>> iso_time(datetime(2024, 1, 1, tzinfo=UTC)), iso_time(1_704_067_200_123), iso_time(None)
    ('2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.123Z', None)
    """
    if value is None:
        return None
    if isinstance(value, int):
        value = datetime.fromtimestamp(value // 1000, UTC).replace(microsecond=value % 1000 * 1000)
    elif value.tzinfo is None:
        raise ValueError("a naive datetime is ambiguous: give it a timezone")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def segment(value: str) -> str:
    """A value as one path segment (ids and symbols are already safe; anything else is quoted
    rather than allowed to change the path)."""
    return quote(value, safe="-_.~:")


def items(raw: Any, *keys: str) -> list[Any]:
    """The list in an answer: the answer itself, or under the first of ``keys`` it has."""
    if isinstance(raw, list):
        return raw
    if isinstance(raw, dict):
        for key in (*keys, "items"):
            if isinstance(raw.get(key), list):
                return list(raw[key])
    return []


def page[T](raw: Any, model: type[T], key: str) -> Page[T]:
    cursor = (raw.get("next_cursor") or raw.get("cursor")) if isinstance(raw, dict) else None
    return Page([convert(item, model) for item in items(raw, key)], cursor)
