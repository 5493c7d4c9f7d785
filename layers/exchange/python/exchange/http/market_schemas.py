"""The public market-data API's own bodies and query parameters: the markets, server time,
assets, tickers, and the time-range pages of trades and candles (with their cursors).

A time range is ``start`` (inclusive) to ``end`` (exclusive), ISO-8601 with an offset (``Z`` or
``+00:00``; others are converted to UTC), either side optional; ``start >= end`` is a 422. The
time parameters and that problem are the orders listings' (``order_schemas``): one convention. A
cursor is opaque (``exchange.http.cursor``) and names its listing (symbol, interval, order and
range): sent with another listing's parameters it is a 400.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Final, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from exchange.domain.candles import CandleInterval
from exchange.domain.enums import AssetClass, InstrumentStatus
from exchange.http.cursor import decode_cursor, encode_cursor
from exchange.http.schemas import CURSOR_PATTERN, CandleOut, TradeOut
from exchange.http.time_range import Instant, InvalidTimeRange
from exchange.market.history import CandleQuery, TimeRange, TradeCursor, TradeQuery
from exchange.orders.errors import InvalidCursor

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

# The orders listings' time parameters, so both take the same form (a bare number is refused).
Start = Annotated[
    Instant | None,
    Query(
        description="Inclusive start of the time range, ISO-8601 with a UTC offset",
        examples=["2024-05-01T00:00:00Z"],
    ),
]
End = Annotated[
    Instant | None,
    Query(
        description="Exclusive end of the time range, ISO-8601 with a UTC offset",
        examples=["2024-05-02T00:00:00Z"],
    ),
]
Order = Annotated[
    Literal["desc", "asc"],
    Query(description="desc: newest first (the default); asc: oldest first"),
]
PageCursor = Annotated[
    str | None,
    Query(
        pattern=CURSOR_PATTERN,
        description="next_cursor of the previous page; send the same start, end and order",
    ),
]
# Ticker values: changes may be negative.
SIGNED_DECIMAL_PATTERN: Final = r"^-?(0|[1-9][0-9]{0,29})(\.[0-9]{1,30})?$"
SignedDecimal = Annotated[str, Field(pattern=SIGNED_DECIMAL_PATTERN, max_length=62)]
NullableDecimal = Annotated[
    SignedDecimal | None,
    Field(description="A decimal string, or null when unknown", examples=["65000.25"]),
]


def epoch_ns(moment: datetime) -> int:
    """Exact epoch nanoseconds of an aware datetime (microsecond precision, no float)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1_000


def time_range(start: datetime | None, end: datetime | None) -> TimeRange:
    window = TimeRange(
        None if start is None else epoch_ns(start), None if end is None else epoch_ns(end)
    )
    start_ns, end_ns = window.start_ns, window.end_ns
    if start_ns is not None and end_ns is not None and start_ns >= end_ns:
        raise InvalidTimeRange(f"start ({start}) must be before end ({end})")
    return window


def _listing(*parts: object) -> str:
    return "|".join("" if part is None else str(part) for part in parts)


def trade_query(
    symbol: str,
    *,
    limit: int,
    start: datetime | None,
    end: datetime | None,
    order: str,
    cursor: str | None,
) -> TradeQuery:
    window = time_range(start, end)
    listing = _listing(symbol, order, window.start_ns, window.end_ns)
    position = None
    if cursor is not None:
        key = decode_cursor(cursor)
        after, bound = key.get("q"), key.get("b")
        if key.get("l") != listing or not isinstance(after, int):
            raise InvalidCursor("cursor belongs to another listing (symbol, order or range)")
        if bound is not None and not isinstance(bound, int):
            raise InvalidCursor("cursor field 'b' is malformed")
        position = TradeCursor(after_seq=after, bound_seq=bound)
    return TradeQuery(limit=limit, range=window, newest_first=order == "desc", cursor=position)


def trade_cursor(symbol: str, query: TradeQuery, position: TradeCursor | None) -> str | None:
    if position is None:
        return None
    order = "desc" if query.newest_first else "asc"
    listing = _listing(symbol, order, query.range.start_ns, query.range.end_ns)
    key: dict[str, str | int] = {"l": listing, "q": position.after_seq}
    if position.bound_seq is not None:
        key["b"] = position.bound_seq
    return encode_cursor(key)


def candle_query(
    symbol: str,
    interval: CandleInterval,
    *,
    limit: int,
    start: datetime | None,
    end: datetime | None,
    order: str,
    cursor: str | None,
) -> CandleQuery:
    window = time_range(start, end)
    listing = _listing(symbol, interval, order, window.start_ns, window.end_ns)
    after: int | None = None
    if cursor is not None:
        key = decode_cursor(cursor)
        position = key.get("t")
        if key.get("l") != listing or not isinstance(position, int):
            raise InvalidCursor(
                "cursor belongs to another listing (symbol, interval, order or range)"
            )
        after = position
    return CandleQuery(
        interval=interval,
        limit=limit,
        range=window,
        newest_first=order == "desc",
        after_start=after,
    )


def candle_cursor(symbol: str, query: CandleQuery, after_start: int | None) -> str | None:
    if after_start is None:
        return None
    order = "desc" if query.newest_first else "asc"
    listing = _listing(symbol, query.interval, order, query.range.start_ns, query.range.end_ns)
    return encode_cursor({"l": listing, "t": after_start})


# --- bodies ----------------------------------------------------------------------------------


