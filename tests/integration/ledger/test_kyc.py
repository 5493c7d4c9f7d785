"""KYC on the real PostgreSQL: the provider's signed webhook, the operator's override and their
races, each decision recorded with who made it; and the operator's command."""

import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from exchange.ledger import (
    InvalidSignature,
    InvalidWebhook,
    KycStatus,
    StaleWebhook,
    UnknownAccount,
)
from exchange.ledger.kyc import main as kyc_main
from exchange.ledger.postgres import PostgresLedger
from exchange.ledger.postgres.kyc import PostgresKycRegistry
from exchange.ledger.verification import (
    KycDecision,
    KycResult,
    KycSource,
    KycWebhookReceiver,
)
from exchange.ledger.webhooks import sign
from tests.unit.ledger.helpers import new_id

SECRET = b"kyc-secret"
NOW = 1_800_000_000


def pending(ledger: PostgresLedger) -> str:
    account_id = new_id("sub")
    ledger.open_account(account_id)
    return account_id


def webhook(account_id: str, kind: str = "kyc.verified", **extra: Any) -> bytes:
    payload = {"event_id": new_id("kyc"), "type": kind, "account_id": account_id, **extra}
    return json.dumps(payload).encode()


def events(pool: ConnectionPool, account_id: str) -> list[tuple[object, ...]]:
    with pool.connection() as conn:
        return conn.execute(
            "SELECT source, actor, status_before, status_after, applied, reason "
            "FROM ledger.kyc_events WHERE account_id = %s ORDER BY event_no",
            (account_id,),
        ).fetchall()


def status(pool: ConnectionPool, account_id: str) -> tuple[object, ...] | None:
    with pool.connection() as conn:
        return conn.execute(
            "SELECT kyc_status, kyc_decided_by FROM ledger.accounts WHERE account_id = %s",
            (account_id,),
        ).fetchone()


@pytest.fixture
def receiver(pool: ConnectionPool) -> KycWebhookReceiver:
    return KycWebhookReceiver(registry=PostgresKycRegistry(pool), secrets=lambda: [SECRET])


def operator(account_id: str, to: KycStatus, at: int, reason: str = "review") -> KycDecision:
    return KycDecision(account_id, to, KycSource.OPERATOR, "ops-alice", at, reason)


def test_a_verified_webhook_verifies_once_and_is_recorded(
    ledger: PostgresLedger, pool: ConnectionPool, receiver: KycWebhookReceiver
) -> None:
    account_id = pending(ledger)
    body = webhook(account_id, reason="documents checked")
    header = sign(body, secret=SECRET, timestamp=NOW)
    first = receiver.receive(body, header, now=NOW + 5)
    replay = receiver.receive(body, header, now=NOW + 9)
    assert (first.result, first.kyc_status) == (KycResult.APPLIED, KycStatus.VERIFIED)
    assert (replay.result, replay.kyc_status) == (KycResult.DUPLICATE, KycStatus.VERIFIED)
    assert status(pool, account_id) == ("VERIFIED", "PROVIDER")
    assert events(pool, account_id) == [
        ("PROVIDER", "kyc-provider", "PENDING", "VERIFIED", True, "documents checked")
    ]


@pytest.mark.parametrize(
    "case",
    [
        (b"wrong", NOW, None, InvalidSignature),
        (SECRET, NOW - 3600, None, StaleWebhook),
        (SECRET, NOW, b'{"event_id": "e", "type": "kyc.maybe", "account_id": "a"}', InvalidWebhook),
        (SECRET, NOW, b"[1, 2]", InvalidWebhook),
    ],
)
def test_a_refused_webhook_writes_nothing(
    case: tuple[bytes, int, bytes | None, type[Exception]],
    ledger: PostgresLedger,
    pool: ConnectionPool,
    receiver: KycWebhookReceiver,
) -> None:
    sign_with, signed_at, body, error = case
    account_id = pending(ledger)
    raw = body or webhook(account_id)
    with pytest.raises(error):
        receiver.receive(raw, sign(raw, secret=sign_with, timestamp=signed_at), now=NOW)
    assert status(pool, account_id) == ("PENDING", None)
    assert events(pool, account_id) == []


def test_a_verdict_for_an_unknown_account_writes_nothing(
    pool: ConnectionPool, receiver: KycWebhookReceiver
) -> None:
    body = webhook("nobody-here")
    with pytest.raises(UnknownAccount):
        receiver.receive(body, sign(body, secret=SECRET, timestamp=NOW), now=NOW)
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM ledger.kyc_events WHERE account_id = 'nobody-here'"
        ).fetchone()
    assert row == (0,)


def test_an_operators_suspension_stands_against_a_later_verdict(
    ledger: PostgresLedger, pool: ConnectionPool, receiver: KycWebhookReceiver
) -> None:
    account_id = pending(ledger)
    registry = PostgresKycRegistry(pool)
    registry.decide(operator(account_id, KycStatus.SUSPENDED, NOW, "fraud review"))
    body = webhook(account_id)
    outcome = receiver.receive(body, sign(body, secret=SECRET, timestamp=NOW + 60), now=NOW + 60)
    assert (outcome.result, outcome.kyc_status) == (KycResult.SUPERSEDED, KycStatus.SUSPENDED)
    assert events(pool, account_id) == [
        ("OPERATOR", "ops-alice", "PENDING", "SUSPENDED", True, "fraud review"),
        ("PROVIDER", "kyc-provider", "SUSPENDED", "VERIFIED", False, None),
    ]


