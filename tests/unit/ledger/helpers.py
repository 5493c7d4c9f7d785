"""Shared test data for the ledger: instruments, orders, trades and funding shortcuts."""

import itertools
import uuid
from decimal import Decimal

from exchange.domain import (
    Instrument,
    InstrumentCatalog,
    NewOrder,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)
from exchange.ledger.model import DepositNotice, KycStatus
from exchange.ledger.port import LedgerPort

BTC = Instrument(
    symbol="BTC-USD",
    base="BTC",
    quote="USD",
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.0001"),
    min_qty=Decimal("0.0001"),
    max_qty=Decimal("100"),
    price_band_pct=Decimal("10"),
    maker_fee_bps=2,
    taker_fee_bps=5,
)
# A maker rebate, to exercise negative fees.
SOL = Instrument(
    symbol="SOL-USD",
    base="SOL",
    quote="USD",
    tick_size=Decimal("0.001"),
    lot_size=Decimal("0.01"),
    min_qty=Decimal("0.01"),
    max_qty=Decimal("50000"),
    price_band_pct=Decimal("15"),
    maker_fee_bps=-1,
    taker_fee_bps=7,
)
CATALOG = InstrumentCatalog([BTC, SOL])
SCALES = {"USD": 8, "BTC": 8, "SOL": 9}
PROTECTION = {"BTC-USD": Decimal("200000"), "SOL-USD": Decimal("1000")}

_seq = itertools.count(1)


def next_seq() -> int:
    return next(_seq)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def order(
    account_id: str,
    side: Side,
    *,
    qty: int,
    price: int | None = None,
    symbol: str = "BTC-USD",
    order_type: OrderType | None = None,
    order_id: str | None = None,
) -> NewOrder:
    kind = order_type or (OrderType.LIMIT if price is not None else OrderType.MARKET)
    return NewOrder(
        symbol=symbol,
        ts=1,
        order_id=order_id or new_id("o"),
        account_id=account_id,
        client_order_id=new_id("c"),
        side=side,
        order_type=kind,
        tif=TimeInForce.GTC if kind is OrderType.LIMIT else TimeInForce.IOC,
        qty=qty,
        price=price,
    )


def trade(
    maker: NewOrder, taker: NewOrder, *, price: int, qty: int, seq: int | None = None
) -> Trade:
    return Trade(
        symbol=maker.symbol,
        ts=1,
        seq=next_seq() if seq is None else seq,
        maker_order_id=maker.order_id,
        taker_order_id=taker.order_id,
        maker_account_id=maker.account_id,
        taker_account_id=taker.account_id,
        price=price,
        qty=qty,
        aggressor_side=taker.side,
    )


def fund(ledger: LedgerPort, account_id: str, asset: str, amount: str) -> None:
    ledger.credit_deposit(
        DepositNotice(
            event_id=new_id("evt"),
            deposit_id=new_id("dep"),
            account_id=account_id,
            asset=asset,
            amount=Decimal(amount),
            status="CREDITED",
            signed_at=0,
        )
    )


def verified_account(ledger: LedgerPort, **funds: str) -> str:
    """A new verified account, funded e.g. ``verified_account(ledger, USD="100")``."""
    account_id = new_id("acct")
    ledger.open_account(account_id, kyc_status=KycStatus.VERIFIED)
    for asset, amount in funds.items():
        fund(ledger, account_id, asset, amount)
    return account_id
