"""Deposits from signed webhooks, and withdrawals, against the real PostgreSQL."""

import json
from decimal import Decimal

import pytest
from psycopg_pool import ConnectionPool

from exchange.ledger import (
    Balance,
    InsufficientFunds,
    InvalidAmount,
    InvalidSignature,
    InvalidTransition,
    KycNotAllowed,
    KycStatus,
    ReplayedWebhook,
    StaleWebhook,
    UnknownAccount,
    WithdrawalStatus,
    accept_deposit_webhook,
)
from exchange.ledger.postgres import PostgresLedger
from exchange.ledger.webhooks import sign
from tests.integration.ledger.conftest import destination
from tests.unit.ledger.helpers import new_id, verified_account

SECRET = b"whsec_test"
NOW = 1_800_000_000


def body(account_id: str, amount: str = "250.00", **overrides: str) -> bytes:
    payload = {
        "event_id": new_id("evt"),
        "type": "deposit.succeeded",
        "deposit_id": new_id("dep"),
        "account_id": account_id,
        "asset": "USD",
        "amount": amount,
        **overrides,
    }
    return json.dumps(payload).encode()


def written(pool: ConnectionPool) -> tuple[object, ...]:
    with pool.connection() as conn:
        return tuple(
            conn.execute(f"SELECT count(*) FROM ledger.{table}").fetchone()  # noqa: S608
            for table in ("webhook_events", "deposits", "journal_entries", "balances")
        )


def accept(ledger: PostgresLedger, raw: bytes, header: str | None, now: int = NOW) -> object:
    return accept_deposit_webhook(ledger, raw, header, secrets=[SECRET], now=now)


def test_signed_deposit_credits_once(ledger: PostgresLedger, pool: ConnectionPool) -> None:
    # Given a verified account and a correctly signed deposit webhook
    account = verified_account(ledger)
    raw = body(account)
    header = sign(raw, secret=SECRET, timestamp=NOW - 10)
    # When it arrives, and then the same body arrives again
    accept(ledger, raw, header)
    before_replay = written(pool)
    with pytest.raises(ReplayedWebhook, match="already processed"):
        accept(ledger, raw, header)
    # Then the account was credited once, and the replay wrote nothing
    assert ledger.balances(account) == [Balance("USD", Decimal("250"), Decimal("0"))]
    assert written(pool) == before_replay


@pytest.mark.parametrize(
    ("scenario", "error"),
    [
        ("bad_signature", InvalidSignature),
        ("tampered_body", InvalidSignature),
        ("missing_header", InvalidSignature),
        ("stale_timestamp", StaleWebhook),
        ("future_timestamp", StaleWebhook),
    ],
)
def test_rejected_webhook_writes_nothing(
    ledger: PostgresLedger, pool: ConnectionPool, scenario: str, error: type[Exception]
) -> None:
    # Given a deposit webhook that is wrong in one way
    account = verified_account(ledger)
    raw = body(account)
    header: str | None = sign(raw, secret=SECRET, timestamp=NOW)
    match scenario:
        case "bad_signature":
            header = sign(raw, secret=b"not-the-secret", timestamp=NOW)
        case "tampered_body":
            raw = raw.replace(b"250.00", b"999.00")
        case "missing_header":
            header = None
        case "stale_timestamp":
            header = sign(raw, secret=SECRET, timestamp=NOW - 301)
        case "future_timestamp":
            header = sign(raw, secret=SECRET, timestamp=NOW + 301)
    before = written(pool)
    # When it arrives, Then it is refused with its typed error and nothing is written
    with pytest.raises(error):
        accept(ledger, raw, header)
    assert written(pool) == before
    assert ledger.balances(account) == []


def test_deposit_to_an_unknown_account_writes_nothing(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    raw = body(new_id("ghost"))
    before = written(pool)
    with pytest.raises(UnknownAccount):
        accept(ledger, raw, sign(raw, secret=SECRET, timestamp=NOW))
    assert written(pool) == before


def test_deposit_finer_than_the_asset_is_refused(ledger: PostgresLedger) -> None:
    raw = body(verified_account(ledger), amount="0.000000001")
    with pytest.raises(InvalidAmount, match=r"finer than 0\.00000001"):
        accept(ledger, raw, sign(raw, secret=SECRET, timestamp=NOW))


def test_withdrawal_beyond_available_is_refused_clearly(ledger: PostgresLedger) -> None:
    # Given 100 USD
    account = verified_account(ledger, USD="100")
    # When 100.01 is requested, Then it is refused, naming amount and available
    with pytest.raises(InsufficientFunds, match=r"needs 100\.01 USD, available 100$"):
        ledger.request_withdrawal(
            new_id("wd"),
            account,
            "USD",
            Decimal("100.01"),
            destination_id=destination(ledger, account, "USD"),
        )
    assert ledger.balances(account) == [Balance("USD", Decimal("100"), Decimal("0"))]


def test_withdrawal_holds_then_completes(ledger: PostgresLedger) -> None:
    account = verified_account(ledger, USD="100")
    withdrawal_id, target = new_id("wd"), destination(ledger, account, "USD")
    pending = ledger.request_withdrawal(
        withdrawal_id, account, "USD", Decimal("40"), destination_id=target
    )
    assert pending.status is WithdrawalStatus.PENDING
    assert ledger.balances(account) == [Balance("USD", Decimal("60"), Decimal("40"))]
    # A retried request is the same withdrawal, held once
    ledger.request_withdrawal(withdrawal_id, account, "USD", Decimal("40"), destination_id=target)
    # Only a payout sent (claimed) completes
    with pytest.raises(InvalidTransition, match="PENDING"):
        ledger.complete_withdrawal(withdrawal_id)
    ledger.claim_payout(withdrawal_id)
    assert ledger.complete_withdrawal(withdrawal_id).status is WithdrawalStatus.COMPLETED
    assert ledger.complete_withdrawal(withdrawal_id).status is WithdrawalStatus.COMPLETED
    assert ledger.balances(account) == [Balance("USD", Decimal("60"), Decimal("0"))]
    with pytest.raises(InvalidTransition, match="COMPLETED"):
        ledger.fail_withdrawal(withdrawal_id)


@pytest.mark.parametrize("sent", [False, True])
def test_failed_withdrawal_gives_the_hold_back(sent: bool, ledger: PostgresLedger) -> None:
    # Given a withdrawal sent to the provider, or given up before it was
    account = verified_account(ledger, USD="100")
    withdrawal_id = new_id("wd")
    ledger.request_withdrawal(
        withdrawal_id,
        account,
        "USD",
        Decimal("40"),
        destination_id=destination(ledger, account, "USD"),
    )
    if sent:
        ledger.claim_payout(withdrawal_id)
    # When it fails, Then the hold is back, once, and the reason kept
    failed = ledger.fail_withdrawal(withdrawal_id, reason="refused: invalid account")
    assert (failed.status, failed.failure_reason) == (
        WithdrawalStatus.FAILED,
        "refused: invalid account",
    )
    assert ledger.fail_withdrawal(withdrawal_id) == failed
    assert ledger.balances(account) == [Balance("USD", Decimal("100"), Decimal("0"))]


def test_unverified_account_cannot_withdraw(ledger: PostgresLedger) -> None:
    account = verified_account(ledger, USD="100")
    ledger.set_kyc_status(account, KycStatus.SUSPENDED)
    with pytest.raises(KycNotAllowed):
        ledger.request_withdrawal(
            new_id("wd"),
            account,
            "USD",
            Decimal("1"),
            destination_id=destination(ledger, account, "USD"),
        )
