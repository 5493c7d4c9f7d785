"""Turning engine events into movements and new holds. Pure: the PostgreSQL store locks the rows,
calls these, and writes what they return.

A trade moves base from the seller's hold to the buyer, quote (notional) from the buyer's hold to
the seller, each side's fee to the fee account (a negative maker fee is a rebate paid by the fee
account), and releases what each hold no longer needs. The rates are those in force at the
trade's seq, each capped at its order's reservation (``ledger.fees``). A fill that would need more
than its order's hold (a price above the limit or protection price it was held at) raises
``LedgerInconsistency``: settlement never takes funds from ``available``.
"""

from dataclasses import dataclass
from decimal import Decimal

from exchange.domain.enums import Side
from exchange.domain.events import Trade
from exchange.domain.instruments import Instrument
from exchange.ledger.errors import LedgerInconsistency
from exchange.ledger.fees import FeeRates, charged_bps
from exchange.ledger.holds import Fill, Hold, fill, resize
from exchange.ledger.money import AssetScales, base_amount, notional, scale_of, sub
from exchange.ledger.movements import Bucket, Movement, Pocket, move


def _available(account_id: str) -> Pocket:
    return Pocket(account_id, Bucket.AVAILABLE)


def _held(account_id: str) -> Pocket:
    return Pocket(account_id, Bucket.HELD)


@dataclass(frozen=True, slots=True)
class TradeSettlement:
    maker: Fill
    taker: Fill
    notional: Decimal
    movements: list[Movement]


def settle_trade(
    trade: Trade,
    instrument: Instrument,
    *,
    maker: Hold,
    taker: Hold,
    scales: AssetScales,
    fee_account_id: str,
    fees: FeeRates | None = None,
) -> TradeSettlement:
    """The movements of one trade, and both orders' holds after it. ``fees``: the rates in
    force at the trade's seq (default: the instrument's)."""
    _check_side(trade, maker, trade.maker_order_id, trade.maker_account_id)
    _check_side(trade, taker, trade.taker_order_id, trade.taker_account_id)
    if taker.side is not trade.aggressor_side or maker.side is not trade.aggressor_side.opposite:
        raise LedgerInconsistency(
            f"trade {trade.symbol}#{trade.seq}: aggressor {trade.aggressor_side} but taker holds "
            f"a {taker.side} and maker a {maker.side}"
        )
    rates = fees or FeeRates.of(instrument)
    quote_scale = scale_of(scales, instrument.quote)
    base_scale = scale_of(scales, instrument.base)
    maker_fill = fill(
        maker,
        instrument,
        price_ticks=trade.price,
        qty_lots=trade.qty,
        fee_bps=charged_bps(rates.maker_bps, max_fee_bps=maker.max_fee_bps),
        quote_scale=quote_scale,
        base_scale=base_scale,
    )
    taker_fill = fill(
        taker,
        instrument,
        price_ticks=trade.price,
        qty_lots=trade.qty,
        fee_bps=charged_bps(rates.taker_bps, max_fee_bps=taker.max_fee_bps),
        quote_scale=quote_scale,
        base_scale=base_scale,
    )
    buy, sell = (taker_fill, maker_fill) if taker.side is Side.BUY else (maker_fill, taker_fill)
    buyer, seller = buy.before.account_id, sell.before.account_id
    amount = notional(instrument, price_ticks=trade.price, qty_lots=trade.qty)
    base, quote = instrument.base, instrument.quote
    movements = [
        *move(base, base_amount(instrument, trade.qty), _held(seller), _available(buyer)),
        *move(quote, amount, _held(buyer), _available(seller)),
        *move(quote, buy.fee, _held(buyer), _available(fee_account_id)),
        *move(quote, sell.fee, _available(seller), _available(fee_account_id)),
        # Price improvement and fee rounding: what the buyer's hold no longer needs.
        *move(quote, buy.released, _held(buyer), _available(buyer)),
        *move(base, sell.released, _held(seller), _available(seller)),
    ]
    return TradeSettlement(maker=maker_fill, taker=taker_fill, notional=amount, movements=movements)


def _check_side(trade: Trade, hold: Hold, order_id: str, account_id: str) -> None:
    if hold.order_id != order_id or hold.account_id != account_id or hold.symbol != trade.symbol:
        raise LedgerInconsistency(
            f"trade {trade.symbol}#{trade.seq}: order {order_id} of {account_id} does not match "
            f"the hold for order {hold.order_id} of {hold.account_id} on {hold.symbol}"
        )


@dataclass(frozen=True, slots=True)
class Resized:
    before: Hold
    after: Hold
    movements: list[Movement]


def resize_hold(
    hold: Hold,
    instrument: Instrument,
    *,
    open_lots: int,
    scales: AssetScales,
    limit_ticks: int | None = None,
) -> Resized:
    """A cancel, expiry, amend or release: hold what ``open_lots`` (at ``limit_ticks``) need.

    The difference goes back to available. Nothing is ever taken from available here: needing
    more than ``hold.held`` raises LedgerInconsistency (an amend adds its reserved increase to the
    hold first).
    """
    after = resize(
        hold,
        instrument,
        open_lots=open_lots,
        limit_ticks=limit_ticks,
        quote_scale=scale_of(scales, instrument.quote),
        base_scale=scale_of(scales, instrument.base),
    )
    released = sub(hold.held, after.held)
    movements = move(hold.asset, released, _held(hold.account_id), _available(hold.account_id))
    return Resized(before=hold, after=after, movements=movements)
