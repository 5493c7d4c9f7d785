"""The statement's bodies, query and cursor (``GET /v1/transactions``).

A line's amounts are decimal strings written at the asset's scale (``"-500.00000000"`` for USD
with 8 decimals), signed: positive into the account, negative out of it. The time range is the
listings' one convention (``start`` inclusive, ``end`` exclusive, ISO-8601 with an offset; an
empty one is a 422). A cursor is opaque (``exchange.http.cursor``) and names its listing (asset,
order and range) besides the last line it returned: sent with other parameters it is a 400.

>>> query = statement_query("a-1", asset="USD", start=None, end=None, order="asc", limit=2,
...                         cursor=None)
>>> token = statement_cursor(query, StatementPosition(7, MovementKind.FEE, "USD"))
>>> statement_query("a-1", asset="USD", start=None, end=None, order="asc", limit=2,
...                 cursor=token).after
StatementPosition(tx_id=7, kind=<MovementKind.FEE: 'FEE'>, asset='USD')
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Final

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from exchange.domain.numbers import plain
from exchange.http.cursor import decode_cursor, encode_cursor
from exchange.http.market_schemas import SIGNED_DECIMAL_PATTERN, epoch_ns
from exchange.http.schemas import ASSET_PATTERN
from exchange.http.time_range import time_window
from exchange.ledger.statements import (
    MovementKind,
    StatementLine,
    StatementPosition,
    StatementQuery,
)
from exchange.orders.errors import InvalidCursor

AssetQuery = Annotated[
    str | None, Query(pattern=ASSET_PATTERN, description="Only this asset's lines, e.g. USD")
]
_ASSET: Final = re.compile(ASSET_PATTERN)
SignedAmount = Annotated[
    str,
    Field(
        pattern=SIGNED_DECIMAL_PATTERN,
        description="A signed decimal string at the asset's scale; never a JSON number",
        examples=["-500.00000000"],
    ),
]


class TransactionOut(BaseModel):
    tx_id: int = Field(description="The ledger transaction; with kind and asset, the line's id")
    at: str = Field(description="When the ledger recorded it (ISO-8601, UTC, milliseconds)")
    kind: MovementKind
    asset: str
    amount: SignedAmount = Field(description="Positive into your account, negative out of it")
    balance_after: SignedAmount = Field(
        description="Your total (available + held) of the asset after this line"
    )
    reference: str = Field(
        description="The deposit, withdrawal, order or dividend id; symbol#seq for a trade"
    )
    symbol: str | None = Field(default=None, description="A trade's or dividend's symbol")
    seq: int | None = Field(default=None, description="A trade's seq on its symbol")


class TransactionPage(BaseModel):
    transactions: list[TransactionOut]
    next_cursor: str | None = Field(
        default=None, description="Send it as cursor (with the same filters) for the next page"
    )


def statement_query(
    account_id: str,
    *,
    asset: str | None,
    start: datetime | None,
    end: datetime | None,
    order: str,
    limit: int,
    cursor: str | None,
) -> StatementQuery:
    """The ledger's query for the route's parameters; InvalidTimeRange (422) for an empty range,
    InvalidCursor (400) for a cursor of another listing or one this API did not issue."""
    time_window(start, end)
    query = StatementQuery(
        account_id, start=start, end=end, asset=asset, limit=limit, newest_first=order != "asc"
    )
    if cursor is None:
        return query
    key = decode_cursor(cursor)
    tx_id, kind, line_asset = key.get("t"), key.get("k"), key.get("a")
    if key.get("l") != _listing(query):
        raise InvalidCursor("cursor belongs to another listing (asset, order or range)")
    if not isinstance(tx_id, int) or tx_id < 0:
        raise InvalidCursor("cursor field 't' is malformed")
    if kind not in set(MovementKind):
        raise InvalidCursor("cursor field 'k' is malformed")
    if not isinstance(line_asset, str) or not _ASSET.fullmatch(line_asset):
        raise InvalidCursor("cursor field 'a' is malformed")
    position = StatementPosition(tx_id, MovementKind(kind), line_asset)
    return StatementQuery(
        account_id,
        start=start,
        end=end,
        asset=asset,
        limit=limit,
        newest_first=query.newest_first,
        after=position,
    )


def statement_cursor(query: StatementQuery, position: StatementPosition | None) -> str | None:
    if position is None:
        return None
    return encode_cursor(
        {"l": _listing(query), "t": position.tx_id, "k": position.kind.value, "a": position.asset}
    )


def transaction_out(line: StatementLine) -> TransactionOut:
    return TransactionOut(
        tx_id=line.tx_id,
        at=iso(line.at),
        kind=line.kind,
        asset=line.asset,
        amount=plain(line.amount),
        balance_after=plain(line.balance_after),
        reference=line.reference,
        symbol=line.symbol,
        seq=line.seq,
    )


def iso(moment: datetime) -> str:
    """``2026-12-06T10:00:05.123Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _listing(query: StatementQuery) -> str:
    parts = (
        query.asset,
        "desc" if query.newest_first else "asc",
        None if query.start is None else epoch_ns(query.start),
        None if query.end is None else epoch_ns(query.end),
    )
    return "|".join("" if part is None else str(part) for part in parts)
