"""Dividend rules (``ledger.dividends``), the in-memory ledger's dividends (what other sections'
unit tests rely on), and the dividends function (``ledger.payouts``, ``lambdas/dividends``)."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from exchange.domain import Instrument, InstrumentCatalog
from exchange.domain.enums import AssetClass
from exchange.ledger import (
    DividendConflict,
    DividendDeclaration,
    InvalidDividend,
    KycStatus,
    UnknownAccount,
)
from exchange.ledger.dividends import check_declaration, payout_amounts
from exchange.ledger.model import AccountKind
from exchange.ledger.payouts import DividendPayer
from exchange.ledger.payouts_port import DestinationKind, NewDestination
from exchange.testing.lambda_events import LambdaContextStub, scheduled_event
from exchange.testing.ledger import InMemoryLedger
from lambdas.dividends.handler import handler
from tests.unit.ledger.helpers import BTC

ACME = Instrument(
    symbol="ACME-USD",
    base="ACME",
    quote="USD",
    tick_size=Decimal("0.01"),
    lot_size=Decimal("1"),
    min_qty=Decimal("1"),
    max_qty=Decimal("1000"),
    price_band_pct=Decimal("10"),
    asset_class=AssetClass.EQUITY,
)
SCALES = {"USD": 2, "BTC": 8, "ACME": 0}
T0 = datetime(2030, 1, 1, 12, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def declared(**changes: object) -> DividendDeclaration:
    terms = DividendDeclaration(
        dividend_id="div-1",
        symbol="ACME-USD",
        amount_per_unit=Decimal("0.25"),
        record_time=T0,
        pay_time=T0 + timedelta(days=1),
        issuer_account_id="issuer",
        actor="op-alice",
        reason="Q3 dividend",
    )
    return replace(terms, **changes)  # type: ignore[arg-type]


# -- rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "instrument", "error"),
    [
        ({}, BTC, "EQUITY only"),
        ({"amount_per_unit": Decimal("-1")}, ACME, "positive"),
        ({"amount_per_unit": Decimal("0.001")}, ACME, "finer than 0.01"),
        ({"amount_per_unit": Decimal("NaN")}, ACME, "positive"),
        ({"pay_time": T0 + timedelta(seconds=4)}, ACME, "at least 5 s"),
        ({"pay_time": T0 - timedelta(days=1)}, ACME, "at least 5 s"),
        ({"record_time": T0.replace(tzinfo=None)}, ACME, "time zone"),
        ({"record_time": T0 - timedelta(seconds=61)}, ACME, "in the past"),
        ({"dividend_id": ""}, ACME, "dividend_id"),
        ({"actor": "x" * 129}, ACME, "actor"),
    ],
)
def test_a_declaration_the_ledger_could_not_pay_is_refused_saying_why(
    changes: dict[str, object], instrument: Instrument, error: str
) -> None:
    with pytest.raises(InvalidDividend, match=error):
        check_declaration(declared(**changes), instrument, SCALES, now=T0)


def test_a_record_time_a_little_in_the_past_is_accepted_at_the_quote_scale() -> None:
    amount = check_declaration(
        declared(record_time=T0 - timedelta(seconds=59), amount_per_unit=Decimal("0.5")),
        ACME,
        SCALES,
        now=T0,
    )
    assert str(amount) == "0.50"


def test_each_holder_is_paid_the_floor_of_units_times_amount_and_dust_is_left_out() -> None:
    units = {"b": Decimal("3"), "a": Decimal("0.5"), "dust": Decimal("0.01")}
    assert payout_amounts(units, Decimal("0.333"), scale=2) == {
        "a": Decimal("0.16"),
        "b": Decimal("0.99"),
    }


# -- the in-memory ledger ------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 - timedelta(hours=1))


@pytest.fixture
def fake(clock: Clock) -> InMemoryLedger:
    ledger = InMemoryLedger(InstrumentCatalog([BTC, ACME]), asset_scales=SCALES, clock=clock)
    for account_id in ("issuer", "holder", "seller", "late"):
        ledger.open_account(account_id, kyc_status=KycStatus.VERIFIED)
    ledger.open_account("fees", kind=AccountKind.FEE)
    return ledger


def test_the_fake_pays_the_holders_of_record_once_from_the_issuer(
    fake: InMemoryLedger, clock: Clock
) -> None:
    # Given holdings before the record time, and a withdrawal and a deposit after it
    fake.fund("issuer", "USD", Decimal("10"))
    fake.fund("issuer", "ACME", Decimal("100"))  # treasury shares: not a holder
    fake.fund("holder", "ACME", Decimal("4"))
    fake.fund("seller", "ACME", Decimal("2"))
    fake.fund("fees", "ACME", Decimal("5"))  # not a user: not a holder
    dividend = fake.declare_dividend(declared())
    clock.advance(2 * 3600)  # past the record time
    fake.add_destination(
        NewDestination("dst-1", "seller", "ACME", DestinationKind.BANK, "GB82WEST1234", "broker"),
        delay=timedelta(0),
    )
    fake.request_withdrawal("wd-1", "seller", "ACME", Decimal("2"), destination_id="dst-1")
    fake.claim_payout("wd-1")
    fake.complete_withdrawal("wd-1")
    fake.fund("late", "ACME", Decimal("7"))
    # When the payer runs before the pay time, then at it, then again
    assert fake.pay_due_dividends(T0, limit=10) == []
    (payout,) = fake.pay_due_dividends(dividend.pay_time, limit=10)
    assert fake.pay_due_dividends(dividend.pay_time, limit=10) == []
    # Then the holders at the record time alone were paid, once
    assert (payout.paid, payout.holders, payout.total) == (True, 2, Decimal("1.50"))
    usd = {a: fake.available[(a, "USD")] for a in ("issuer", "holder", "seller", "late")}
    assert usd == {
        "issuer": Decimal("8.50"),
        "holder": Decimal("1.00"),
        "seller": Decimal("0.50"),
        "late": Decimal(0),
    }
    (paid,) = fake.dividends("ACME-USD")
    assert (paid.status, paid.holders, paid.total_paid) == ("PAID", 2, Decimal("1.50"))
    assert [c.amount for c in fake.positions("holder").dividends] == [Decimal("1.00")]


def test_the_fake_leaves_an_unfunded_dividend_declared(fake: InMemoryLedger, clock: Clock) -> None:
    fake.fund("holder", "ACME", Decimal("4"))
    dividend = fake.declare_dividend(declared())
    (payout,) = fake.pay_due_dividends(dividend.pay_time, limit=10)
    assert (payout.paid, payout.total) == (False, Decimal("1.00"))
    assert fake.dividends()[0].status == "DECLARED"
    fake.fund("issuer", "USD", Decimal("1"))
    assert [p.paid for p in fake.pay_due_dividends(dividend.pay_time, limit=10)] == [True]


def test_the_fake_refuses_bad_declarations_and_conflicts(fake: InMemoryLedger) -> None:
    first = fake.declare_dividend(declared())
    assert fake.declare_dividend(declared()) == first
    with pytest.raises(DividendConflict):
        fake.declare_dividend(declared(amount_per_unit=Decimal("1")))
    with pytest.raises(InvalidDividend, match="no instrument"):
        fake.declare_dividend(declared(dividend_id="div-2", symbol="NOPE-USD"))
    with pytest.raises(UnknownAccount):
        fake.declare_dividend(declared(dividend_id="div-3", issuer_account_id="nobody"))
    assert [d.dividend_id for d in fake.dividends()] == ["div-1"]


# -- the dividends function ----------------------------------------------------------------------


def test_the_function_pays_what_is_due_and_counts_the_unfunded(
    fake: InMemoryLedger, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.fund("issuer", "USD", Decimal("1"))
    fake.fund("holder", "ACME", Decimal("4"))
    fake.declare_dividend(declared())
    fake.declare_dividend(declared(dividend_id="div-2", amount_per_unit=Decimal("10")))
    clock.now = T0 + timedelta(days=2)
    payer = DividendPayer(fake, limit=10, clock=clock)
    answer = handler(scheduled_event("dividends"), LambdaContextStub(), payer=payer)
    assert answer == {"paid": ["div-1"], "unfunded": ["div-2"]}
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert [(m["DividendsPaid"], m["DividendsUnfunded"]) for m in emitted] == [([1.0], [1.0])]
