"""What the ledger holds for an order, and how each engine event changes it. Pure: no I/O.

A buy holds quote: ``notional(limit, open) + the most fee the rest can cost``. A sell holds base:
the open quantity. A market (or stop) buy has no limit, so it holds against the protection price
its command carries (``NewOrder.protection_price``), the worst price the engine lets it trade at.

Fees are charged per fill in the quote asset, at the instrument's bps of the fill's notional, and
rounded up to the quote asset's scale *cumulatively per order*: after each fill the order has paid
``ceil(sum of its exact fees)``. So many small fills never cost more than one big one, and the
hold (which covers ``ceil`` of the maximum exact fee) always covers the fees. The seller's fee
comes out of the proceeds. Every rounding only decides who gets a fraction; the fraction still
moves between two pockets, so conservation stays exact.

After every event the order's hold is recomputed with ``required_hold``, and the difference
(an improved fill price, a cancelled remainder, an amend) goes back to ``available``. Settlement
never takes more from ``available``: a fill or resize that would need more than is held raises
``LedgerInconsistency`` (an amend's increase is held before it is sent: ``ledger.amends``).

>>> btc = Instrument(symbol="BTC-USD", base="BTC", quote="USD", tick_size=Decimal("0.01"),
...                  lot_size=Decimal("0.0001"), min_qty=Decimal("0.0001"),
...                  max_qty=Decimal("100"), price_band_pct=Decimal("10"), taker_fee_bps=5)
>>> buy_hold_amount(btc, quote_scale=2, limit_ticks=10_000_00, lots=10_000)  # 1 BTC at 10,000
Decimal('10005.00')
"""

from dataclasses import dataclass, replace
from decimal import Decimal

from exchange.domain.enums import OrderType, Side
from exchange.domain.instruments import Instrument
from exchange.ledger.errors import LedgerInconsistency, NoProtectionPrice
from exchange.ledger.money import (
    ZERO,
    add,
    base_amount,
    ceil_to,
    fee_exact,
    notional,
    show,
    sub,
    to_scale,
)

LIMITED_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})


@dataclass(frozen=True, slots=True)
class Hold:
    """The funds held for one order, and the fee it has accrued so far.

    ``limit_ticks`` is the price a buy is held at (its limit, or the protection price); ``None``
    for sells. ``fee_accrued`` is exact (unrounded); ``fee_charged`` is what was taken, always
    ``ceil_to(fee_accrued, quote scale)``. ``filled_lots`` is what has settled so far, so
    ``filled_lots + open_lots`` is the total quantity in force while the order is open.
    """

    order_id: str
    account_id: str
    symbol: str
    side: Side
    asset: str
    limit_ticks: int | None
    original_lots: int
    open_lots: int
    held: Decimal
    max_fee_bps: int
    fee_accrued: Decimal = ZERO
    fee_charged: Decimal = ZERO
    filled_lots: int = 0

    @property
    def is_open(self) -> bool:
        return self.open_lots > 0


def max_fee_bps(instrument: Instrument) -> int:
    """The highest rate an order can pay: it may fill as maker or taker."""
    return max(instrument.maker_fee_bps, instrument.taker_fee_bps, 0)


def buy_hold_amount(
    instrument: Instrument,
    *,
    quote_scale: int,
    limit_ticks: int,
    lots: int,
    max_bps: int | None = None,
    fee_accrued: Decimal = ZERO,
    fee_charged: Decimal = ZERO,
) -> Decimal:
    """Quote a buy holds so ``lots`` more at ``limit_ticks`` or better are paid, fees included."""
    bps = max_fee_bps(instrument) if max_bps is None else max_bps
    rest = notional(instrument, price_ticks=limit_ticks, qty_lots=lots)
    worst_fee = ceil_to(add(fee_accrued, fee_exact(rest, bps)), quote_scale)
    return to_scale(add(rest, sub(worst_fee, fee_charged)), quote_scale)


def required_hold(
    hold: Hold, instrument: Instrument, *, quote_scale: int, base_scale: int
) -> Decimal:
    if hold.side is Side.SELL:
        return to_scale(base_amount(instrument, hold.open_lots), base_scale)
    assert hold.limit_ticks is not None  # noqa: S101 - new_hold gives every buy a price
    return buy_hold_amount(
        instrument,
        quote_scale=quote_scale,
        limit_ticks=hold.limit_ticks,
        lots=hold.open_lots,
        max_bps=hold.max_fee_bps,
        fee_accrued=hold.fee_accrued,
        fee_charged=hold.fee_charged,
    )


