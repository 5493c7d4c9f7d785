"""Shared test data for the ledger: instruments, orders, trades and funding shortcuts."""

import itertools
import uuid
from decimal import Decimal

from exchange.domain import (
    AmendOrder,
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


def protection_ticks(symbol: str) -> int:
    """``PROTECTION[symbol]`` in ticks: what the API would set on a market or stop order."""
    return CATALOG.get(symbol).price_to_ticks(PROTECTION[symbol])


def order(
    account_id: str,
    side: Side,
    *,
    qty: int,
    price: int | None = None,
    symbol: str = "BTC-USD",
    order_type: OrderType | None = None,
    order_id: str | None = None,
    protection_price: int | None = None,
    protected: bool = True,
) -> NewOrder:
    """A new order; a market or stop one carries ``protection_price`` (default: the symbol's
    ``PROTECTION``) unless ``protected`` is False."""
    kind = order_type or (OrderType.LIMIT if price is not None else OrderType.MARKET)
    if kind in (OrderType.MARKET, OrderType.STOP) and protected and protection_price is None:
        protection_price = protection_ticks(symbol)
    if kind not in (OrderType.MARKET, OrderType.STOP):
        protection_price = None
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
        protection_price=protection_price,
    )


def amend(
    placed: NewOrder, command_id: str, *, price: int | None = None, qty: int | None = None
) -> AmendOrder:
    """An amend of ``placed`` to ``price`` and total ``qty`` (None: unchanged)."""
    return AmendOrder(
        symbol=placed.symbol,
        ts=1,
        command_id=command_id,
        order_id=placed.order_id,
        account_id=placed.account_id,
        price=price,
        qty=qty,
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
