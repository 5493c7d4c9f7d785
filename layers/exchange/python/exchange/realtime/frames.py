"""The JSON frames the WebSocket API sends. Prices, quantities and amounts are decimal strings,
never floats; ``seq`` is the symbol's journal seq; ``ts`` is nanoseconds since the epoch.

- ``snapshot``: ``{type, channel: "book.SYM", seq, bids, asks, checksum}``, levels
  ``[price, qty, orders]`` best first.
- ``book``: ``{type, channel, prev_seq, seq, deltas: [{seq, side, price, qty, orders}], checksum}``.
  A frame covers seqs ``prev_seq`` (exclusive) to ``seq`` (inclusive), so a client can chain it
  to the snapshot and to the frame before (see the README's WebSocket section). ``checksum``
  (``realtime.checksum``) is that of the book after the frame; null only while fan-out has no
  book to compute it from (its copy lost, until the engine's next snapshot).
- ``trades``: ``{type, channel: "trades.SYM", trades: [{seq, ts, price, qty, aggressor_side}]}``.
- ``candle``: ``{type, channel: "candles.SYM.INT", interval, start, open, high, low, close,
  volume, trades, last_seq}``.
- ``ticker``: ``{type, channel: "ticker.SYM", seq, ...}`` with the fields of
  ``market.ticker.ticker_json`` (the REST ticker's): ``symbol, last, best_bid, best_bid_qty,
  best_ask, best_ask_qty, open_24h, high_24h, low_24h, volume_24h, quote_volume_24h, change_24h,
  change_pct_24h, trades_24h, ts_ns``; ``seq`` is the journal seq its book reflects.
- ``status_snapshot``: ``{type, channel: "status", markets: [{symbol, status, seq}]}``, every
  listed symbol by symbol, sent once on subscribe. ``status`` is TRADING, POST_ONLY,
  CANCEL_ONLY, HALTED or DELISTED (``InstrumentStatus``: what each allows); ``seq`` is the
  symbol's journal seq that set it (0: its listing's own status, never changed since).
- ``status``: ``{type, channel: "status", symbol, status, previous, seq, ts}``: the symbol's
  status from ``seq`` on (an operator's change; ``previous`` null for a symbol listed at run
  time, whose first status this is). Per symbol, keep the one with the highest ``seq``: a change
  may arrive just before a snapshot that holds it already.
- ``orders`` (private): ``{type, channel: "orders", events: [...]}``; each event has ``event``
  (``accepted``, ``rejected``, ``cancelled``, ``amended``, ``expired``, ``triggered``, ``fill``),
  ``symbol, seq, ts, order_id, client_order_id`` and its own fields; a ``fill`` has ``side, role,
  price, qty, fee, fee_asset`` (the fee as ``GET /v1/fills`` shows it).
- ``balances`` (private): ``{type, channel: "balances", balances: [{asset, available, held,
  total}], ts}``, every asset of the account, as ``GET /v1/balances`` shows them.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import msgspec

from exchange.domain.enums import InstrumentStatus, Side
from exchange.domain.events import (
    AnyEvent,
    BookDelta,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderTriggered,
    Trade,
)
from exchange.domain.instruments import Instrument
from exchange.domain.numbers import plain
from exchange.l2 import BookLevel, L2Book
from exchange.ledger.model import Balance
from exchange.ledger.money import show
from exchange.market.candles import Bar
from exchange.market.ticker import Ticker, ticker_json
from exchange.orders.lifecycle import FillRow
from exchange.realtime.channels import (
    STATUS_CHANNEL,
    ChannelKind,
    book_channel,
    candles_channel,
    ticker_channel,
    trades_channel,
)
from exchange.realtime.checksum import DEPTH, book_checksum
from exchange.realtime.statuses import MarketStatus

Frame = dict[str, Any]
ORDERS: Final = ChannelKind.ORDERS.value
BALANCES: Final = ChannelKind.BALANCES.value
OrderKey = tuple[str, str]  # (account_id, order_id)
FillKey = tuple[str, int]  # (order_id, seq): one side of a trade
_encoder = msgspec.json.Encoder()


def encode(frame: Frame) -> bytes:
    return _encoder.encode(frame)


def error(code: str, message: str, *, request_id: str | None = None) -> Frame:
    frame: Frame = {"type": "error", "code": code, "message": message}
    if request_id is not None:
        frame["id"] = request_id
    return frame


def reply(kind: str, *, request_id: str | None = None, **fields: Any) -> Frame:
    frame: Frame = {"type": kind, **fields}
    if request_id is not None:
        frame["id"] = request_id
    return frame


def _levels(instrument: Instrument, levels: Iterable[BookLevel]) -> list[list[Any]]:
    return [
        [instrument.format_price(level.price), instrument.format_qty(level.qty), level.orders]
        for level in levels
    ]


def checksum(instrument: Instrument, book: L2Book) -> int:
    """``realtime.checksum`` of ``book``, its levels in the frames' decimal strings."""

    def side(levels: list[BookLevel]) -> list[tuple[str, str]]:
        return [
            (instrument.format_price(level.price), instrument.format_qty(level.qty))
            for level in levels[:DEPTH]
        ]

    return book_checksum(side(book.bids), side(book.asks))


