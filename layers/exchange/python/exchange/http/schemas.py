"""The REST API's request and response bodies (pydantic), which the OpenAPI document is built from.

Prices, quantities and amounts are decimal strings: a JSON number is refused, so no client value
ever passes through a float. Request bodies forbid unknown fields.
"""

from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from exchange.domain.enums import OrderStatus, OrderType, Side, StpMode, TimeInForce
from exchange.ids import ORDER_ID_PATTERN
from exchange.ledger.model import KycStatus
from exchange.ledger.verification import KycResult

SYMBOL_PATTERN: Final = r"^[A-Z0-9]{2,10}-[A-Z0-9]{2,10}$"
DECIMAL_PATTERN: Final = r"^(0|[1-9][0-9]{0,29})(\.[0-9]{1,30})?$"
CLIENT_ID_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,64}$"
IDEMPOTENCY_KEY_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,128}$"
ASSET_PATTERN: Final = r"^[A-Z0-9]{2,10}$"
CURSOR_PATTERN: Final = r"^[A-Za-z0-9_-]{1,1024}$"

DecimalString = Annotated[
    str,
    Field(
        pattern=DECIMAL_PATTERN,
        max_length=61,
        description='A non-negative decimal as a string, e.g. "65000.25"; never a JSON number',
        examples=["65000.25"],
    ),
]
Symbol = Annotated[str, Field(pattern=SYMBOL_PATTERN, examples=["BTC-USD"])]
OrderId = Annotated[str, Field(pattern=ORDER_ID_PATTERN, description="A ULID (time-ordered)")]
ClientOrderId = Annotated[str, Field(pattern=CLIENT_ID_PATTERN)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlaceOrderBody(_Request):
    symbol: Symbol
    side: Side
    order_type: OrderType
    qty: DecimalString
    tif: TimeInForce = TimeInForce.GTC
    price: DecimalString | None = Field(
        default=None, description="Limit price: LIMIT and STOP_LIMIT only"
    )
    stop_price: DecimalString | None = Field(
        default=None, description="Trigger price: STOP and STOP_LIMIT only"
    )
    post_only: StrictBool = False
    stp: StpMode = StpMode.CANCEL_NEWEST
    client_order_id: ClientOrderId | None = Field(
        default=None,
        description="Your id for the order; without an Idempotency-Key header it is the "
        "idempotency key",
    )


class AmendOrderBody(_Request):
    price: DecimalString | None = None
    qty: DecimalString | None = Field(
        default=None, description="The new total quantity, filled quantity included"
    )

    @model_validator(mode="after")
    def _something(self) -> "AmendOrderBody":
        if self.price is None and self.qty is None:
            raise ValueError("an amend needs a price, a qty, or both")
        return self


# --- responses ----------------------------------------------------------------------------------


class OrderAccepted(BaseModel):
    """The command was handed to the matching engine; its outcome arrives as order updates."""

    order_id: str
    status: str = Field(description="PENDING_NEW, PENDING_AMEND or PENDING_CANCEL")
    client_order_id: str | None = None
    symbol: str | None = None
    command_id: str | None = None


class OrderOut(BaseModel):
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    status: OrderStatus
    qty: str
    price: str | None = None
    stop_price: str | None = None
    post_only: bool
    stp: StpMode
    filled_qty: str
    open_qty: str | None = None
    notional: str = Field(description="Sum of fill price x quantity, in the quote asset")
    fee: str
    reject_reason: str | None = Field(
        default=None,
        description="Why a REJECTED order was refused: the engine's reason (e.g. SYMBOL_HALTED, "
        "SYMBOL_POST_ONLY, ACCOUNT_FROZEN, PRICE_OUT_OF_BAND) or the API's "
        "(NOT_RECEIVED_BY_ENGINE, DEAD_LETTERED)",
    )
    detail: str | None = Field(
        default=None,
        description="More on the final status: a CANCELLED order's cancel reason "
        "(USER_REQUESTED, SELF_TRADE_PREVENTION, AMENDED_TO_FILLED, OPERATOR: an operator's "
        "mass cancel or account freeze), an EXPIRED order's expiry reason, a rejection's prose",
    )
    created_ns: int
    updated_ns: int


class OrderPage(BaseModel):
    orders: list[OrderOut]
    next_cursor: str | None = Field(default=None, description="Pass as ?cursor= for the next page")


class FillOut(BaseModel):
    fill_id: str
    order_id: str
    symbol: str
    seq: int
    side: str
    role: str
    price: str
    qty: str
    fee: str
    fee_asset: str | None = None
    ts_ns: int


class FillPage(BaseModel):
    fills: list[FillOut]
    next_cursor: str | None = None


class AccountOut(BaseModel):
    account_id: str = Field(description="Your access token's sub")
    kyc_status: KycStatus | None = Field(description="None until the ledger opens the account")
    email: str | None = Field(default=None, description="As stored when the account was opened")
    username: str | None = Field(default=None, description="Your access token's username")


class BalanceOut(BaseModel):
    asset: str
    available: str
    held: str
    total: str


class BalancesOut(BaseModel):
    balances: list[BalanceOut]


class PnlOut(BaseModel):
    symbol: str
    quantity: str
    average_cost: str | None = None
    realized_pnl: str


class DividendOut(BaseModel):
    """A cash dividend credited to the account: ``units`` of the symbol's base held at its
    record time, times ``amount_per_unit``, rounded down to the asset's precision."""

    dividend_id: str
    symbol: str
    asset: str = Field(description="What it was paid in: the symbol's quote asset")
    units: str
    amount_per_unit: str
    amount: str
    paid_at: str = Field(description="ISO-8601 UTC, milliseconds")


class PositionsOut(BaseModel):
    holdings: list[BalanceOut] = Field(description="Balances, dividends received included")
    pnl: list[PnlOut] = Field(description="Per symbol, from trades alone")
    dividends: list[DividendOut] = Field(description="Dividends credited, newest first")


class LevelOut(BaseModel):
    price: str
    qty: str
    orders: int


class BookOut(BaseModel):
    symbol: str
    seq: int = Field(description="The engine seq of the last event the book reflects")
    bids: list[LevelOut]
    asks: list[LevelOut]


class TradeOut(BaseModel):
    seq: int
    price: str
    qty: str
    aggressor_side: str
    ts_ns: int


class TradesOut(BaseModel):
    symbol: str
    trades: list[TradeOut]


class CandleOut(BaseModel):
    start: int = Field(description="Epoch seconds of the bar's open")
    open: str
    high: str
    low: str
    close: str
    volume: str
    trades: int


class CandlesOut(BaseModel):
    symbol: str
    interval: str
    candles: list[CandleOut]


class CheckOut(BaseModel):
    """One dependency's check. ``detail`` names what is wrong, never a host or a secret."""

    status: Literal["ok", "degraded", "fail"]
    latency_ms: float = Field(description="How long the check took")
    detail: str
    critical: bool = Field(description="Whether its failing means trading cannot work (503)")
    age_ms: int | None = Field(default=None, description="An engine shard's heartbeat age")
    seqs: dict[str, int] | None = Field(
        default=None, description="An engine shard's last journaled seq per symbol"
    )
    lag: dict[str, dict[str, int]] | None = Field(
        default=None, description="Each journal consumer's lag per symbol, in events"
    )


class HealthOut(BaseModel):
    """Trading can work here: every critical check is ok; ``degraded`` when another is not."""

    status: Literal["ok", "degraded"]
    checks: dict[str, CheckOut] = Field(
        description="ledger, broker, redis, engine:<shard> for each shard, consumers"
    )


class KycReceiptOut(BaseModel):
    status: KycResult = Field(
        description="APPLIED: the account's status is the verdict's now; SUPERSEDED: recorded, but "
        "an operator's decision, a suspension or a newer verdict stands; DUPLICATE: this event_id "
        "was processed before (nothing written again)"
    )
    account_id: str
    kyc_status: KycStatus = Field(description="The account's KYC status in force afterwards")


class DepositReceiptOut(BaseModel):
    status: Literal["CREDITED", "FAILED", "DUPLICATE"]
    deposit_id: str | None = None
