"""The JSON frames the WebSocket API sends. Prices and quantities are decimal strings, never
floats; ``seq`` is the symbol's journal seq; ``ts`` is nanoseconds since the epoch.

Book frames carry the seq range they cover, ``prev_seq`` (exclusive) to ``seq`` (inclusive), so a
client can chain them to the snapshot and to each other: see the README's WebSocket section.
"""

from collections.abc import Iterable, Sequence
from typing import Any, Final

import msgspec

from exchange.domain.enums import Side
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
from exchange.l2 import BookLevel, L2Book
from exchange.market.candles import Bar
from exchange.realtime.channels import ChannelKind, book_channel, candles_channel, trades_channel

Frame = dict[str, Any]
ORDERS: Final = ChannelKind.ORDERS.value
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


def snapshot(instrument: Instrument, book: L2Book) -> Frame:
    return {
        "type": "snapshot",
        "channel": book_channel(book.symbol),
        "seq": book.seq,
        "bids": _levels(instrument, book.bids),
        "asks": _levels(instrument, book.asks),
    }


def book_update(
    instrument: Instrument, *, prev_seq: int, seq: int, deltas: Sequence[BookDelta]
) -> Frame:
    """Every level change in seqs ``prev_seq + 1 .. seq`` (possibly none)."""
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


def orders(events: Sequence[Frame]) -> Frame:
    return {"type": "orders", "channel": ORDERS, "events": list(events)}


def private_events(instrument: Instrument, event: AnyEvent) -> list[tuple[str, Frame]]:
    """``(account_id, item)`` for each account an event concerns (a trade: both sides' fills)."""
    head = {"symbol": event.symbol, "seq": event.seq, "ts": event.ts}
    price = instrument.format_price
    qty = instrument.format_qty
    match event:
        case Trade():
            maker_side = event.aggressor_side.opposite
            return [
                (event.maker_account_id,
                 _fill(head, event, order_id=event.maker_order_id, side=maker_side,
                       role="MAKER", instrument=instrument)),
                (event.taker_account_id,
                 _fill(head, event, order_id=event.taker_order_id, side=event.aggressor_side,
                       role="TAKER", instrument=instrument)),
            ]  # fmt: skip
        case OrderAccepted():
            item = {
                "event": "accepted", "order_id": event.order_id,
                "client_order_id": event.client_order_id, "side": event.side.value,
                "order_type": event.order_type.value, "tif": event.tif.value,
                "qty": qty(event.qty),
                "price": None if event.price is None else price(event.price),
                "stop_price": None if event.stop_price is None else price(event.stop_price),
                "post_only": event.post_only,
            }  # fmt: skip
        case OrderRejected():
            item = {
                "event": "rejected", "order_id": event.order_id, "reason": event.reason.value,
                "command_id": event.command_id, "detail": event.detail,
            }  # fmt: skip
        case OrderCancelled():
            item = {
                "event": "cancelled", "order_id": event.order_id,
                "cancelled_qty": qty(event.cancelled_qty), "reason": event.reason.value,
                "command_id": event.command_id,
            }  # fmt: skip
        case OrderAmended():
            item = {
                "event": "amended", "order_id": event.order_id, "command_id": event.command_id,
                "price": price(event.price), "qty": qty(event.qty),
                "open_qty": qty(event.open_qty),
            }  # fmt: skip
        case OrderExpired():
            item = {
                "event": "expired", "order_id": event.order_id,
                "expired_qty": qty(event.expired_qty), "reason": event.reason.value,
            }  # fmt: skip
        case OrderTriggered():
            item = {
                "event": "triggered", "order_id": event.order_id,
                "last_price": price(event.last_price),
            }  # fmt: skip
        case _:
            return []
    return [(event.account_id, {**head, **item})]


def _fill(
    head: Frame, trade: Trade, *, order_id: str, side: Side, role: str, instrument: Instrument
) -> Frame:
    return {
        **head,
        "event": "fill",
        "order_id": order_id,
        "side": side.value,
        "role": role,
        "price": instrument.format_price(trade.price),
        "qty": instrument.format_qty(trade.qty),
    }
