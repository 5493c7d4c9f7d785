"""What the money-out and notification routes return (``/v1/withdrawal-destinations``,
``/v1/withdrawals``, ``/v1/account/notifications``), as typed values: amounts ``Decimal``, times
aware ``datetime``; unknown fields are ignored."""

from datetime import datetime
from decimal import Decimal

import msgspec


class Destination(msgspec.Struct, frozen=True, kw_only=True):
    """A withdrawal destination. ``status``: PENDING until ``usable_at`` (withdrawals to it are
    refused before), then ACTIVE; REMOVED once removed."""

    destination_id: str
    asset: str
    kind: str  # ADDRESS (a blockchain address) or BANK (an IBAN or account number)
    address: str
    label: str
    status: str
    created_at: datetime
    usable_at: datetime
    removed_at: datetime | None = None


class Withdrawal(msgspec.Struct, frozen=True, kw_only=True):
    """A withdrawal: PENDING (held; cancellable), SENDING (with the payment provider),
    COMPLETED, FAILED (the hold released; ``failure_reason`` says why) or CANCELLED."""

    withdrawal_id: str
    asset: str
    amount: Decimal
    status: str
    destination_id: str | None = None
    attempts: int = 0
    failure_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_final(self) -> bool:
        return self.status in {"COMPLETED", "FAILED", "CANCELLED"}


class NotificationPreferences(msgspec.Struct, frozen=True, kw_only=True):
    """Per kind of notice (FILL, DEPOSIT, WITHDRAWAL, SECURITY), whether it is emailed."""

    email: dict[str, bool]
