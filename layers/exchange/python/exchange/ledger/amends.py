"""What an amend must hold before it is sent to the engine. Pure: no I/O.

``LedgerPort.reserve_amend`` holds an amend's increase, keyed by its ``command_id``, before the
API publishes it; settlement then resolves it with the engine's answer:

- ``OrderAmended`` (same ``command_id``): the increase joins the order's hold, the hold is
  recomputed for the new terms, and any surplus goes back to available;
- ``OrderRejected`` carrying the ``command_id`` (the engine refused the amend): the increase goes
  back to available;
- a final event of the order (cancel, expiry, reject, the last fill): every increase still
  pending goes back with the rest of the hold.

The increase is worked out against the ledger's view of the order, which may lag the engine's:
fills may have happened that settlement has not applied yet, and earlier amends may still be
pending. It must cover the new terms whichever of those happen first, since settlement never
takes more from available (``holds.resize``). For a new price ``P`` and total quantity ``T`` and
each set of terms ``(P_s, T_s)`` the order may be under when the engine applies the amend (its
current terms, or a pending amend's), the hold needed on top of what the order holds is, for
``F`` lots filled by then (``F`` from the ledger's ``filled_lots`` up to ``T_s``), at most

    notional(P, T - F) - notional(P_s, T_s - F)

which is linear in ``F``, so its worst case is at an end: ``F = filled_lots`` (the increase as
the ledger sees it now) or ``F = T_s`` (when the old hold was spent by fills at the old price, the
added lots ``T - T_s`` must be paid in full). The increase is the largest of these over the
possible terms, plus the most fee it can cost, rounded up; fee rounding never needs more,
because ``ceil(a + x) - ceil(a + y) <= ceil(x - y)``. A sell holds base: its increase is the
added quantity. Usually (a higher price or a larger quantity) this is exactly the difference
between the new terms' hold and the current one.

>>> from exchange.domain import Instrument, OrderType, Side
>>> from exchange.ledger.holds import new_hold
>>> btc = Instrument(symbol="BTC-USD", base="BTC", quote="USD", tick_size=Decimal("0.01"),
...                  lot_size=Decimal("0.0001"), min_qty=Decimal("0.0001"),
...                  max_qty=Decimal("100"), price_band_pct=Decimal("10"), taker_fee_bps=5)
>>> hold = new_hold(order_id="o", account_id="a", instrument=btc, side=Side.BUY,
...                 order_type=OrderType.LIMIT, qty_lots=10_000, price_ticks=10_000,
...                 protection_ticks=None, quote_scale=8, base_scale=8)  # 1 BTC at 100.00
>>> hold.held, amend_increase(hold, btc, price=15_000, qty=20_000, pending=(),
...                           quote_scale=8, base_scale=8)  # 2 BTC at 150.00
(Decimal('100.05000000'), Decimal('200.10000000'))
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from exchange.domain.commands import AmendOrder
from exchange.domain.enums import Side
from exchange.domain.instruments import Instrument
from exchange.ledger.errors import LedgerInconsistency, ReservationConflict, UnknownReservation
from exchange.ledger.holds import Hold
from exchange.ledger.money import (
    ZERO,
    add,
    base_amount,
    ceil_to,
    fee_exact,
    notional,
    sub,
    to_scale,
)


@dataclass(frozen=True, slots=True)
class AmendHold:
    """The increase held for one amend until the engine answers it. ``price_ticks`` and
    ``qty_lots`` are the amend's own (``None``: unchanged)."""

    command_id: str
    order_id: str
    account_id: str
    asset: str
    price_ticks: int | None
    qty_lots: int | None
    held: Decimal


def amend_hold(
    amend: AmendOrder,
    hold: Hold,
    instrument: Instrument,
    *,
    pending: Sequence[AmendHold],
    existing: AmendHold | None,
    quote_scale: int,
    base_scale: int,
) -> AmendHold:
    """The ``AmendHold`` for ``amend`` of the order held by ``hold``; ``existing`` when the same
    command id was reserved before (a retry), which is returned unchanged.

    Raises UnknownReservation when ``hold`` is another account's, ReservationConflict when the
    command id was reserved with other terms, LedgerInconsistency for a non-positive price or qty.
    """
    if hold.account_id != amend.account_id or hold.order_id != amend.order_id:
        raise UnknownReservation(
            f"no reservation for order {amend.order_id} of account {amend.account_id}"
        )
    for name, value in (("price", amend.price), ("qty", amend.qty)):
        if value is not None and value <= 0:
            raise LedgerInconsistency(f"amend {amend.command_id}: {name} must be positive")
    if existing is not None:
        if (existing.order_id, existing.price_ticks, existing.qty_lots) != (
            amend.order_id,
            amend.price,
            amend.qty,
        ):
            raise ReservationConflict(
                f"amend {amend.command_id} was reserved with other terms (order "
                f"{existing.order_id}, price {existing.price_ticks}, qty {existing.qty_lots})"
            )
        return existing
    held = amend_increase(
        hold,
        instrument,
        price=amend.price,
        qty=amend.qty,
        pending=pending,
        quote_scale=quote_scale,
        base_scale=base_scale,
    )
    return AmendHold(
        command_id=amend.command_id,
        order_id=hold.order_id,
        account_id=hold.account_id,
        asset=hold.asset,
        price_ticks=amend.price,
        qty_lots=amend.qty,
        held=held,
    )


def amend_increase(
    hold: Hold,
    instrument: Instrument,
    *,
    price: int | None,
    qty: int | None,
    pending: Sequence[AmendHold],
    quote_scale: int,
    base_scale: int,
) -> Decimal:
    """What an amend to ``price`` and total ``qty`` (``None``: unchanged) must hold on top of
    ``hold``, with ``pending`` amends of the same order not yet answered (see the module)."""
    if not hold.is_open:
        return ZERO  # filled, cancelled or expired: the engine will refuse the amend
    filled = hold.filled_lots

    def cost(ticks: int, lots: int) -> Decimal:
        """What ``lots`` at ``ticks`` hold, before fees (a sell: its base)."""
        if lots <= 0:
            return ZERO
        if hold.side is Side.SELL:
            return base_amount(instrument, lots)
        return notional(instrument, price_ticks=ticks, qty_lots=lots)

    # Every price and total quantity the order may have when the engine applies the amend.
    prices = {hold.limit_ticks or 0, *(p.price_ticks for p in pending if p.price_ticks)}
    totals = {filled + hold.open_lots, *(p.qty_lots for p in pending if p.qty_lots)}
    worst = ZERO
    for old_price in prices:
        for old_total in totals:
            new_price = old_price if price is None else price
            new_total = old_total if qty is None else qty
            now = sub(cost(new_price, new_total - filled), cost(old_price, old_total - filled))
            spent = cost(new_price, new_total - old_total)
            worst = max(worst, now, spent)
    if hold.side is Side.SELL:
        return to_scale(worst, base_scale)
    fee = ceil_to(fee_exact(worst, hold.max_fee_bps), quote_scale)
    return to_scale(add(worst, fee), quote_scale)
