"""Money out through the account function's handler, over the in-memory ledger and payout
queue: withdrawal destinations and their waiting period, withdrawals sent to the payout queue,
their listing and cancel, and the email notification preferences."""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from exchange.domain import InstrumentCatalog
from exchange.ledger.accounts import AccountService
from exchange.ledger.model import KycStatus
from exchange.payouts.queue import InMemoryPayoutQueue
from exchange.payouts.withdrawals import WithdrawalService
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from exchange.testing.ledger import InMemoryLedger
from lambdas.account.handler import handler
from tests.unit.api.conftest import ALICE, BOB, Reply

DELAY = timedelta(days=1)
IBAN = "GB82 WEST 1234 5698 7654 32"
USD_BANK = {"asset": "USD", "kind": "BANK", "address": IBAN, "label": "my bank"}


@dataclass
class Clock:
    now: datetime = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Money:
    """The account function over fakes, with a clock the test moves."""

    clock: Clock = field(default_factory=Clock)
    queue: InMemoryPayoutQueue = field(default_factory=InMemoryPayoutQueue)

    def __post_init__(self) -> None:
        self.ledger = InMemoryLedger(InstrumentCatalog.demo(), clock=self.clock)
        for account in (ALICE, BOB):
            self.ledger.open_account(account, kyc_status=KycStatus.VERIFIED)
            self.ledger.fund(account, "USD", Decimal("1000"))
        accounts = AccountService(ledger=self.ledger, directory=self.ledger)
        self.pushed: list[str] = []  # accounts whose balances were pushed
        withdrawals = WithdrawalService(
            accounts=accounts,
            withdrawals=self.ledger,
            queue=self.queue,
            destination_delay=DELAY,
            clock=self.clock,
            pushed=self.pushed.extend,
        )
        self.services: list[object] = [accounts, withdrawals, self.ledger]

    def call(self, method: str, path: str, *, account: str = ALICE, **kwargs: Any) -> Reply:
        event = rest_event(method, path, account_id=account, **kwargs)
        return Reply.of(handler(event, LambdaContextStub(), services=self.services))

    def add(self, body: dict[str, str] = USD_BANK, key: str = "dst-key", **kwargs: Any) -> Reply:
        return self.call(
            "POST",
            "/v1/withdrawal-destinations",
            body=body,
            headers={"Idempotency-Key": key},
            **kwargs,
        )

    def withdraw(self, destination_id: str, amount: str = "250.5", key: str = "wd-key") -> Reply:
        body = {"asset": "USD", "amount": amount, "destination_id": destination_id}
        return self.call("POST", "/v1/withdrawals", body=body, headers={"Idempotency-Key": key})

    def usable(self) -> str:
        """A destination past its waiting period."""
        destination_id: str = self.add().body["destination_id"]
        self.clock.now += DELAY
        return destination_id

    def usd(self, account: str = ALICE) -> tuple[Decimal, Decimal]:
        return self.ledger.available[(account, "USD")], self.ledger.held[(account, "USD")]


@pytest.fixture
def money() -> Money:
    return Money()


# -- destinations -------------------------------------------------------------------------------
def test_a_new_destination_waits_out_its_delay_before_a_withdrawal_may_use_it(
    money: Money,
) -> None:
    # Given a bank account just added
    added = money.add()
    assert added.status == 201, added.body
    destination = added.body
    assert destination["status"] == "PENDING"
    assert destination["address"] == "GB82WEST12345698765432"  # stored without blanks
    assert destination["created_at"] == "2026-12-06T10:00:00.000Z"
    assert destination["usable_at"] == "2026-12-07T10:00:00.000Z"
    # When a withdrawal names it a second before usable_at
    money.clock.now += DELAY - timedelta(seconds=1)
    early = money.withdraw(destination["destination_id"])
    # Then it is refused, nothing is held and nothing is queued
    assert (early.status, early.body["code"]) == (409, "destination_not_usable")
    assert early.is_problem
    assert money.usd() == (Decimal("1000"), Decimal("0"))
    assert money.queue.sent == []
    # And once usable_at has come, the same request is held and queued
    money.clock.now += timedelta(seconds=1)
    listed = money.call("GET", "/v1/withdrawal-destinations").body["destinations"]
    assert [d["status"] for d in listed] == ["ACTIVE"]
    accepted = money.withdraw(destination["destination_id"])
    assert (accepted.status, accepted.body["status"]) == (202, "PENDING")
    assert money.usd() == (Decimal("749.5"), Decimal("250.5"))
    assert money.queue.sent == [accepted.body["withdrawal_id"]]


