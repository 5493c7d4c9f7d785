"""Request and response bodies of ``/v1/admin`` (pydantic; the OpenAPI document is built from
them). Every action takes a ``reason`` (3 to 500 characters, kept in the audit log); decimals are
strings, times RFC 3339 in UTC; a request body forbids unknown fields."""

import datetime as dt
import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from exchange.admin.dispatch import Dispatch, Outcome, Sent
from exchange.admin.service import AuditPage, FreezeResult, ListingResult
from exchange.domain.enums import InstrumentStatus
from exchange.http.schemas import DecimalString, Symbol
from exchange.instruments.model import Listing
from exchange.journal.audit import AuditEntry
from exchange.ledger.dividends import Dividend

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
ACCOUNT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"

Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=500),
    Field(
        description="Why (3 to 500 characters): kept, with who and when, in the audit log",
        examples=["erroneous prints on BTC-USD; investigating"],
    ),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReasonBody(_Body):
    reason: Reason


class StatusBody(_Body):
    status: InstrumentStatus = Field(description="The symbol's new trading status")
    reason: Reason


class KillSwitchBody(_Body):
    status: Literal["CANCEL_ONLY", "HALTED", "TRADING"] = Field(
        description="Set on every listed symbol: CANCEL_ONLY or HALTED stops trading, TRADING "
        "resumes it"
    )
    reason: Reason


class MassCancelBody(_Body):
    account_id: Annotated[str, Field(pattern=ACCOUNT_ID_PATTERN)] | None = Field(
        default=None, description="Only this account's orders; omitted: every account's"
    )
    reason: Reason


class ListingBody(_Body):
    instrument: dict[str, Any] = Field(
        description="The instrument's definition, as in the instruments file (decimals as "
        "strings): base, quote, tick_size, lot_size, min_qty, max_qty, price_band_pct, fees, "
        "reference_price, band_min_qty, max_price, max_notional, asset_class; status only for a "
        "new listing (its first status). symbol may be omitted (the path's)",
        examples=[
            {
                "base": "ACME",
                "quote": "USD",
                "tick_size": "0.01",
                "lot_size": "1",
                "min_qty": "1",
                "max_qty": "10000",
                "price_band_pct": "10",
                "asset_class": "EQUITY",
                "reference_price": "25.00",
            }
        ],
    )
    version: int | None = Field(
        default=None,
        ge=1,
        description="The version this writes (the one in force plus one), or the one in force "
        "to republish it; omitted: the next, or a republish when the definition is unchanged",
    )
    shard: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,32}$")] | None = Field(
        default=None, description="A new symbol's engine shard; omitted: the least loaded"
    )
    reason: Reason


class DividendBody(_Body):
    symbol: Symbol
    amount_per_unit: DecimalString = Field(
        description="Paid per unit of the base held at record_time, in the quote asset (> 0)"
    )
    record_time: AwareDatetime
    pay_time: AwareDatetime
    issuer_account_id: Annotated[str, Field(pattern=ACCOUNT_ID_PATTERN)]
    dividend_id: Annotated[str, Field(pattern=r"^div_[A-Za-z0-9_-]{1,64}$")] | None = Field(
        default=None,
        description="Yours, so a retried declaration is the same dividend; omitted: a new one",
    )
    reason: Reason


# --- answers ------------------------------------------------------------------------------------


class CommandOut(BaseModel):
    symbol: str
    command_id: str = Field(description="The engine journals it with the action's events")
    outcome: Outcome = Field(
        description="queued; unconfirmed (sent, no confirm: the engine may have it); not_sent "
        "(run the action again)"
    )
    detail: str | None = None

    @classmethod
    def of(cls, sent: Sent) -> "CommandOut":
        return cls(
            symbol=sent.symbol, command_id=sent.command_id, outcome=sent.outcome, detail=sent.detail
        )


class ActionOut(BaseModel):
    audit_seq: int = Field(description="The action's entry in the operators' audit log")
    complete: bool = Field(description="False: some commands were not sent (run it again)")
    commands: list[CommandOut]

    @classmethod
    def of(cls, dispatch: Dispatch) -> "ActionOut":
        return cls(
            audit_seq=dispatch.audit_seq,
            complete=dispatch.complete,
            commands=[CommandOut.of(sent) for sent in dispatch.commands],
        )


class FreezeOut(ActionOut):
    account_id: str
    frozen: bool
    changed: bool = Field(description="False: the ledger had it so already")

    @classmethod
    def made(cls, result: FreezeResult) -> "FreezeOut":
        return cls(
            **ActionOut.of(result.dispatch).model_dump(),
            account_id=result.account_id,
            frozen=result.frozen,
            changed=result.changed,
        )


