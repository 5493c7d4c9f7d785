"""What the API returns, as typed, immutable values. Prices, quantities and money are
``Decimal`` (sent as decimal strings), never float. Unknown fields are ignored, so a newer API
does not break an older client.
"""

from datetime import datetime
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
    # TRADING, POST_ONLY, CANCEL_ONLY, HALTED or DELISTED; changes come on the ``status`` stream.
    status: str | None = None
    version: int | None = None  # the listing's version: +1 with each change of its terms
    asset_class: str | None = None  # CRYPTO or EQUITY


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


class Ticker(msgspec.Struct, frozen=True, kw_only=True):
    """24 h statistics (a rolling window of 1-minute bars) and the top of the book; None where
    there is nothing to tell (no trade yet, an empty side)."""

    symbol: str
    last: Decimal | None = None
    best_bid: Decimal | None = None
    best_bid_qty: Decimal | None = None
    best_ask: Decimal | None = None
    best_ask_qty: Decimal | None = None
    open_24h: Decimal | None = None
    high_24h: Decimal | None = None
    low_24h: Decimal | None = None
    volume_24h: Decimal = Decimal(0)
    quote_volume_24h: Decimal | None = None
    change_24h: Decimal | None = None
    change_pct_24h: Decimal | None = None
    trades_24h: int = 0
    ts_ns: int | None = None


class Asset(msgspec.Struct, frozen=True, kw_only=True):
    asset: str
    name: str | None = None
    scale: int | None = None  # decimal places the ledger keeps; more is refused
    display_decimals: int | None = None
    deposit_status: str | None = None  # enabled, suspended
    withdrawal_status: str | None = None
    markets: list[str] = msgspec.field(default_factory=list)


class ApiKeyInfo(msgspec.Struct, frozen=True, kw_only=True):
    """An API key as listed: never its secret. ``status``: active, expired or revoked."""

    key_id: str
    scopes: list[str]
    label: str | None = None
    allowed_ips: list[str] | None = None  # None: any address
    rate_limit_per_second: int | None = None
    status: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class CreatedApiKey(ApiKeyInfo, frozen=True, kw_only=True):
    """A new key with its secret, which the API shows this once."""

    secret: str

    def __repr__(self) -> str:  # the secret stays out of logs and tracebacks
        return f"CreatedApiKey(key_id={self.key_id!r}, scopes={self.scopes!r}, secret=...)"


class CancelAfter(msgspec.Struct, frozen=True, kw_only=True):
    """The dead man's switch: armed until ``deadline`` (``deadline_ms``) unless renewed;
    ``timeout_seconds`` 0 when disarmed. ``fired``: a deadline that had already passed unrenewed
    when this call came (its cancels were sent first)."""

    timeout_seconds: int = 0
    deadline: str | None = None
    deadline_ms: int | None = None
    fired: str | None = None

    @property
    def armed(self) -> bool:
        return self.timeout_seconds > 0 and self.deadline_ms is not None


class NotSent(msgspec.Struct, frozen=True, kw_only=True):
    order_id: str
    reason: str  # broker_unavailable, publish_unconfirmed, not_attempted: call again
    client_order_id: str | None = None
    symbol: str | None = None
    detail: str | None = None


class CancelAll(msgspec.Struct, frozen=True, kw_only=True):
    """What ``DELETE /v1/orders`` sent: a cancel for each ``accepted`` order; ``not_sent`` and
    ``truncated`` (more open orders than one call cancels) say to call again."""

    accepted: list[Accepted] = msgspec.field(default_factory=list)
    not_sent: list[NotSent] = msgspec.field(default_factory=list)
    truncated: bool = False

    @property
    def complete(self) -> bool:
        return not self.not_sent and not self.truncated


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