def snapshot(instrument: Instrument, book: L2Book) -> Frame:
    return {
        "type": "snapshot",
        "channel": book_channel(book.symbol),
        "seq": book.seq,
        "bids": _levels(instrument, book.bids),
        "asks": _levels(instrument, book.asks),
        "checksum": checksum(instrument, book),
    }


def book_update(
    instrument: Instrument,
    *,
    prev_seq: int,
    seq: int,
    deltas: Sequence[BookDelta],
    checksum: int | None,
) -> Frame:
    """Every level change in seqs ``prev_seq + 1 .. seq`` (possibly none), and the checksum of
    the book after them."""
    return {
        "type": "book",
        "channel": book_channel(instrument.symbol),
        "prev_seq": prev_seq,
        "seq": seq,
        "deltas": [
            {
                "seq": delta.seq,
                "side": delta.side.value,
                "price": instrument.format_price(delta.price),
                "qty": instrument.format_qty(delta.qty),
                "orders": delta.orders,
            }
            for delta in deltas
        ],
        "checksum": checksum,
    }


def trades(instrument: Instrument, items: Sequence[Trade]) -> Frame:
    return {
        "type": "trades",
        "channel": trades_channel(instrument.symbol),
        "trades": [
            {
                "seq": trade.seq,
                "ts": trade.ts,
                "price": instrument.format_price(trade.price),
                "qty": instrument.format_qty(trade.qty),
                "aggressor_side": trade.aggressor_side.value,
            }
            for trade in items
        ],
    }


def candle(instrument: Instrument, bar: Bar) -> Frame:
    return {
        "type": "candle",
        "channel": candles_channel(bar.symbol, bar.interval),
        "interval": bar.interval,
        "start": bar.start,
        "open": instrument.format_price(bar.open),
        "high": instrument.format_price(bar.high),
        "low": instrument.format_price(bar.low),
        "close": instrument.format_price(bar.close),
        "volume": instrument.format_qty(bar.volume),
        "trades": bar.trades,
        "last_seq": bar.last_seq,
    }


def ticker(instrument: Instrument, stats: Ticker, *, seq: int) -> Frame:
    return {
        "type": "ticker",
        "channel": ticker_channel(instrument.symbol),
        "seq": seq,
        **ticker_json(instrument, stats),
    }


def status_snapshot(items: Iterable[MarketStatus]) -> Frame:
    return {
        "type": "status_snapshot",
        "channel": STATUS_CHANNEL,
        "markets": [
            {"symbol": item.symbol, "status": item.status.value, "seq": item.seq} for item in items
        ],
    }