def test_adding_is_idempotent_per_key_and_a_key_reused_for_another_address_conflicts(
    money: Money,
) -> None:
    first = money.add()
    retry = money.add(body={**USD_BANK, "address": "gb82west12345698765432"})  # same, normalized
    other = money.add(body={**USD_BANK, "address": "DE89 3704 0044 0532 0130 00"})
    mine = money.call("GET", "/v1/withdrawal-destinations").body["destinations"]
    assert retry.body == first.body
    assert (other.status, other.body["code"]) == (409, "destination_conflict")
    assert [d["destination_id"] for d in mine] == [first.body["destination_id"]]
    # Another account with the same key gets a destination of its own
    bobs = money.add(account=BOB)
    assert bobs.body["destination_id"] != first.body["destination_id"]


@pytest.mark.parametrize(
    ("body", "headers", "code"),
    [
        ({**USD_BANK, "address": "GB00 WEST 1234 5698 7654 32"}, None, "invalid_destination"),
        ({**USD_BANK, "kind": "ADDRESS", "address": "short"}, None, "invalid_destination"),
        ({**USD_BANK, "label": "my\u202ebank"}, None, "invalid_destination"),
        ({**USD_BANK, "kind": "SWIFT"}, None, "validation_error"),
        ({**USD_BANK, "memo": "x"}, None, "validation_error"),
        ({**USD_BANK, "asset": "XYZ"}, None, "unknown_asset"),
        (USD_BANK, {}, "validation_error"),  # no Idempotency-Key
    ],
)
def test_bad_destinations_are_400s_and_nothing_is_added(
    money: Money, body: dict[str, str], headers: dict[str, str] | None, code: str
) -> None:
    reply = money.call(
        "POST",
        "/v1/withdrawal-destinations",
        body=body,
        headers={"Idempotency-Key": "k"} if headers is None else headers,
    )
    assert (reply.status, reply.body["code"]) == (400, code)
    assert money.ledger.destinations(ALICE) == []


def test_a_removed_destination_is_unlisted_and_refused(money: Money) -> None:
    destination_id = money.usable()
    path = f"/v1/withdrawal-destinations/{destination_id}"
    removed = money.call("DELETE", path)
    again = money.call("DELETE", path)
    bobs = money.call("DELETE", path, account=BOB)
    assert (removed.status, removed.body["status"]) == (200, "REMOVED")
    assert again.body == removed.body
    assert (bobs.status, bobs.body["code"]) == (404, "unknown_destination")
    assert money.call("GET", "/v1/withdrawal-destinations").body == {"destinations": []}
    refused = money.withdraw(destination_id)
    assert (refused.status, refused.body["code"]) == (409, "destination_not_usable")


def test_another_accounts_or_another_assets_destination_is_not_usable(money: Money) -> None:
    alices = money.usable()
    bob = money.call(
        "POST",
        "/v1/withdrawals",
        account=BOB,
        body={"asset": "USD", "amount": "1", "destination_id": alices},
        headers={"Idempotency-Key": "k"},
    )
    btc = money.call(
        "POST",
        "/v1/withdrawals",
        body={"asset": "BTC", "amount": "0.1", "destination_id": alices},
        headers={"Idempotency-Key": "k"},
    )
    assert (bob.status, bob.body["code"]) == (409, "destination_not_usable")
    assert (btc.status, btc.body["code"]) == (409, "destination_not_usable")
    assert money.usd(BOB) == (Decimal("1000"), Decimal("0"))


