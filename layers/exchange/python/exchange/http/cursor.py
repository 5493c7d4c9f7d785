"""Opaque pagination cursors: a listing's page key, as base64url JSON.

The cursor is validated, not trusted: decoding checks its size and shape here, and the store
checks that its key attributes belong to the caller's own listing (``exchange.orders.store``).
A tampered cursor is therefore a 400, and at worst moves the caller within their own data.

>>> token = encode_cursor({"account_id": "a-1", "order_id": "01HF7YAT000000000000000000"})
>>> decode_cursor(token)
{'account_id': 'a-1', 'order_id': '01HF7YAT000000000000000000'}
"""

import base64
import binascii
import json
from typing import Final

from exchange.orders.errors import InvalidCursor
from exchange.orders.model import PageKey

MAX_CURSOR_LENGTH: Final = 1024
_MAX_FIELDS: Final = 4
_VERSION: Final = 1


def encode_cursor(key: PageKey) -> str:
    raw = json.dumps({"v": _VERSION, "k": key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> PageKey:
    if not token or len(token) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("cursor is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        document = json.loads(raw)
    except (binascii.Error, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise InvalidCursor("cursor is not one this API issued") from exc
    if not isinstance(document, dict) or document.get("v") != _VERSION:
        raise InvalidCursor("cursor is not one this API issued")
    key = document.get("k")
    if not isinstance(key, dict) or not 0 < len(key) <= _MAX_FIELDS:
        raise InvalidCursor("cursor is not one this API issued")
    for name, value in key.items():
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidCursor(f"cursor field {name!r} is malformed")
    return key
