"""Request and response bodies of money out and notification preferences:
``/v1/withdrawal-destinations``, ``/v1/withdrawals`` and ``/v1/account/notifications``
(pydantic; the OpenAPI document is built from them). Amounts are decimal strings, times ISO-8601
in UTC to the millisecond; a request body forbids unknown fields."""

from datetime import UTC, datetime
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from exchange.http.schemas import ASSET_PATTERN, DecimalString
from exchange.ledger.model import Withdrawal, WithdrawalStatus
from exchange.ledger.money import show
from exchange.ledger.payouts_port import Destination, DestinationKind
from exchange.notices import NoticeKind, NotificationPreferences
from exchange.payouts.destinations import MAX_LABEL

# The ids the API derives (``dst-``/``wd-`` and 32 hex digits) fit; anything else is a 400 before
# the ledger is asked.
RESOURCE_ID_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,128}$"

Asset = Annotated[str, Field(pattern=ASSET_PATTERN, examples=["USD"])]
ResourceId = Annotated[str, Field(pattern=RESOURCE_ID_PATTERN)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DestinationBody(_Request):
    asset: Asset
    kind: DestinationKind = Field(
        description="ADDRESS: a blockchain address (20 to 128 letters and digits, or 0x and 40 "
        "hex digits); BANK: an IBAN (its check digits are verified) or an account number (6 to "
        "34 letters and digits; spaces are dropped)"
    )
    address: Annotated[
        str, Field(min_length=1, max_length=160, examples=["GB82WEST12345698765432"])
    ]
    label: Annotated[str, Field(min_length=1, max_length=MAX_LABEL, examples=["my bank"])]


class DestinationOut(BaseModel):
    destination_id: str
    asset: str
    kind: DestinationKind
    address: str = Field(description="As stored (a bank reference without spaces, upper-cased)")
    label: str
    status: Literal["PENDING", "ACTIVE", "REMOVED"] = Field(
        description="PENDING until usable_at (no withdrawal to it before), then ACTIVE"
    )
    created_at: str = Field(description="ISO-8601 UTC, milliseconds")
    usable_at: str = Field(description="From when withdrawals to it are accepted")
    removed_at: str | None = None

    @classmethod
    def of(cls, destination: Destination, now: datetime) -> "DestinationOut":
        return cls(
            destination_id=destination.destination_id,
            asset=destination.asset,
            kind=destination.kind,
            address=destination.address,
            label=destination.label,
            status=destination.status(now),
            created_at=iso(destination.created_at),
            usable_at=iso(destination.usable_at),
            removed_at=None if destination.removed_at is None else iso(destination.removed_at),
        )


class DestinationsOut(BaseModel):
    destinations: list[DestinationOut] = Field(description="Not removed, newest first")


class WithdrawalBody(_Request):
    asset: Asset
    amount: DecimalString
    destination_id: ResourceId = Field(
        description="One of your destinations for this asset, past its usable_at"
    )


class WithdrawalOut(BaseModel):
    withdrawal_id: str
    asset: str
    amount: str
    status: WithdrawalStatus = Field(
        description="PENDING (held; cancellable), SENDING (sent to the payment provider), "
        "COMPLETED (paid out), FAILED (refused by the provider; the hold released), CANCELLED"
    )
    destination_id: str | None = None
    attempts: int = Field(default=0, description="How often it was sent to the provider")
    failure_reason: str | None = None
    created_at: str | None = Field(default=None, description="ISO-8601 UTC, milliseconds")
    updated_at: str | None = None

    @classmethod
    def of(cls, withdrawal: Withdrawal) -> "WithdrawalOut":
        return cls(
            withdrawal_id=withdrawal.withdrawal_id,
            asset=withdrawal.asset,
            amount=show(withdrawal.amount),
            status=withdrawal.status,
            destination_id=withdrawal.destination_id,
            attempts=withdrawal.attempts,
            failure_reason=withdrawal.failure_reason,
            created_at=None if withdrawal.created_at is None else iso(withdrawal.created_at),
            updated_at=None if withdrawal.updated_at is None else iso(withdrawal.updated_at),
        )


class WithdrawalsOut(BaseModel):
    withdrawals: list[WithdrawalOut] = Field(description="Newest first")


class NotificationsBody(_Request):
    email: dict[NoticeKind, bool] = Field(
        description="Kinds to switch on (true) or off (false); the kinds not named keep their "
        "setting. SECURITY cannot be switched off (422 security_notices_required)",
        examples=[{"FILL": True, "DEPOSIT": False}],
    )


class NotificationsOut(BaseModel):
    email: dict[NoticeKind, bool] = Field(
        description="Per kind of notice, whether it is emailed (every kind listed)"
    )

    @classmethod
    def of(cls, preferences: NotificationPreferences) -> "NotificationsOut":
        return cls(email={kind: preferences.wants(kind) for kind in NoticeKind})


def iso(moment: datetime) -> str:
    """``2026-12-06T10:00:05.123Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
