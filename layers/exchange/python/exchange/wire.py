"""The compact, versioned wire format for commands and events, on the broker and in the journal.

A payload is one version byte followed by msgpack::

    b"\\x01" + msgpack([tag, field, field, ...])                 # one command or event
    b"\\x01" + msgpack([symbol, first_seq, last_seq, [event...]]) # a journal record (epoch 0)
    b"\\x01" + msgpack([symbol, first_seq, last_seq, [event...], epoch])  # of a later epoch

msgspec encodes and validates in C, several times faster than the stdlib's json (the benchmark is
``make bench-engine``). Every malformed payload raises ``WireFormatError`` and nothing else.

>>> from exchange.domain import CancelOrder
>>> payload = encode_command(CancelOrder(symbol="BTC-USD", ts=1, command_id="k", order_id="o",
...                                      account_id="a"))
>>> decode_command(payload) == CancelOrder(symbol="BTC-USD", ts=1, command_id="k", order_id="o",
...                                        account_id="a")
True
"""

from collections.abc import Sequence
from typing import Final

import msgspec

from exchange.domain.commands import EngineCommand
from exchange.domain.errors import WireFormatError
from exchange.domain.events import AnyEvent, Event

WIRE_VERSION: Final = 1
_VERSION_PREFIX: Final = bytes([WIRE_VERSION])


class JournalRecord(
    msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, gc=False
):
    """Consecutive events of one symbol, packed into one journal (Kinesis) record.

    ``epoch`` is the failover generation of the engine that wrote it (0 for the primary's first
    run, one more at every promotion or failback): a consumer that meets a seq it applied under
    another epoch knows the seq was reused (``exchange.journal.epochs``). A record of epoch 0 is
    encoded without it, byte for byte as before epochs existed, and a 4-element record decodes
    as epoch 0.
    """

    symbol: str
    first_seq: int
    last_seq: int
    events: tuple[AnyEvent, ...]
    epoch: int = 0

    @classmethod
    def of(cls, events: Sequence[Event], *, epoch: int = 0) -> "JournalRecord":
        """Pack events, which must be one symbol's and gap-free, into a record."""
        if not events:
            raise WireFormatError("a journal record holds at least one event")
        record = cls(events[0].symbol, events[0].seq, events[-1].seq, tuple(events), epoch)  # type: ignore[arg-type]
        _check_record(record)
        return record


# msgspec reports bad structure as MsgspecError but lets invalid UTF-8 in a string through as
# UnicodeDecodeError; both mean a malformed payload.
_DECODE_ERRORS = (msgspec.MsgspecError, UnicodeDecodeError)

_encoder = msgspec.msgpack.Encoder()
_command_decoder: msgspec.msgpack.Decoder[EngineCommand] = msgspec.msgpack.Decoder(EngineCommand)
_event_decoder: msgspec.msgpack.Decoder[AnyEvent] = msgspec.msgpack.Decoder(AnyEvent)
_record_decoder = msgspec.msgpack.Decoder(JournalRecord)


def _encode(message: object) -> bytes:
    buffer = bytearray(_VERSION_PREFIX)
    _encoder.encode_into(message, buffer, 1)
    return bytes(buffer)


def _body(payload: bytes | bytearray | memoryview) -> memoryview:
    view = memoryview(payload)
    if len(view) == 0:
        raise WireFormatError("empty payload")
    if view[0] != WIRE_VERSION:
        raise WireFormatError(f"unsupported wire version {view[0]}, expected {WIRE_VERSION}")
    return view[1:]


def encode_command(command: EngineCommand) -> bytes:
    return _encode(command)


def decode_command(payload: bytes | bytearray | memoryview) -> EngineCommand:
    try:
        return _command_decoder.decode(_body(payload))
    except _DECODE_ERRORS as exc:
        raise WireFormatError(f"malformed command: {exc}") from exc


def encode_event(event: Event) -> bytes:
    return _encode(event)


def decode_event(payload: bytes | bytearray | memoryview) -> AnyEvent:
    try:
        return _event_decoder.decode(_body(payload))
    except _DECODE_ERRORS as exc:
        raise WireFormatError(f"malformed event: {exc}") from exc


def encode_record(record: JournalRecord) -> bytes:
    if record.epoch == 0:
        # The 4-element layout of before epochs, so a consumer not yet upgraded reads it (msgspec
        # writes every field of an array-like struct, defaults included).
        return _encode((record.symbol, record.first_seq, record.last_seq, record.events))
    return _encode(record)


def decode_record(payload: bytes | bytearray | memoryview) -> JournalRecord:
    try:
        record = _record_decoder.decode(_body(payload))
    except _DECODE_ERRORS as exc:
        raise WireFormatError(f"malformed journal record: {exc}") from exc
    _check_record(record)
    return record


def _check_record(record: JournalRecord) -> None:
    if not record.events:
        raise WireFormatError(f"journal record for {record.symbol} holds no events")
    where = f"journal record for {record.symbol}"
    if record.epoch < 0:
        raise WireFormatError(f"{where} has a negative epoch {record.epoch}")
    expected = record.first_seq
    for event in record.events:
        if event.symbol != record.symbol:
            raise WireFormatError(f"{where} holds an event of {event.symbol}")
        if event.seq != expected:
            raise WireFormatError(
                f"{where} is not gap-free: seq {event.seq} where {expected} was due"
            )
        expected += 1
    if record.last_seq != expected - 1:
        raise WireFormatError(
            f"{where} says last_seq {record.last_seq}, holds up to {expected - 1}"
        )
