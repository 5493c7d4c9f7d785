"""Commands and events survive the wire format byte for byte; anything malformed raises
WireFormatError and nothing else."""

import contextlib
import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange import wire
from exchange.domain import (
    COMMAND_TYPES,
    EVENT_TYPES,
    BookDelta,
    CancelOrder,
    Command,
    Event,
    NewOrder,
    OrderAccepted,
    OrderType,
    Side,
    TimeInForce,
    WireFormatError,
)
from tests.strategies import COMMANDS, EVENTS


def delta(seq: int, symbol: str = "BTC-USD") -> BookDelta:
    return BookDelta(symbol=symbol, seq=seq, ts=7, side=Side.BUY, price=100, qty=5, orders=1)


@given(COMMANDS)
def test_command_round_trips_byte_for_byte(command: Command) -> None:
    payload = wire.encode_command(command)
    decoded = wire.decode_command(payload)
    assert decoded == command
    assert type(decoded) is type(command)
    assert wire.encode_command(decoded) == payload


@given(EVENTS)
def test_event_round_trips_byte_for_byte(event: Event) -> None:
    payload = wire.encode_event(event)
    decoded = wire.decode_event(payload)
    assert decoded == event
    assert wire.encode_event(decoded) == payload


@given(st.lists(EVENTS, min_size=1, max_size=20), st.integers(min_value=1, max_value=2**40))
def test_journal_record_round_trips_byte_for_byte(events: list[Event], first_seq: int) -> None:
    # Given events renumbered into one symbol's gap-free run
    run = [
        msgspec.structs.replace(event, symbol="ETH-USD", seq=first_seq + i)
        for i, event in enumerate(events)
    ]
    record = wire.JournalRecord.of(run)
    payload = wire.encode_record(record)
    assert wire.decode_record(payload) == record
    assert wire.encode_record(wire.decode_record(payload)) == payload
    assert (record.first_seq, record.last_seq) == (first_seq, first_seq + len(run) - 1)


def without_last_field(payload: bytes) -> bytes:
    """The payload as a writer from before the message's last field would have encoded it."""
    fields = msgspec.msgpack.decode(payload[1:])
    return payload[:1] + msgspec.msgpack.encode(fields[:-1])


def test_a_new_order_from_before_protection_price_still_decodes_without_one() -> None:
    order = NewOrder(
        symbol="BTC-USD",
        ts=1,
        order_id="o1",
        account_id="a1",
        client_order_id="c1",
        side=Side.BUY,
        order_type=OrderType.STOP,
        tif=TimeInForce.IOC,
        qty=5,
        stop_price=6_600_000,
        protection_price=6_700_000,
    )
    old = without_last_field(wire.encode_command(order))
    assert wire.decode_command(old) == msgspec.structs.replace(order, protection_price=None)


def test_an_accepted_event_from_before_protection_price_still_decodes_without_one() -> None:
    accepted = OrderAccepted(
        symbol="BTC-USD",
        ts=1,
        seq=9,
        order_id="o1",
        account_id="a1",
        client_order_id="c1",
        side=Side.SELL,
        order_type=OrderType.MARKET,
        tif=TimeInForce.IOC,
        qty=5,
        protection_price=6_300_000,
    )
    old = without_last_field(wire.encode_event(accepted))
    assert wire.decode_event(old) == msgspec.structs.replace(accepted, protection_price=None)


def test_every_message_kind_has_a_distinct_tag() -> None:
    tags = [cls.__struct_config__.tag for cls in (*COMMAND_TYPES, *EVENT_TYPES)]
    assert len(set(tags)) == len(tags)


def test_payload_starts_with_the_wire_version() -> None:
    payload = wire.encode_event(delta(1))
    assert payload[0] == wire.WIRE_VERSION == 1


def test_wire_format_is_more_compact_than_json() -> None:
    order = NewOrder(
        symbol="BTC-USD",
        ts=1_700_000_000_000_000_000,
        order_id="01JD8Z3X",
        account_id="acct-1",
        client_order_id="c1",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        qty=1_000,
        price=6_500_000,
    )
    as_json = json.dumps(msgspec.to_builtins(order)).encode()
    assert len(wire.encode_command(order)) < len(as_json) * 0.6


def test_events_are_immutable() -> None:
    event = delta(1)
    with pytest.raises(AttributeError):
        event.qty = 10  # type: ignore[misc]


