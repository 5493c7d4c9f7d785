"""The archive's one row schema: every event type round-trips exactly through a row, through
its JSON line and through Parquet; typed columns say the same as the event."""

import msgspec
import pytest
from hypothesis import Phase, find, given, settings

from exchange.archive import parquet
from exchange.archive.schema import (
    DATA_COLUMNS,
    PARTITION_KEYS,
    event_from_json,
    event_json,
    from_row,
    tag_of,
    to_row,
    utc_date,
)
from exchange.archive.transform import decode_rows, encode_rows
from exchange.domain import EVENT_TYPES, BookDelta, Event, Side, Trade, WireFormatError
from tests.unit.archive.events import ALL_EVENTS


@given(ALL_EVENTS)
def test_every_event_round_trips_through_its_row(event: Event) -> None:
    assert from_row(to_row(event)) == event


@given(ALL_EVENTS)
def test_every_event_round_trips_through_the_json_line_firehose_reads(event: Event) -> None:
    # Given the row as the transform sends it (JSON), When read back
    (row,) = decode_rows(encode_rows([to_row(event)]))
    # Then nothing is lost, and the typed columns agree with the event
    assert from_row(row) == event
    assert (row["symbol"], row["seq"], row["ts_ns"]) == (event.symbol, event.seq, event.ts)
    assert row["type"] == tag_of(event)
    assert row["date"] == utc_date(event.ts)


@settings(max_examples=50)
@given(ALL_EVENTS)
def test_every_event_round_trips_through_parquet(event: Event) -> None:
    (row,) = parquet.read_table(parquet.to_bytes([to_row(event)])).to_pylist()
    assert from_row(row) == event
    assert set(row) == {name for name, _type in DATA_COLUMNS}  # partition keys are not stored


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.__name__)
def test_the_strategies_cover_every_event_type(event_type: type[Event]) -> None:
    # The round trips above only prove what they generate.
    found = find(
        ALL_EVENTS,
        lambda event: isinstance(event, event_type),
        settings=settings(
            phases=[Phase.generate], database=None, max_examples=5000, derandomize=True
        ),
    )
    assert isinstance(found, event_type)


def test_trade_columns_name_both_sides_in_ticks_and_lots() -> None:
    trade = Trade(
        symbol="BTC-USD", ts=1_700_000_000_123_456_789, seq=12, maker_order_id="m",
        taker_order_id="t", maker_account_id="ma", taker_account_id="ta", price=2**62,
        qty=7, aggressor_side=Side.SELL,
    )  # fmt: skip
    row = to_row(trade)
    assert row["price"] == 2**62  # bigint ticks: exact beyond a double's 53 bits
    assert (row["qty"], row["side"], row["type"]) == (7, "SELL", "trade")
    assert (row["maker_order_id"], row["maker_account_id"]) == ("m", "ma")
    assert (row["order_id"], row["account_id"]) == ("t", "ta")  # the taker's
    assert (row["date"], row["ts_ns"]) == ("2023-11-14", 1_700_000_000_123_456_789)


def test_event_json_is_an_object_of_named_fields() -> None:
    delta = BookDelta(symbol="X-Y", ts=5, seq=1, side=Side.BUY, price=10, qty=2, orders=1)
    assert msgspec.json.decode(event_json(delta)) == {
        "type": "delta", "symbol": "X-Y", "ts": 5, "seq": 1, "side": "BUY", "price": 10,
        "qty": 2, "orders": 1,
    }  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "nope", "symbol": "X-Y"}',
        '{"type": "delta", "symbol": "X-Y", "ts": 5, "seq": 1}',  # fields missing
        '{"type": "delta", "symbol": "X-Y", "ts": 5, "seq": 1, "side": "BUY", "price": 10,'
        ' "qty": 2, "orders": 1, "extra": 0}',
        '{"type": "delta", "symbol": "X-Y", "ts": 5, "seq": 1, "side": "UP", "price": 10,'
        ' "qty": 2, "orders": 1}',
        "[1, 2]",
        "not json",
    ],
)
def test_a_malformed_archived_event_raises_wire_format_error(text: str) -> None:
    with pytest.raises(WireFormatError):
        event_from_json(text)


def test_a_row_whose_seq_disagrees_with_its_event_is_refused() -> None:
    row = to_row(BookDelta(symbol="X-Y", ts=5, seq=1, side=Side.BUY, price=1, qty=1, orders=1))
    with pytest.raises(WireFormatError, match="seq"):
        from_row({**row, "seq": 2})


def test_partition_keys_are_not_data_columns() -> None:
    # Athena refuses a table whose partition key is also a column.
    assert not {name for name, _ in PARTITION_KEYS} & {name for name, _ in DATA_COLUMNS}