# -- withdrawals --------------------------------------------------------------------------------
def test_a_withdrawal_is_held_once_per_key_and_conflicts_on_other_terms(money: Money) -> None:
    destination_id = money.usable()
    first = money.withdraw(destination_id)
    retry = money.withdraw(destination_id)
    other = money.withdraw(destination_id, amount="300")
    no_key = money.call(
        "POST", "/v1/withdrawals", body={"asset": "USD", "amount": "1", "destination_id": "d"}
    )
    assert first.body == retry.body
    assert first.body == {
        "withdrawal_id": first.body["withdrawal_id"],
        "asset": "USD",
        "amount": "250.5",
        "status": "PENDING",
        "destination_id": destination_id,
        "attempts": 0,
        "failure_reason": None,
        "created_at": "2026-12-07T10:00:00.000Z",
        "updated_at": "2026-12-07T10:00:00.000Z",
    }
    assert (other.status, other.body["code"]) == (409, "invalid_transition")
    assert (no_key.status, no_key.body["errors"][0]["field"]) == (400, "header.idempotency-key")
    assert money.usd() == (Decimal("749.5"), Decimal("250.5"))
    # A retry of a PENDING one queues it again: harmless, the worker's claim sends it once
    assert money.queue.sent == [first.body["withdrawal_id"]] * 2


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"asset": "USD", "amount": "0.000000001"}, "invalid_amount"),
        ({"asset": "USD", "amount": 5}, "validation_error"),
        ({"asset": "USD", "amount": "99999999"}, "insufficient_funds"),
        ({"asset": "USD", "amount": "1", "destination_id": None}, "validation_error"),
        ({"asset": "USD", "amount": "1", "destination_id": "a/b"}, "validation_error"),
    ],
)
def test_bad_withdrawals_are_4xx_and_hold_nothing(
    money: Money, body: dict[str, object], code: str
) -> None:
    body = {"destination_id": money.usable(), **body}
    reply = money.call("POST", "/v1/withdrawals", body=body, headers={"Idempotency-Key": "k"})
    assert 400 <= reply.status < 500
    assert reply.body["code"] == code
    assert money.usd() == (Decimal("1000"), Decimal("0"))
    assert money.queue.sent == []


def test_a_payout_queue_failure_is_counted_not_the_users_error(
    money: Money, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a payout queue that refuses every message
    destination_id = money.usable()
    money.queue.fail = True
    # When the user withdraws
    reply = money.withdraw(destination_id)
    # Then the withdrawal is accepted and held (the sweeper sends it later), and it is counted
    assert (reply.status, reply.body["status"]) == (202, "PENDING")
    assert money.usd() == (Decimal("749.5"), Decimal("250.5"))
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "{" in line]
    assert [m["PayoutsNotQueued"] for m in emitted if "PayoutsNotQueued" in m] == [[1.0]]
    assert money.queue.sent == []


def test_withdrawals_are_listed_newest_first_and_read_only_by_their_owner(money: Money) -> None:
    destination_id = money.usable()
    older = money.withdraw(destination_id, amount="1", key="a").body["withdrawal_id"]
    money.clock.now += timedelta(seconds=5)
    newer = money.withdraw(destination_id, amount="2", key="b").body["withdrawal_id"]
    listed = money.call("GET", "/v1/withdrawals").body["withdrawals"]
    limited = money.call("GET", "/v1/withdrawals", query={"limit": "1"}).body["withdrawals"]
    one = money.call("GET", f"/v1/withdrawals/{older}")
    bobs = money.call("GET", f"/v1/withdrawals/{older}", account=BOB)
    assert [w["withdrawal_id"] for w in listed] == [newer, older]
    assert [w["withdrawal_id"] for w in limited] == [newer]
    assert (one.status, one.body["amount"]) == (200, "1")
    assert (bobs.status, bobs.body["code"]) == (404, "unknown_withdrawal")
    assert money.call("GET", "/v1/withdrawals", account=BOB).body == {"withdrawals": []}
    too_many = money.call("GET", "/v1/withdrawals", query={"limit": "101"})
    assert too_many.status == 400


