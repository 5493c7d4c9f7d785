"""The base of every command and event: an immutable msgspec Struct.

Messages are encoded as msgpack arrays, ``[tag, field, field, ...]``, in field order. That is the
compact part of the wire format (see ``exchange.wire``), so the order of fields is part of the
contract: add new fields only at the end of a class, with a default, and bump
``exchange.wire.WIRE_VERSION`` for anything else.

``gc=False``: messages hold only scalars, never cycles, so the cyclic garbage collector need not
track them (it paused large books for hundreds of milliseconds).
"""

from msgspec import Struct


class Message(
    Struct,
    frozen=True,
    array_like=True,
    forbid_unknown_fields=True,
    gc=False,
    kw_only=True,
):
    """Fields every command and event has.

    ``ts`` is nanoseconds since the Unix epoch, supplied by the caller, so the engine reads no
    clock.
    """

    symbol: str
    ts: int
