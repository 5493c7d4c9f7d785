"""The in-memory ledger's withdrawals, destinations and notices follow the PostgreSQL ledger's
rules (tests/integration/ledger/test_withdrawals.py, test_outbox.py): what the account API's,
the payout worker's and the notices' unit tests rely on."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from exchange.ledger import KycStatus
from exchange.ledger.errors import (
    AccountFrozen,
    DestinationConflict,
    DestinationNotUsable,
    InvalidTransition,
    InvalidWebhook,
    ReplayedWebhook,
    UnknownWithdrawal,
    WithdrawalNotCancellable,
)
from exchange.ledger.model import DepositNotice, WithdrawalStatus
from exchange.ledger.payouts_port import DestinationKind, NewDestination, PayoutNotice
from exchange.notices import NoticeKind, NotificationPreferences
from exchange.testing.ledger import InMemoryLedger
from tests.unit.ledger.helpers import CATALOG

T0 = datetime(2030, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> InMemoryLedger:
    ledger = InMemoryLedger(CATALOG, clock=clock)
    for account in ("alice", "bob"):
        ledger.open_account(account, kyc_status=KycStatus.VERIFIED)
        ledger.fund(account, "USD", Decimal("100"))
    return ledger


def add(fake: InMemoryLedger, destination_id: str, account: str = "alice", asset: str = "USD",
        delay: timedelta = DAY) -> None:  # fmt: skip
    new = NewDestination(destination_id, account, asset, DestinationKind.BANK, "GB82WEST12", "b")
    fake.add_destination(new, delay=delay)


def usd(fake: InMemoryLedger, account: str = "alice") -> tuple[Decimal, Decimal]:
    return fake.available[(account, "USD")], fake.held[(account, "USD")]


def outcome(status: str, *, amount: str = "40", event_id: str = "evt-1") -> PayoutNotice:
    return PayoutNotice(
        event_id, "wd-1", "COMPLETED" if status == "COMPLETED" else "FAILED", "USD",
        Decimal(amount), "po-1", 1, None if status == "COMPLETED" else "closed",
    )  # fmt: skip


def test_a_destination_is_usable_only_after_its_delay(fake: InMemoryLedger, clock: Clock) -> None:
    add(fake, "dst-1")
    with pytest.raises(DestinationNotUsable, match="PENDING"):
        fake.request_withdrawal("wd-1", "alice", "USD", Decimal(40), destination_id="dst-1")
    clock.now += DAY
    fake.request_withdrawal("wd-1", "alice", "USD", Decimal(40), destination_id="dst-1")
    assert usd(fake) == (Decimal(60), Decimal(40))


@pytest.mark.parametrize("destination_id", ["dst-bob", "dst-btc", "dst-gone", "dst-none"])
def test_a_destination_not_usable_holds_nothing(
    destination_id: str, fake: InMemoryLedger, clock: Clock
) -> None:
    add(fake, "dst-bob", account="bob", delay=timedelta(0))
    add(fake, "dst-btc", asset="BTC", delay=timedelta(0))
    add(fake, "dst-gone", delay=timedelta(0))
    fake.remove_destination("alice", "dst-gone")
    with pytest.raises(DestinationNotUsable):
        fake.request_withdrawal("wd-1", "alice", "USD", Decimal(1), destination_id=destination_id)
    assert usd(fake) == (Decimal(100), Decimal(0))


def test_the_life_of_a_withdrawal_and_its_notices(fake: InMemoryLedger, clock: Clock) -> None:
    add(fake, "dst-1", delay=timedelta(0))
    fake.request_withdrawal("wd-1", "alice", "USD", Decimal(40), destination_id="dst-1")
    with pytest.raises(InvalidTransition, match="PENDING"):
        fake.record_payout_outcome(outcome("COMPLETED"))
    order = fake.claim_payout("wd-1")
    assert order is not None
    assert (order.attempt, order.destination.destination_id) == (1, "dst-1")
    with pytest.raises(WithdrawalNotCancellable):
        fake.cancel_withdrawal("alice", "wd-1")
    with pytest.raises(InvalidWebhook):
        fake.record_payout_outcome(outcome("COMPLETED", amount="4", event_id="evt-0"))
    done = fake.record_payout_outcome(outcome("COMPLETED"))
    assert (done.status, done.provider_reference) == (WithdrawalStatus.COMPLETED, "po-1")
    with pytest.raises(ReplayedWebhook):
        fake.record_payout_outcome(outcome("COMPLETED"))
    assert usd(fake) == (Decimal(60), Decimal(0))
    assert fake.claim_payout("wd-1") is None
    assert [n.event for n in fake.unpublished_notices(limit=10)] == [
        "destination.added",
        "withdrawal.requested",
        "withdrawal.completed",
    ]
    assert fake.outbox[-1].data == {
        "asset": "USD",
        "amount": "40.00000000",
        "withdrawal_id": "wd-1",
        "destination_id": "dst-1",
    }


def test_cancels_fails_freezes_and_stuck_payouts(fake: InMemoryLedger, clock: Clock) -> None:
    add(fake, "dst-1", delay=timedelta(0))
    for n in (1, 2, 3):
        fake.request_withdrawal(f"wd-{n}", "alice", "USD", Decimal(10), destination_id="dst-1")
    assert fake.cancel_withdrawal("alice", "wd-1").status is WithdrawalStatus.CANCELLED
    assert fake.cancel_withdrawal("alice", "wd-1").status is WithdrawalStatus.CANCELLED
    with pytest.raises(UnknownWithdrawal):
        fake.cancel_withdrawal("bob", "wd-2")
    assert fake.fail_withdrawal("wd-2", reason="given up").failure_reason == "given up"
    assert usd(fake) == (Decimal(90), Decimal(10))
    fake.set_frozen("alice", True, actor="op", reason="review")
    with pytest.raises(AccountFrozen):
        fake.claim_payout("wd-3")
    clock.now += DAY
    assert [w.withdrawal_id for w in fake.stuck_payouts(timedelta(hours=1), limit=10)] == ["wd-3"]
    assert [w.withdrawal_id for w in fake.withdrawals("alice")] == ["wd-3", "wd-2", "wd-1"]


def test_destinations_and_preferences(fake: InMemoryLedger) -> None:
    add(fake, "dst-1")
    add(fake, "dst-1")  # a retry
    with pytest.raises(DestinationConflict):
        add(fake, "dst-1", asset="BTC")
    assert [d.destination_id for d in fake.destinations("alice")] == ["dst-1"]
    assert fake.notification_preferences("alice") == NotificationPreferences.defaults("alice")
    stored = fake.set_notification_preferences(
        NotificationPreferences("alice", {NoticeKind.FILL: True})
    )
    assert fake.notification_preferences("alice") == stored
    assert stored.email[NoticeKind.FILL] is True
    with pytest.raises(ValueError, match="SECURITY"):
        fake.set_notification_preferences(
            NotificationPreferences("alice", {NoticeKind.SECURITY: False})
        )
    fake.credit_deposit(DepositNotice("evt-9", "dep-9", "alice", "USD", Decimal(1), "CREDITED", 0))
    assert fake.outbox[-1].event == "deposit.credited"
