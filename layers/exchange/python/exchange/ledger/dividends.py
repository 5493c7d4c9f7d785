"""Cash dividends on equities: declared by an operator, paid once to the holders of record.

An operator declares a dividend (``DividendDeclaration``): an EQUITY instrument, an amount per
unit of its base asset paid in its quote asset, a record time, a pay time, and the issuer account
that pays. Once the pay time has come, the ``dividends`` function (``ledger.payouts``) pays every
holder of record ``floor(units x amount_per_unit)`` at the quote asset's scale from the issuer's
available balance, in one journal transaction (kind ``DIVIDEND``), and marks the dividend PAID in
that same transaction: exactly once however often, or however concurrently, it runs. An issuer
without the total available leaves the dividend DECLARED (metric ``DividendsUnfunded``); a later
run pays it once the issuer is funded.

Holders of record are the USER accounts whose settled balance of the base asset (available plus
held, summed from the journal up to the record time) is positive, the issuer's own excepted
(units an issuer holds are treasury units: it would pay itself). "Settled": a trade counts from
when settlement wrote it. What each floor leaves over stays with the issuer. The pay time must be
at least ``MIN_RECORD_TO_PAY`` after the record time, so every transaction under way at the
record time has committed long before the holders are summed.

>>> payout_amounts({"a": Decimal("3"), "b": Decimal("0.5")}, Decimal("0.333"), scale=2)
{'a': Decimal('0.99'), 'b': Decimal('0.16')}
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Final, Literal

from exchange.domain.enums import AssetClass
from exchange.domain.instruments import Instrument
from exchange.ledger.errors import InvalidAmount, InvalidDividend
from exchange.ledger.money import EXACT, check_amount, quantum, scale_of

# A record time may be this far in the past when declared (the operator's clock, a slow request).
RECORD_GRACE: Final = timedelta(minutes=1)
MIN_RECORD_TO_PAY: Final = timedelta(seconds=5)

DividendStatus = Literal["DECLARED", "PAID"]


@dataclass(frozen=True, slots=True)
class DividendDeclaration:
    """What an operator declares. Times are timezone-aware; ``amount_per_unit`` is in the
    instrument's quote asset per unit of its base asset."""

    dividend_id: str
    symbol: str
    amount_per_unit: Decimal
    record_time: datetime
    pay_time: datetime
    issuer_account_id: str
    actor: str
    reason: str


@dataclass(frozen=True, slots=True)
class Dividend:
    """A declared dividend; once PAID, when, to how many holders and how much in all."""

    dividend_id: str
    symbol: str
    amount_per_unit: Decimal
    record_time: datetime
    pay_time: datetime
    issuer_account_id: str
    actor: str
    reason: str
    asset: str  # the quote asset paid
    unit_asset: str  # the base asset held
    status: DividendStatus
    declared_at: datetime
    paid_at: datetime | None = None
    holders: int | None = None
    total_paid: Decimal | None = None

    def same_terms(self, declaration: DividendDeclaration) -> bool:
        """Whether ``declaration`` declares this dividend (a retry), not another one."""
        return (
            self.symbol,
            self.amount_per_unit,
            self.record_time,
            self.pay_time,
            self.issuer_account_id,
        ) == (
            declaration.symbol,
            declaration.amount_per_unit,
            declaration.record_time,
            declaration.pay_time,
            declaration.issuer_account_id,
        )


@dataclass(frozen=True, slots=True)
class DividendPayout:
    """One due dividend a run dealt with: paid (to ``holders`` accounts, ``total`` in all), or
    not (``paid`` False: the issuer had less than ``total`` available; it stays DECLARED)."""

    dividend_id: str
    symbol: str
    asset: str
    paid: bool
    holders: int
    total: Decimal
    detail: str = ""


def check_declaration(
    declaration: DividendDeclaration,
    instrument: Instrument,
    scales: Mapping[str, int],
    *,
    now: datetime,
) -> Decimal:
    """Refuse a declaration the ledger could not pay as declared (InvalidDividend, saying what
    was wrong); returns ``amount_per_unit`` at the quote asset's scale."""
    d = declaration
    for name, value, longest in (
        ("dividend_id", d.dividend_id, 128),
        ("actor", d.actor, 128),
        ("reason", d.reason, 1000),
    ):
        if not 1 <= len(value) <= longest:
            raise InvalidDividend(f"{name} must be 1 to {longest} characters")
    if instrument.asset_class is not AssetClass.EQUITY:
        raise InvalidDividend(
            f"{d.symbol} is {instrument.asset_class}: dividends are declared on EQUITY only"
        )
    try:
        amount = check_amount(
            d.amount_per_unit, scale_of(scales, instrument.quote), asset=instrument.quote
        )
    except InvalidAmount as exc:
        raise InvalidDividend(f"amount_per_unit: {exc}") from exc
    for name, moment in (("record_time", d.record_time), ("pay_time", d.pay_time)):
        if moment.utcoffset() is None:
            raise InvalidDividend(f"{name} must carry a time zone (UTC), was {moment}")
    if d.pay_time - d.record_time < MIN_RECORD_TO_PAY:
        raise InvalidDividend(
            f"pay_time must be at least {MIN_RECORD_TO_PAY.total_seconds():.0f} s after "
            f"record_time, was {d.pay_time.isoformat()} for {d.record_time.isoformat()}"
        )
    if d.record_time < now - RECORD_GRACE:
        raise InvalidDividend(
            f"record_time {d.record_time.isoformat()} is in the past (now {now.isoformat()})"
        )
    return amount


def payout_amounts(
    units: Mapping[str, Decimal], amount_per_unit: Decimal, *, scale: int
) -> dict[str, Decimal]:
    """What each holder is paid: ``floor(units x amount_per_unit)`` at ``scale``; a holder whose
    share rounds down to nothing is left out."""
    paid: dict[str, Decimal] = {}
    for account_id, held in sorted(units.items()):
        with localcontext(EXACT):
            exact = held * amount_per_unit
        amount = exact.quantize(quantum(scale), rounding=ROUND_FLOOR)
        if amount > 0:
            paid[account_id] = amount
    return paid
