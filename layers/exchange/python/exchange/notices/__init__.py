"""Notices: what the exchange tells a user happened (a fill, a deposit, a withdrawal, a
security event), as published to the notifications topic and emailed. Pure data: the ledger's
outbox, the notifier, the API keys' service and the emailer all speak it.

>>> n = Notice(notice_id="ledger#7", kind=NoticeKind.DEPOSIT, event="deposit.credited",
...            account_id="a-1", at_ns=1, data={"asset": "USD", "amount": "25.00"})
>>> Notice.decode(n.encode()) == n
True
"""

from enum import StrEnum
from typing import Final

import msgspec


class NoticeKind(StrEnum):
    FILL = "FILL"
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    SECURITY = "SECURITY"  # a new API key, a password change, a new withdrawal destination


class Notice(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One notice. ``notice_id`` is unique and stable across redeliveries (the emailer sends each
    once): ``fill#<symbol>#<seq>#<account_id>``, ``ledger#<outbox id>``, ``security#<id>``.
    ``event`` names what happened (``fill``, ``deposit.credited``, ``withdrawal.requested``,
    ``withdrawal.completed``, ``withdrawal.failed``, ``withdrawal.cancelled``,
    ``destination.added``, ``api_key.created``, ``password.changed``); ``data`` its details, every
    amount a decimal string."""

    notice_id: str
    kind: NoticeKind
    event: str
    account_id: str
    at_ns: int
    data: dict[str, str] = {}

    def encode(self) -> bytes:
        return _ENCODER.encode(self)

    @classmethod
    def decode(cls, raw: bytes | str) -> "Notice":
        return msgspec.json.decode(raw, type=cls)


_ENCODER: Final = msgspec.json.Encoder()

# A kind a user may not switch off: security notices are always emailed.
ALWAYS_EMAILED: Final = frozenset({NoticeKind.SECURITY})
DEFAULT_EMAIL: Final = {
    NoticeKind.FILL: False,
    NoticeKind.DEPOSIT: True,
    NoticeKind.WITHDRAWAL: True,
    NoticeKind.SECURITY: True,
}


class NotificationPreferences(msgspec.Struct, frozen=True):
    """Which kinds of notice the user wants by email (stored with the account in the ledger)."""

    account_id: str
    email: dict[NoticeKind, bool]

    def wants(self, kind: NoticeKind) -> bool:
        return kind in ALWAYS_EMAILED or self.email.get(kind, DEFAULT_EMAIL[kind])

    @classmethod
    def defaults(cls, account_id: str) -> "NotificationPreferences":
        return cls(account_id=account_id, email=dict(DEFAULT_EMAIL))


__all__ = [
    "ALWAYS_EMAILED",
    "DEFAULT_EMAIL",
    "Notice",
    "NoticeKind",
    "NotificationPreferences",
]
