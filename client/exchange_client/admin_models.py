"""What the admin API (``/v1/admin``) returns, as typed values; decimals stay exact strings where
the API sends them so, and unknown fields are ignored."""

from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec


class SentCommand(msgspec.Struct, frozen=True, kw_only=True):
    """One engine command of an action: ``outcome`` queued, unconfirmed (the engine may have
    it) or not_sent (run the action again)."""

    symbol: str
    command_id: str
    outcome: str
    detail: str | None = None


class AdminAction(msgspec.Struct, frozen=True, kw_only=True):
    """What an action sent, and its entry in the operators' audit log."""

    audit_seq: int
    complete: bool
    commands: list[SentCommand] = msgspec.field(default_factory=list)

    @property
    def not_sent(self) -> list[SentCommand]:
        return [command for command in self.commands if command.outcome == "not_sent"]


class Freeze(AdminAction, frozen=True, kw_only=True):
    account_id: str
    frozen: bool
    changed: bool  # False: the ledger had it so already


class AdminMarket(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    status: str
    version: int
    shard: str
    status_seq: int = 0
    listed_seq: int | None = None
    base: str | None = None
    quote: str | None = None
    asset_class: str | None = None


class Listing(AdminMarket, frozen=True, kw_only=True):
    """One version of an instrument: who wrote it and why, and its definition."""

    actor: str
    reason: str = ""
    created_at: datetime | None = None
    instrument: dict[str, Any] = msgspec.field(default_factory=dict)


class InstrumentDetail(msgspec.Struct, frozen=True, kw_only=True):
    listing: Listing
    history: list[Listing] = msgspec.field(default_factory=list)


class ListingResult(msgspec.Struct, frozen=True, kw_only=True):
    listing: Listing
    republished: bool  # the version was in force already: only sent to the engine again
    audit_seq: int
    command: SentCommand


class Dividend(msgspec.Struct, frozen=True, kw_only=True):
    dividend_id: str
    symbol: str
    amount_per_unit: Decimal
    record_time: datetime
    pay_time: datetime
    issuer_account_id: str
    status: str  # DECLARED, then PAID
    asset: str | None = None
    unit_asset: str | None = None
    declared_at: datetime | None = None
    paid_at: datetime | None = None
    holders: int | None = None
    total_paid: Decimal | None = None
    actor: str | None = None
    reason: str | None = None


class Operator(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    sub: str


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """An admin action as the audit log keeps it: who, when, why and what."""

    seq: int
    kind: str
    hash: str
    prev_hash: str
    time: datetime | None = None
    operator: Operator | None = None
    reason: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    """Entries newest first; ``next_before`` gets older ones. ``verified``: the whole chain
    links and hashes (else ``broken_at`` and ``problem`` say where and why)."""

    entries: list[AuditEntry]
    verified: bool
    head_seq: int
    next_before: int | None = None
    broken_at: int | None = None
    problem: str | None = None
