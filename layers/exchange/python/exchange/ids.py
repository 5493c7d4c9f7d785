"""Order and command ids.

Order ids are ULIDs: 48 bits of milliseconds, then 80 random bits, in Crockford base32. They sort
by time as text, which the orders table relies on (newest first is a reverse Query), and two
ids collide with negligible probability even within one millisecond.

>>> new_order_id(1_700_000_000_000_000_000, bytes(10))
'01HF7YAT000000000000000000'
>>> later = new_order_id(1_700_000_000_001_000_000, bytes(10))
>>> new_order_id(1_700_000_000_000_000_000, b"\\xff" * 10) < later
True
>>> ORDER_ID.fullmatch(new_order_id()) is not None
True
"""

import hashlib
import os
import re
import time
import uuid
from typing import Final

_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ORDER_ID_PATTERN: Final = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"
ORDER_ID: Final = re.compile(ORDER_ID_PATTERN)
_ENTROPY_BYTES: Final = 10


def new_order_id(now_ns: int | None = None, entropy: bytes | None = None) -> str:
    millis = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    randomness = int.from_bytes(entropy if entropy is not None else os.urandom(_ENTROPY_BYTES))
    value = (millis << 80) | randomness
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def command_id(*parts: str) -> str:
    """A cancel or amend command id: derived from ``parts`` (account, order, operation and the
    client's idempotency key) so a retry republishes the same id, which the engine drops; random
    when there is no key."""
    if not parts:
        return uuid.uuid4().hex
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
