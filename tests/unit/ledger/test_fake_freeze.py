"""The in-memory ledger's freezes, as the PostgreSQL ledger's (tests/integration/ledger/
test_freeze.py): what other sections' unit tests rely on."""

from datetime import timedelta
from decimal import Decimal

import pytest

from exchange.domain import Side
from exchange.ledger import AccountFrozen, KycStatus, UnknownAccount
from exchange.ledger.model import AccountKind
from exchange.ledger.payouts_port import DestinationKind, NewDestination
from exchange.testing.ledger import InMemoryLedger
from tests.unit.ledger.helpers import CATALOG, amend, order


@pytest.fixture
def fake() -> InMemoryLedger:
    ledger = InMemoryLedger(CATALOG)
    ledger.open_account("alice", kyc_status=KycStatus.VERIFIED)
    ledger.open_account("fees", kind=AccountKind.FEE)
    ledger.fund("alice", "USD", Decimal("1000"))
    ledger.add_destination(
        NewDestination("dst-1", "alice", "USD", DestinationKind.BANK, "GB82WEST1234", "bank"),
        delay=timedelta(0),
    )
    return ledger


def test_a_frozen_account_cannot_order_amend_up_or_withdraw_and_nothing_is_held(
    fake: InMemoryLedger,
) -> None:
    resting = order("alice", Side.BUY, qty=2000, price=100000)
    held = fake.reserve(resting).held
    assert fake.set_frozen("alice", True, actor="op", reason="review") is True
    with pytest.raises(AccountFrozen):
        fake.reserve(order("alice", Side.BUY, qty=10, price=100000))
    with pytest.raises(AccountFrozen):
        fake.reserve_amend(amend(resting, "cmd-up", qty=3000))
    with pytest.raises(AccountFrozen):
        fake.request_withdrawal("wd-1", "alice", "USD", Decimal("1"), destination_id="dst-1")
    assert fake.reserve_amend(amend(resting, "cmd-down", qty=1000)) == 0
    assert fake.reserve(resting).held == held  # a retry of an order placed before the freeze
    assert (fake.available[("alice", "USD")], fake.held[("alice", "USD")]) == (1000 - held, held)
    assert fake.release(resting.order_id) == held  # a cancel still gives the hold back


def test_unfreezing_lets_the_account_order_again_and_every_request_is_kept(
    fake: InMemoryLedger,
) -> None:
    assert fake.set_frozen("alice", True, actor="op", reason="r1") is True
    assert fake.set_frozen("alice", True, actor="op", reason="r2") is False
    assert fake.set_frozen("alice", False, actor="op", reason="r3") is True
    assert fake.is_frozen("alice") is False
    assert fake.reserve(order("alice", Side.BUY, qty=10, price=100000)).held > 0
    assert [(e.frozen, e.changed, e.reason) for e in fake.freeze_events] == [
        (True, True, "r1"),
        (True, False, "r2"),
        (False, True, "r3"),
    ]


@pytest.mark.parametrize("account_id", ["nobody", "fees"])
def test_only_a_user_account_can_be_frozen(fake: InMemoryLedger, account_id: str) -> None:
    with pytest.raises(UnknownAccount):
        fake.set_frozen(account_id, True, actor="op", reason="r")
    with pytest.raises(UnknownAccount):
        fake.is_frozen(account_id)