def test_a_pending_withdrawal_is_cancelled_and_its_hold_released_once(money: Money) -> None:
    withdrawal_id = money.withdraw(money.usable()).body["withdrawal_id"]
    path = f"/v1/withdrawals/{withdrawal_id}"
    bobs = money.call("DELETE", path, account=BOB)
    cancelled = money.call("DELETE", path)
    again = money.call("DELETE", path)
    assert (bobs.status, bobs.body["code"]) == (404, "unknown_withdrawal")
    assert (cancelled.status, cancelled.body["status"]) == (200, "CANCELLED")
    assert again.body == cancelled.body
    assert money.usd() == (Decimal("1000"), Decimal("0"))
    assert ALICE in money.pushed  # the hold went back: her balances channel hears it
    # A late retry of the request returns it CANCELLED and queues nothing more
    sent = list(money.queue.sent)
    destination_id = money.ledger.withdrawal(ALICE, withdrawal_id).destination_id
    assert destination_id is not None
    assert money.withdraw(destination_id).body["status"] == "CANCELLED"
    assert money.queue.sent == sent


def test_a_withdrawal_already_sent_cannot_be_cancelled(money: Money) -> None:
    withdrawal_id = money.withdraw(money.usable()).body["withdrawal_id"]
    money.ledger.claim_payout(withdrawal_id)  # the payout worker sent it
    refused = money.call("DELETE", f"/v1/withdrawals/{withdrawal_id}")
    assert (refused.status, refused.body["code"]) == (409, "withdrawal_not_cancellable")
    assert money.usd() == (Decimal("749.5"), Decimal("250.5"))
    assert money.call("GET", f"/v1/withdrawals/{withdrawal_id}").body["status"] == "SENDING"


# -- notification preferences -------------------------------------------------------------------
def test_preferences_start_at_the_defaults_and_a_put_changes_only_the_kinds_named(
    money: Money,
) -> None:
    defaults = money.call("GET", "/v1/account/notifications")
    put = money.call("PUT", "/v1/account/notifications", body={"email": {"FILL": True}})
    again = money.call("PUT", "/v1/account/notifications", body={"email": {"DEPOSIT": False}})
    assert defaults.body == {
        "email": {"FILL": False, "DEPOSIT": True, "WITHDRAWAL": True, "SECURITY": True}
    }
    assert put.body["email"] == {**defaults.body["email"], "FILL": True}
    assert again.body["email"] == {"FILL": True, "DEPOSIT": False, "WITHDRAWAL": True,
                                   "SECURITY": True}  # fmt: skip
    assert money.call("GET", "/v1/account/notifications").body == again.body
    assert money.call("GET", "/v1/account/notifications", account=BOB).body == defaults.body


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"email": {"SECURITY": False, "FILL": True}}, 422, "security_notices_required"),
        ({"email": {"MARKETING": True}}, 400, "validation_error"),
        ({"email": {"FILL": "yes please"}}, 400, "validation_error"),
        ({"sms": {}}, 400, "validation_error"),
    ],
)
def test_refused_preferences_change_nothing(
    money: Money, body: dict[str, Any], status: int, code: str
) -> None:
    before = money.call("GET", "/v1/account/notifications").body
    reply = money.call("PUT", "/v1/account/notifications", body=body)
    assert (reply.status, reply.body["code"]) == (status, code)
    assert money.call("GET", "/v1/account/notifications").body == before


def test_preferences_of_an_account_the_ledger_has_not_opened_are_a_422(money: Money) -> None:
    reply = money.call("GET", "/v1/account/notifications", account="nobody")
    assert (reply.status, reply.body["code"]) == (422, "unknown_account")