def valid_command_payload() -> bytes:
    return wire.encode_command(
        CancelOrder(symbol="BTC-USD", ts=1, command_id="k1", order_id="o1", account_id="a1")
    )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty payload"),
        (b"\x02" + valid_command_payload()[1:], "unsupported wire version 2"),
        (b"\x00" + valid_command_payload()[1:], "unsupported wire version 0"),
        (valid_command_payload()[:-3], "truncated"),
        (valid_command_payload() + b"\x00", "trailing"),
        (b"\x01" + msgspec.msgpack.encode(["launch", "BTC-USD", 1]), "Invalid value 'launch'"),
        (b"\x01" + msgspec.msgpack.encode({"symbol": "BTC-USD"}), "Expected `array`"),
        (
            b"\x01" + msgspec.msgpack.encode(["cancel", "BTC-USD", "1", "k", "o", "a"]),
            "Expected `int`",
        ),
        (
            b"\x01" + msgspec.msgpack.encode(["cancel", "BTC-USD", 1.0, "k", "o", "a"]),
            "Expected `int`",
        ),
        (
            b"\x01" + msgspec.msgpack.encode(["cancel", "BTC-USD", 1, "k", "o", "a", "x"]),
            "at most length",
        ),
        (b"\x01" + msgspec.msgpack.encode(["cancel", "BTC-USD", 1, "k"]), "at least length"),
        (
            b"\x01"
            + msgspec.msgpack.encode(
                ["new", "BTC-USD", 1, "o", "a", "c", "HOLD", "LIMIT", "GTC", 1]
            ),
            "Invalid enum value 'HOLD'",
        ),
        (valid_command_payload().replace(b"\xa2o1", b"\xa2\xff\xfe"), "invalid start byte"),
    ],
)
def test_malformed_command_raises_one_typed_error(payload: bytes, message: str) -> None:
    with pytest.raises(WireFormatError, match=message):
        wire.decode_command(payload)


def test_a_command_is_not_an_event() -> None:
    with pytest.raises(WireFormatError, match="malformed event"):
        wire.decode_event(valid_command_payload())


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_wire_format_error(payload: bytes) -> None:
    for decode in (wire.decode_command, wire.decode_event, wire.decode_record):
        with contextlib.suppress(WireFormatError):
            decode(payload)


@given(COMMANDS, st.data())
def test_corrupted_payload_never_raises_anything_but_wire_format_error(
    command: Command, data: st.DataObject
) -> None:
    # Given a valid payload with one byte flipped
    payload = bytearray(wire.encode_command(command))
    index = data.draw(st.integers(min_value=0, max_value=len(payload) - 1))
    payload[index] ^= data.draw(st.integers(min_value=1, max_value=255))
    # When decoded, then it is either another valid command or one typed error. (A flip can
    # give a valid but non-canonical msgpack form, e.g. a wider int, so bytes may differ.)
    try:
        decoded = wire.decode_command(bytes(payload))
    except WireFormatError:
        return
    assert isinstance(decoded, COMMAND_TYPES)
    assert wire.decode_command(wire.encode_command(decoded)) == decoded


def test_record_with_a_seq_gap_is_refused() -> None:
    with pytest.raises(WireFormatError, match="not gap-free: seq 4 where 3 was due"):
        wire.JournalRecord.of([delta(2), delta(4)])


def test_record_mixing_symbols_is_refused() -> None:
    with pytest.raises(WireFormatError, match="holds an event of ETH-USD"):
        wire.JournalRecord.of([delta(1), delta(2, symbol="ETH-USD")])


def test_empty_record_is_refused() -> None:
    with pytest.raises(WireFormatError, match="at least one event"):
        wire.JournalRecord.of([])


@pytest.mark.parametrize(
    "fields",
    # no events; last_seq beyond the events; first_seq after the first event
    [
        ["BTC-USD", 1, 3, []],
        [
            "BTC-USD",
            1,
            5,
            [msgspec.to_builtins(delta(1)), msgspec.to_builtins(delta(2))],
        ],  # wrong last_seq
        [
            "BTC-USD",
            2,
            3,
            [msgspec.to_builtins(delta(1)), msgspec.to_builtins(delta(2))],
        ],  # wrong first_seq
    ],
)
def test_decoded_record_whose_range_disagrees_with_its_events_is_refused(
    fields: list[object],
) -> None:
    with pytest.raises(WireFormatError, match="journal record for BTC-USD"):
        wire.decode_record(b"\x01" + msgspec.msgpack.encode(fields))


def test_a_record_carries_its_epoch_and_one_of_epoch_0_is_encoded_as_before_epochs() -> None:
    run = [delta(5), delta(6)]
    stamped = wire.JournalRecord.of(run, epoch=3)
    # An epoch round-trips, as the record's fifth element
    assert wire.decode_record(wire.encode_record(stamped)).epoch == 3
    assert msgspec.msgpack.decode(wire.encode_record(stamped)[1:])[4] == 3
    # Epoch 0 (the primary's first run) is the 4-element layout an older consumer reads
    legacy = wire.JournalRecord.of(run)
    assert legacy.epoch == 0
    assert len(msgspec.msgpack.decode(wire.encode_record(legacy)[1:])) == 4


def test_a_4_element_record_written_before_epochs_decodes_as_epoch_0() -> None:
    # Given a record as a writer from before the epoch field encoded it
    events = [delta(1), delta(2)]
    old = b"\x01" + msgspec.msgpack.encode(["BTC-USD", 1, 2, events])
    # When decoded, Then it is that record at epoch 0
    assert wire.decode_record(old) == wire.JournalRecord("BTC-USD", 1, 2, tuple(events), 0)
    assert wire.encode_record(wire.decode_record(old)) == old


def test_a_record_with_a_negative_or_a_sixth_element_is_refused() -> None:
    events = [delta(1)]
    with pytest.raises(WireFormatError, match="negative epoch"):
        wire.decode_record(b"\x01" + msgspec.msgpack.encode(["BTC-USD", 1, 1, events, -1]))
    with pytest.raises(WireFormatError):
        wire.decode_record(b"\x01" + msgspec.msgpack.encode(["BTC-USD", 1, 1, events, 1, 2]))
