"""What the API returns, as typed, immutable values. Prices, quantities and money are
``Decimal`` (sent as decimal strings), never float. Unknown fields are ignored, so a newer API
does not break an older client.
"""

from decimal import Decimal
from typing import Any

import msgspec


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    maker_fee_bps: Decimal | None = None
    taker_fee_bps: Decimal | None = None
    price_band_pct: Decimal | None = None
    status: str | None = None


class Accepted(msgspec.Struct, frozen=True, kw_only=True):
    """The API's 202: the command is with the engine; the order's fate comes from the stream."""

    order_id: str
    status: str
    client_order_id: str | None = None
    symbol: str | None = None
    command_id: str | None = None


class Order(msgspec.Struct, frozen=True, kw_only=True):
    order_id: str
    symbol: str
    side: str
    order_type: str
    status: str
    qty: Decimal
    client_order_id: str | None = None
    tif: str | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    post_only: bool = False
    stp: str | None = None
    filled_qty: Decimal = Decimal(0)
    open_qty: Decimal | None = None
    notional: Decimal = Decimal(0)  # sum of fill price x qty
    fee: Decimal = Decimal(0)
    reject_reason: str | None = None
    detail: str | None = None
    created_ns: int | None = None
    updated_ns: int | None = None

    @property
    def avg_price(self) -> Decimal | None:
        return self.notional / self.filled_qty if self.filled_qty else None

    @property
    def is_open(self) -> bool:
        return self.status in {"PENDING_NEW", "NEW", "PARTIALLY_FILLED"}


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    fill_id: str
    order_id: str
    symbol: str
    side: str
    role: str
    price: Decimal
    qty: Decimal
    fee: Decimal = Decimal(0)
    fee_asset: str | None = None
    seq: int | None = None
    ts_ns: int | None = None


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    asset: str
    available: Decimal
    held: Decimal

    @property
    def total(self) -> Decimal:
        return self.available + self.held


class Level(msgspec.Struct, frozen=True, kw_only=True):
    price: Decimal
    qty: Decimal
    orders: int | None = None


class Book(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    seq: int
    bids: list[Level]
    asks: list[Level]


class TradePrint(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    price: Decimal
    qty: Decimal
    aggressor_side: str
    ts_ns: int | None = None


class Candle(msgspec.Struct, frozen=True, kw_only=True):
    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int = 0


class Page[T](msgspec.Struct, frozen=True):
    """One page of a listing; pass ``next_cursor`` back to get the next."""

    items: list[T]
    next_cursor: str | None = None


def level(raw: Any) -> Level:
    """A book level from ``{"price", "qty", "orders"}`` or ``[price, qty, orders]``."""
    if isinstance(raw, list | tuple):
        return Level(price=Decimal(str(raw[0])), qty=Decimal(str(raw[1])),
                     orders=int(raw[2]) if len(raw) > 2 else None)  # fmt: skip
    return msgspec.convert(raw, Level, strict=False)


def convert[T](raw: Any, model: type[T]) -> T:
    return msgspec.convert(raw, model, strict=False)