class MarketOut(BaseModel):
    symbol: str
    status: InstrumentStatus
    version: int = Field(description="0: the static instruments file's, never changed")
    shard: str
    status_seq: int = Field(description="The seq of the engine's last status change; 0: never")
    listed_seq: int | None = Field(description="The seq of the engine's listing of the version")
    base: str
    quote: str
    asset_class: str

    @classmethod
    def of(cls, listing: Listing) -> "MarketOut":
        return cls(
            symbol=listing.symbol,
            status=listing.status,
            version=listing.version,
            shard=listing.shard,
            status_seq=listing.status_seq,
            listed_seq=listing.listed_seq,
            base=listing.instrument.base,
            quote=listing.instrument.quote,
            asset_class=listing.instrument.asset_class.value,
        )


class MarketsOut(BaseModel):
    markets: list[MarketOut]


class ListingOut(MarketOut):
    actor: str = Field(description="Who wrote this version (seed: the instruments file)")
    reason: str
    created_at: dt.datetime | None
    instrument: dict[str, Any] = Field(description="The definition (decimals as strings)")

    @classmethod
    def of(cls, listing: Listing) -> "ListingOut":
        return cls(
            **MarketOut.of(listing).model_dump(),
            actor=listing.actor,
            reason=listing.reason,
            created_at=_time(listing.created_ns) if listing.created_ns else None,
            instrument=listing.instrument.model_dump(mode="json"),
        )


class InstrumentOut(BaseModel):
    listing: ListingOut = Field(description="The version in force, with the engine's status")
    history: list[ListingOut] = Field(description="Every stored version, oldest first")


class ListingResultOut(BaseModel):
    listing: ListingOut
    republished: bool = Field(description="The version was in force already: only sent again")
    audit_seq: int
    command: CommandOut

    @classmethod
    def of(cls, result: ListingResult) -> "ListingResultOut":
        return cls(
            listing=ListingOut.of(result.listing),
            republished=result.republished,
            audit_seq=result.dispatch.audit_seq,
            command=CommandOut.of(result.command),
        )


class DividendOut(BaseModel):
    dividend_id: str
    symbol: str
    amount_per_unit: str = Field(description="In asset, per unit of unit_asset held")
    asset: str = Field(description="The quote asset paid")
    unit_asset: str = Field(description="The base asset whose holders are paid")
    record_time: dt.datetime
    pay_time: dt.datetime
    issuer_account_id: str
    status: str = Field(description="DECLARED, then PAID once, when due and funded")
    declared_at: dt.datetime
    paid_at: dt.datetime | None = None
    holders: int | None = Field(default=None, description="Accounts paid")
    total_paid: str | None = None
    actor: str
    reason: str

    @classmethod
    def of(cls, dividend: Dividend) -> "DividendOut":
        total = dividend.total_paid
        return cls(
            dividend_id=dividend.dividend_id,
            symbol=dividend.symbol,
            amount_per_unit=_plain(dividend.amount_per_unit),
            asset=dividend.asset,
            unit_asset=dividend.unit_asset,
            record_time=dividend.record_time,
            pay_time=dividend.pay_time,
            issuer_account_id=dividend.issuer_account_id,
            status=dividend.status,
            declared_at=dividend.declared_at,
            paid_at=dividend.paid_at,
            holders=dividend.holders,
            total_paid=None if total is None else _plain(total),
            actor=dividend.actor,
            reason=dividend.reason,
        )


class DividendsOut(BaseModel):
    dividends: list[DividendOut]


class OperatorOut(BaseModel):
    username: str
    sub: str


class AuditEntryOut(BaseModel):
    seq: int
    kind: str
    time: dt.datetime | None = Field(description="When the operator acted (hashed)")
    operator: OperatorOut | None
    reason: str | None
    request_id: str | None
    details: dict[str, Any] = Field(description="What: symbols, command ids, account, version")
    hash: str
    prev_hash: str

    @classmethod
    def of(cls, entry: AuditEntry) -> "AuditEntryOut":
        document = json.loads(entry.payload)
        operator = document.pop("operator", None)
        time_ns = document.pop("time_ns", None)
        return cls(
            seq=entry.seq,
            kind=entry.kind,
            time=_time(time_ns) if isinstance(time_ns, int) else None,
            operator=OperatorOut.model_validate(operator) if operator else None,
            reason=document.pop("reason", None),
            request_id=document.pop("request_id", None),
            details=document,
            hash=entry.hash,
            prev_hash=entry.prev_hash,
        )


class AuditOut(BaseModel):
    entries: list[AuditEntryOut] = Field(description="Newest first")
    next_before: int | None = Field(description="Pass as before= for older entries")
    verified: bool = Field(description="The whole operators chain links and hashes")
    head_seq: int
    broken_at: int | None = None
    problem: str | None = Field(default=None, description="What broke the chain, if it is")

    @classmethod
    def of(cls, page: AuditPage) -> "AuditOut":
        return cls(
            entries=[AuditEntryOut.of(entry) for entry in page.entries],
            next_before=page.next_before,
            verified=page.report.ok,
            head_seq=page.report.head_seq,
            broken_at=page.report.broken_at,
            problem=page.report.reason,
        )


def _plain(value: Decimal) -> str:
    return format(value, "f")


def _time(ns: int) -> dt.datetime:
    return _EPOCH + ns // 1000 * _MICROSECOND