def status(now: MarketStatus, *, previous: InstrumentStatus | None, ts: int) -> Frame:
    return {
        "type": "status",
        "channel": STATUS_CHANNEL,
        "symbol": now.symbol,
        "status": now.status.value,
        "previous": None if previous is None else previous.value,
        "seq": now.seq,
        "ts": ts,
    }


def balances(items: Sequence[Balance], *, ts: int) -> Frame:
    return {
        "type": "balances",
        "channel": BALANCES,
        "balances": [
            {
                "asset": item.asset,
                "available": show(item.available),
                "held": show(item.held),
                "total": show(item.total),
            }
            for item in items
        ],
        "ts": ts,
    }


def orders(events: Sequence[Frame]) -> Frame:
    return {"type": "orders", "channel": ORDERS, "events": list(events)}


def private_events(
    instrument: Instrument,
    event: AnyEvent,
    *,
    client_order_ids: Mapping[OrderKey, str],
    fills: Mapping[FillKey, FillRow],
) -> list[tuple[str, Frame]]:
    """``(account_id, item)`` for each account an event concerns (a trade: both sides' fills).

    ``client_order_ids`` holds the client's id of each ``(account_id, order_id)`` (keyed by the
    account too, so a refused cancel of another account's order never shows that order's id),
    ``fills`` each side of a trade as the recorder wrote it (with its fee); what they lack is
    null in the item.
    """
    price = instrument.format_price
    qty = instrument.format_qty

    def head(account_id: str, order_id: str) -> Frame:
        return {"symbol": event.symbol, "seq": event.seq, "ts": event.ts, "order_id": order_id,
                "client_order_id": client_order_ids.get((account_id, order_id))}  # fmt: skip

    match event:
        case Trade():
            sides = (
                (event.maker_account_id, event.maker_order_id, event.aggressor_side.opposite,
                 "MAKER"),
                (event.taker_account_id, event.taker_order_id, event.aggressor_side, "TAKER"),
            )  # fmt: skip
            return [
                (account_id, {**head(account_id, order_id),
                              **_fill(event, side, role, instrument,
                                      fills.get((order_id, event.seq)))})
                for account_id, order_id, side, role in sides
            ]  # fmt: skip
        case OrderAccepted():
            item = {
                "event": "accepted", "client_order_id": event.client_order_id,
                "side": event.side.value,
                "order_type": event.order_type.value, "tif": event.tif.value,
                "qty": qty(event.qty),
                "price": None if event.price is None else price(event.price),
                "stop_price": None if event.stop_price is None else price(event.stop_price),
                "post_only": event.post_only,
            }  # fmt: skip
        case OrderRejected():
            item = {
                "event": "rejected", "reason": event.reason.value,
                "command_id": event.command_id, "detail": event.detail,
            }  # fmt: skip
        case OrderCancelled():
            item = {
                "event": "cancelled", "cancelled_qty": qty(event.cancelled_qty),
                "reason": event.reason.value, "command_id": event.command_id,
            }  # fmt: skip
        case OrderAmended():
            item = {
                "event": "amended", "command_id": event.command_id,
                "price": price(event.price), "qty": qty(event.qty),
                "open_qty": qty(event.open_qty),
            }  # fmt: skip
        case OrderExpired():
            item = {
                "event": "expired", "expired_qty": qty(event.expired_qty),
                "reason": event.reason.value,
            }  # fmt: skip
        case OrderTriggered():
            item = {"event": "triggered", "last_price": price(event.last_price)}
        case _:
            return []
    return [(event.account_id, {**head(event.account_id, event.order_id), **item})]


def _fill(
    trade: Trade, side: Side, role: str, instrument: Instrument, row: FillRow | None
) -> Frame:
    return {
        "event": "fill",
        "side": side.value,
        "role": role,
        "price": instrument.format_price(trade.price),
        "qty": instrument.format_qty(trade.qty),
        "fee": None if row is None else plain(row.fee),
        "fee_asset": None if row is None else row.fee_asset,
    }