def test_an_operators_pending_hands_the_account_back_to_later_verdicts_only(
    ledger: PostgresLedger, pool: ConnectionPool, receiver: KycWebhookReceiver
) -> None:
    account_id = pending(ledger)
    PostgresKycRegistry(pool).decide(operator(account_id, KycStatus.PENDING, NOW, "resubmit"))
    older, newer = webhook(account_id), webhook(account_id, "kyc.rejected")
    stale = receiver.receive(older, sign(older, secret=SECRET, timestamp=NOW - 10), now=NOW)
    fresh = receiver.receive(newer, sign(newer, secret=SECRET, timestamp=NOW + 10), now=NOW)
    assert stale.result is KycResult.SUPERSEDED
    assert (fresh.result, fresh.kyc_status) == (KycResult.APPLIED, KycStatus.REJECTED)


def test_webhooks_out_of_order_keep_the_newest_verdict(
    ledger: PostgresLedger, receiver: KycWebhookReceiver
) -> None:
    account_id = pending(ledger)
    rejected, verified = webhook(account_id, "kyc.rejected"), webhook(account_id)
    receiver.receive(rejected, sign(rejected, secret=SECRET, timestamp=NOW + 20), now=NOW)
    late = receiver.receive(verified, sign(verified, secret=SECRET, timestamp=NOW + 10), now=NOW)
    assert (late.result, late.kyc_status) == (KycResult.SUPERSEDED, KycStatus.REJECTED)


def test_an_override_racing_a_webhook_always_stands(
    ledger: PostgresLedger, pool: ConnectionPool, receiver: KycWebhookReceiver
) -> None:
    # Given accounts each getting a provider verdict and an operator's rejection at the same time
    accounts = [pending(ledger) for _ in range(12)]
    registry = PostgresKycRegistry(pool)
    start = threading.Barrier(2 * len(accounts))

    def verdict(account_id: str) -> None:
        body = webhook(account_id)
        start.wait()
        receiver.receive(body, sign(body, secret=SECRET, timestamp=NOW + 1), now=NOW + 1)

    def override(account_id: str) -> None:
        start.wait()
        registry.decide(operator(account_id, KycStatus.REJECTED, NOW))

    with ThreadPoolExecutor(max_workers=2 * len(accounts)) as pool_:
        jobs: list[tuple[Callable[[str], None], str]] = [
            (job, account_id) for account_id in accounts for job in (verdict, override)
        ]
        for future in [pool_.submit(job, account_id) for job, account_id in jobs]:
            future.result()
    # Then whichever came first, the operator's decision is in force, and both are recorded
    for account_id in accounts:
        assert status(pool, account_id) == ("REJECTED", "OPERATOR")
        assert sorted(str(e[0]) for e in events(pool, account_id)) == ["OPERATOR", "PROVIDER"]


def test_the_operator_command_sets_and_shows_with_who_and_why(
    ledger: PostgresLedger,
    pool: ConnectionPool,
    fresh_database: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    account_id = pending(ledger)
    url = ["--account", account_id, "--url", fresh_database]
    now = time.time()
    assert (
        kyc_main(
            ["set", *url, "--status", "VERIFIED", "--reason", "manual check", "--operator", "bob"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == {
        "account_id": account_id,
        "result": "APPLIED",
        "kyc_status": "VERIFIED",
    }
    assert kyc_main(["show", *url]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["kyc_status"], shown["decided_by"]) == ("VERIFIED", "OPERATOR")
    assert abs(int(shown["decided_at"]) - now) < 60
    assert [(h["actor"], h["reason"], h["applied"]) for h in shown["history"]] == [
        ("bob", "manual check", True)
    ]


def test_the_operator_command_refuses_unknown_accounts_and_missing_reasons(
    fresh_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = ["set", "--account", "nobody", "--status", "SUSPENDED", "--reason", "x"]
    assert kyc_main([*unknown, "--url", fresh_database]) == 1
    assert "nobody" in capsys.readouterr().err
    with pytest.raises(SystemExit) as raised:
        kyc_main(["set", "--account", "a", "--status", "VERIFIED", "--url", fresh_database])
    assert raised.value.code == 2
    with pytest.raises(SystemExit):
        kyc_main(["set", "--account", "a", "--status", "MAYBE", "--reason", "x"])
    capsys.readouterr()


def test_the_operator_opens_the_account_a_failed_trigger_left_unopened(
    pool: ConnectionPool, fresh_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Cognito confirmed the user, but the trigger failed: no account. The operator opens it, as
    # the trigger would: KYC pending, with the email; a second run changes nothing.
    account = f"sub-{uuid.uuid4().hex[:12]}"
    command = ["open", "--account", account, "--email", "late@example.com"]
    assert kyc_main([*command, "--url", fresh_database]) == 0
    assert json.loads(capsys.readouterr().out) == {"account_id": account, "opened": True}
    opened = status(pool, account)
    assert opened is not None
    assert opened[0] == "PENDING"
    assert kyc_main([*command, "--url", fresh_database]) == 0
    assert json.loads(capsys.readouterr().out) == {"account_id": account, "opened": False}