def new_hold(
    *,
    order_id: str,
    account_id: str,
    instrument: Instrument,
    side: Side,
    order_type: OrderType,
    qty_lots: int,
    price_ticks: int | None,
    protection_ticks: int | None,
    quote_scale: int,
    base_scale: int,
) -> Hold:
    """The hold a new order needs. A market or stop buy holds at ``protection_ticks`` (its
    command's protection price); without one it raises NoProtectionPrice."""
    if qty_lots <= 0:
        raise LedgerInconsistency(f"order {order_id}: quantity must be positive, was {qty_lots}")
    limit: int | None = None
    if side is Side.BUY:
        if order_type in LIMITED_TYPES:
            if price_ticks is None:
                raise LedgerInconsistency(f"order {order_id}: a {order_type} buy needs a price")
            limit = price_ticks
        elif protection_ticks is not None:
            limit = protection_ticks
        else:
            raise NoProtectionPrice(
                f"{order_type} buy {order_id} on {instrument.symbol} needs a protection price; "
                "the order has none"
            )
        if limit <= 0:
            raise LedgerInconsistency(f"order {order_id}: price must be positive, was {limit}")
    hold = Hold(
        order_id=order_id,
        account_id=account_id,
        symbol=instrument.symbol,
        side=side,
        asset=instrument.quote if side is Side.BUY else instrument.base,
        limit_ticks=limit,
        original_lots=qty_lots,
        open_lots=qty_lots,
        held=ZERO,
        max_fee_bps=max_fee_bps(instrument),
    )
    return replace(
        hold, held=required_hold(hold, instrument, quote_scale=quote_scale, base_scale=base_scale)
    )


@dataclass(frozen=True, slots=True)
class Fill:
    """One side of a trade: the order's hold before and after, the fee charged on this fill, and
    what left the hold (the buyer's notional plus fee, the seller's base quantity)."""

    before: Hold
    after: Hold
    fee: Decimal
    consumed: Decimal

    @property
    def released(self) -> Decimal:
        """Hold no longer needed beyond what the fill consumed (negative: a top-up is needed)."""
        return sub(self.before.held, add(self.consumed, self.after.held))


def fill(
    hold: Hold,
    instrument: Instrument,
    *,
    price_ticks: int,
    qty_lots: int,
    fee_bps: int,
    quote_scale: int,
    base_scale: int,
) -> Fill:
    """Apply a fill of ``qty_lots`` at ``price_ticks`` to the order's hold."""
    if qty_lots <= 0 or qty_lots > hold.open_lots:
        raise LedgerInconsistency(
            f"order {hold.order_id}: fill of {qty_lots} lots, open {hold.open_lots}"
        )
    amount = notional(instrument, price_ticks=price_ticks, qty_lots=qty_lots)
    accrued = add(hold.fee_accrued, fee_exact(amount, fee_bps))
    charged = ceil_to(accrued, quote_scale)
    fee = sub(charged, hold.fee_charged)
    after = replace(
        hold,
        open_lots=hold.open_lots - qty_lots,
        filled_lots=hold.filled_lots + qty_lots,
        fee_accrued=accrued,
        fee_charged=charged,
    )
    after = replace(
        after, held=required_hold(after, instrument, quote_scale=quote_scale, base_scale=base_scale)
    )
    # The buyer pays notional and fee out of the hold; the seller delivers base.
    consumed = add(amount, fee) if hold.side is Side.BUY else base_amount(instrument, qty_lots)
    result = Fill(before=hold, after=after, fee=fee, consumed=consumed)
    if result.released < 0:
        # Above the price it was held at (its limit or protection price): never taken silently.
        raise LedgerInconsistency(
            f"order {hold.order_id}: fill of {qty_lots} lots at {price_ticks} ticks needs "
            f"{show(-result.released)} {hold.asset} more than held (held at {hold.limit_ticks})"
        )
    return result


def resize(
    hold: Hold,
    instrument: Instrument,
    *,
    open_lots: int,
    limit_ticks: int | None = None,
    quote_scale: int,
    base_scale: int,
) -> Hold:
    """The hold after a cancel, expiry, amend or release leaves ``open_lots`` open.

    Raises LedgerInconsistency when that needs more than ``hold.held``: settlement only ever
    gives back (an amend's increase is added to ``held`` before, see ``ledger.amends``).
    """
    if open_lots < 0:
        raise LedgerInconsistency(f"order {hold.order_id}: open quantity would be {open_lots}")
    after = replace(hold, open_lots=open_lots)
    if limit_ticks is not None and hold.side is Side.BUY:
        after = replace(after, limit_ticks=limit_ticks)
    after = replace(
        after, held=required_hold(after, instrument, quote_scale=quote_scale, base_scale=base_scale)
    )
    if after.held > hold.held:
        raise LedgerInconsistency(
            f"order {hold.order_id}: {open_lots} open lots need {show(after.held)} {hold.asset}, "
            f"{show(hold.held)} is held"
        )
    return after
