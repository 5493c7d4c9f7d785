"""One flat row per journal event: the archive's single schema, for the Firehose transform, the
Glue table (the CDK app) and the local Parquet writer.

A row keeps the whole event as canonical JSON (``event``: an object of its fields in field order,
its tag under ``type``), so nothing is lost and ``from_row`` rebuilds it exactly; beside it sit
typed columns Athena can filter and aggregate on. Prices are integer ticks and quantities integer
lots, as in the events (``bigint``, exact; never float): converting them needs the instrument in
force at each ``seq``, which the ``listed`` rows carry, so the archive stores facts, not a view.

``qty`` is each event's own quantity: ordered (accepted, amended), traded (trade), the level's
total (delta), cancelled (cancelled) or expired (expired). ``side`` is the order's side, the
level's side, or a trade's aggressor side. ``order_id``/``account_id`` are the order's (for a
trade, the taker's: the maker's are in ``maker_order_id``/``maker_account_id``).

``symbol`` and ``date`` are the partition keys (``events/symbol=<S>/date=<D>/``), so the Glue
table lists them as partition keys, not data columns (Athena refuses a name that is both), and the
Parquet files hold only ``DATA_COLUMNS``. ``to_row`` still puts both in the row (``date`` is the
event's own); a whole journal record is filed under its first event's date
(``exchange.archive.transform.partition_of``: Firehose gives one partition per record).

>>> from exchange.domain import BookDelta, Side
>>> delta = BookDelta(symbol="BTC-USD", ts=86_400 * 10**9, seq=7, side=Side.BUY, price=100,
...                   qty=3, orders=1)
>>> row = to_row(delta)
>>> row["date"], row["type"], row["price"], row["qty"]
('1970-01-02', 'delta', 100, 3)
>>> from_row(row) == delta
True
"""

from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from exchange.domain.errors import WireFormatError
from exchange.domain.events import (
    EVENT_TYPES,
    AnyEvent,
    BookDelta,
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    Trade,
)

# (name, Glue/Athena type) of the data columns, in file order. Glue's type names: the CDK app
# builds the table from these, the Parquet writer maps them to Arrow types.
DATA_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("seq", "bigint"),
    ("ts_ns", "bigint"),
    ("type", "string"),
    ("order_id", "string"),
    ("account_id", "string"),
    ("side", "string"),
    ("price", "bigint"),
    ("qty", "bigint"),
    ("maker_order_id", "string"),
    ("taker_order_id", "string"),
    ("maker_account_id", "string"),
    ("taker_account_id", "string"),
    ("event", "string"),
)
# The partition keys, in path order: events/symbol=<S>/date=<YYYY-MM-DD>/.
PARTITION_KEYS: Final[tuple[tuple[str, str], ...]] = (("symbol", "string"), ("date", "string"))
# What the CDK app gives the Glue table (data columns; the partition keys go apart).
GLUE_COLUMNS: Final = DATA_COLUMNS
EVENTS_PREFIX: Final = "events"

_TYPES: Final[dict[str, type[Event]]] = {
    str(event_type.__struct_config__.tag): event_type for event_type in EVENT_TYPES
}
_json = msgspec.json.Encoder()
_object = msgspec.json.Decoder(dict[str, Any])

type Row = dict[str, Any]


def tag_of(event: Event) -> str:
    """The event's tag (``"trade"``, ``"accepted"`` ...), the ``type`` column."""
    return str(event.__struct_config__.tag)


def utc_date(ts_ns: int) -> str:
    """``YYYY-MM-DD`` of a nanosecond timestamp, in UTC (the ``date`` partition).

    >>> utc_date(1_700_000_000 * 10**9)
    '2023-11-14'
    """
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC).date().isoformat()


def event_json(event: Event) -> str:
    """The canonical JSON of an event: ``{"type": <tag>, <field>: <value>, ...}`` in field order."""
    body = {"type": tag_of(event)}
    body.update({name: getattr(event, name) for name in event.__struct_fields__})
    return _json.encode(body).decode()


def event_from_json(text: str | bytes) -> AnyEvent:
    """Inverse of ``event_json``; raises ``WireFormatError`` on anything else."""
    try:
        body = _object.decode(text)
        event_type = _TYPES[body.pop("type")]
        missing = set(event_type.__struct_fields__) ^ body.keys()
        if missing:
            raise WireFormatError(f"archived event fields do not match: {sorted(missing)}")
        # Message structs are array-like: rebuild the [tag, field, ...] form they decode from.
        fields = [body[name] for name in event_type.__struct_fields__]
        event: AnyEvent = msgspec.convert([event_type.__struct_config__.tag, *fields], AnyEvent)
        return event
    except (msgspec.MsgspecError, KeyError, TypeError, AttributeError) as exc:
        raise WireFormatError(f"malformed archived event: {exc}") from exc


def to_row(event: Event) -> Row:
    """The event as one archive row: the partition keys, the data columns, the event's JSON."""
    row: Row = dict.fromkeys(name for name, _type in DATA_COLUMNS)
    row.update(
        symbol=event.symbol,
        date=utc_date(event.ts),
        seq=event.seq,
        ts_ns=event.ts,
        type=tag_of(event),
        event=event_json(event),
    )
    row.update(_typed_columns(event))
    return row


def from_row(row: Row) -> AnyEvent:
    """The event a row holds (from its ``event`` JSON), checked against its ``seq`` column."""
    event = event_from_json(row["event"])
    if row.get("seq") is not None and row["seq"] != event.seq:
        raise WireFormatError(f"archive row says seq {row['seq']}, its event {event.seq}")
    return event


def _typed_columns(event: Event) -> Row:
    columns: Row = {name: getattr(event, name, None) for name in ("order_id", "account_id")}
    match event:
        case Trade():
            columns.update(
                order_id=event.taker_order_id,
                account_id=event.taker_account_id,
                side=event.aggressor_side.value,
                price=event.price,
                qty=event.qty,
                maker_order_id=event.maker_order_id,
                taker_order_id=event.taker_order_id,
                maker_account_id=event.maker_account_id,
                taker_account_id=event.taker_account_id,
            )
        case OrderAccepted():
            columns.update(side=event.side.value, price=event.price, qty=event.qty)
        case OrderAmended():
            columns.update(price=event.price, qty=event.qty)
        case OrderCancelled():
            columns.update(qty=event.cancelled_qty)
        case OrderExpired():
            columns.update(qty=event.expired_qty)
        case BookDelta():
            columns.update(side=event.side.value, price=event.price, qty=event.qty)
    return columns


__all__ = [
    "DATA_COLUMNS",
    "EVENTS_PREFIX",
    "GLUE_COLUMNS",
    "PARTITION_KEYS",
    "Row",
    "event_from_json",
    "event_json",
    "from_row",
    "tag_of",
    "to_row",
    "utc_date",
]