class InstrumentOut(BaseModel):
    """A listed instrument: the terms its orders are checked against, and its trading status."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "symbol": "BTC-USD",
                    "base": "BTC",
                    "quote": "USD",
                    "asset_class": "CRYPTO",
                    "tick_size": "0.01",
                    "lot_size": "0.0001",
                    "min_qty": "0.0001",
                    "max_qty": "100",
                    "price_band_pct": "10",
                    "status": "TRADING",
                    "version": 1,
                    "maker_fee_bps": 2,
                    "taker_fee_bps": 5,
                }
            ]
        }
    )

    symbol: str
    base: str
    quote: str
    asset_class: AssetClass = Field(description="EQUITY instruments may pay cash dividends")
    tick_size: str = Field(description="Prices are whole multiples of it")
    lot_size: str = Field(description="Quantities are whole multiples of it")
    min_qty: str
    max_qty: str
    price_band_pct: str = Field(
        description="A limit price may be at most this many percent from the reference price"
    )
    status: InstrumentStatus = Field(
        description="TRADING: everything. POST_ONLY: only orders that rest (no market, stop, "
        "IOC or FOK; a crossing limit is rejected). CANCEL_ONLY: no new orders; amends that "
        "reduce the quantity. HALTED: no new orders or amends. DELISTED: for good. Cancels are "
        "accepted in every status. Changes are pushed on the WebSocket channel status"
    )
    version: int = Field(
        description="The listing's version: 1 when listed, +1 with each change of its terms "
        "(fees, limits); 0 for an instrument served from the deployment's own file"
    )
    maker_fee_bps: int = Field(description="Basis points of notional; negative: a rebate")
    taker_fee_bps: int = Field(description="Basis points of notional")


class MarketsOut(BaseModel):
    markets: list[InstrumentOut] = Field(description="By symbol; a symbol listed since is added")


class TimeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"iso": "2024-05-01T12:00:00.123Z", "epoch_ms": 1714564800123}]
        }
    )

    iso: str = Field(description="The server's UTC time, ISO-8601 with milliseconds")
    epoch_ms: int = Field(description="The same instant in epoch milliseconds")


class AssetOut(BaseModel):
    asset: str = Field(examples=["BTC"])
    name: str = Field(examples=["Bitcoin"])
    scale: int = Field(
        description="Decimal places the ledger keeps balances at; an amount with more is refused"
    )
    display_decimals: int = Field(description="Decimal places to show (at most scale)")
    deposit_status: Literal["enabled", "suspended"]
    withdrawal_status: Literal["enabled", "suspended"]
    markets: list[str] = Field(description="Listed symbols that trade this asset")


class AssetsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "assets": [
                        {
                            "asset": "BTC",
                            "name": "Bitcoin",
                            "scale": 8,
                            "display_decimals": 8,
                            "deposit_status": "enabled",
                            "withdrawal_status": "enabled",
                            "markets": ["BTC-USD"],
                        }
                    ]
                }
            ]
        }
    )

    assets: list[AssetOut]


_TICKER_EXAMPLE: Final[JsonDict] = {
    "symbol": "BTC-USD",
    "last": "65010.00",
    "best_bid": "65009.50",
    "best_bid_qty": "0.5000",
    "best_ask": "65010.50",
    "best_ask_qty": "1.2000",
    "open_24h": "64000.00",
    "high_24h": "65500.00",
    "low_24h": "63800.00",
    "volume_24h": "12.3400",
    "quote_volume_24h": "796540.500000",
    "change_24h": "1010.00",
    "change_pct_24h": "1.58",
    "trades_24h": 420,
    "ts_ns": 1714564800123000000,
}


class TickerOut(BaseModel):
    """24 h statistics over the 1-minute bars that started in the last 24 h (rolling, at
    1-minute granularity), and the top of the book. Prices in the quote asset."""

    model_config = ConfigDict(json_schema_extra={"examples": [_TICKER_EXAMPLE]})

    symbol: str
    last: NullableDecimal = Field(description="Last trade price; null before any trade")
    best_bid: NullableDecimal
    best_bid_qty: NullableDecimal
    best_ask: NullableDecimal
    best_ask_qty: NullableDecimal
    open_24h: NullableDecimal = Field(description="The window's first trade price")
    high_24h: NullableDecimal
    low_24h: NullableDecimal
    volume_24h: SignedDecimal = Field(
        description="Base asset traded in the window", examples=["12.3400"]
    )
    quote_volume_24h: NullableDecimal = Field(
        description="Quote asset traded (sum of price x qty); null when not known for the window"
    )
    change_24h: NullableDecimal = Field(description="last - open_24h (may be negative)")
    change_pct_24h: NullableDecimal = Field(
        description="(last - open_24h) / open_24h x 100, 2 places, half-even (may be negative)"
    )
    trades_24h: int
    ts_ns: int = Field(description="When the ticker was computed, epoch nanoseconds")


class TickersOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"tickers": [_TICKER_EXAMPLE]}]})

    tickers: list[TickerOut]


class TradePageOut(BaseModel):
    symbol: str
    trades: list[TradeOut]
    next_cursor: str | None = Field(
        default=None, description="Pass as ?cursor= (with the same start, end, order) for more"
    )


class CandlePageOut(BaseModel):
    symbol: str
    interval: str
    candles: list[CandleOut]
    next_cursor: str | None = Field(
        default=None, description="Pass as ?cursor= (with the same start, end, order) for more"
    )
