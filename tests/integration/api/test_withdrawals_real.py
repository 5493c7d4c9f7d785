"""Money out through the account function over the real adapters: the ledger in PostgreSQL,
connected as the account function's own database role (so its grants are what is tested), and
the payout queue on moto's SQS.

AWS behaviour relied on: a message sent with ``SendMessage`` is received with its body as sent
("SendMessage" and "ReceiveMessage", Amazon SQS API Reference,
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
"""

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from exchange.ledger.accounts import AccountService
from exchange.ledger.connection import open_pool
from exchange.ledger.postgres import PostgresLedger
from exchange.ledger.postgres.directory import PostgresAccountDirectory
from exchange.ledger.roles import grant_logins
from exchange.notices import NoticeKind
from exchange.payouts.queue import SqsPayoutQueue
from exchange.payouts.withdrawals import WithdrawalService
from exchange.settings import DEFAULT_ASSET_SCALES, database_role
from tests.integration.api.conftest import CATALOG, account, call_account
from tests.unit.api.conftest import Reply

ROLE = database_role("account")
IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture
def role_pool(api_pool: ConnectionPool) -> Iterator[ConnectionPool]:
    """A pool on the API tests' database, logged in as the account function's role."""
    with api_pool.connection() as conn:
        admin_url = conn.info.dsn
    with psycopg.connect(admin_url) as conn:
        grant_logins(conn, {ROLE: None})
    url = make_conninfo(admin_url, user=ROLE)
    pool = open_pool(lambda: url, min_size=0, max_size=2, name=ROLE)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def sqs() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        client = boto3.client("sqs", region_name="us-east-1")
        url = client.create_queue(QueueName="exchange-payouts")["QueueUrl"]
        yield client, url


class AccountFunction:
    """The account function's services as ``compose`` builds them, on the role's pool."""

    def __init__(
        self, pool: ConnectionPool, ledger: PostgresLedger, sqs: tuple[Any, str], delay: timedelta
    ) -> None:
        client, url = sqs
        self.ledger = PostgresLedger(
            pool,
            instruments=CATALOG,
            asset_scales=DEFAULT_ASSET_SCALES,
            fee_account_id=ledger.fee_account_id,
        )
        accounts = AccountService(ledger=self.ledger, directory=PostgresAccountDirectory(pool))
        self.withdrawals = WithdrawalService(
            accounts=accounts,
            withdrawals=self.ledger,
            queue=SqsPayoutQueue(url, lambda: client),
            destination_delay=delay,
        )
        self.services = [accounts, self.withdrawals, self.ledger]
        self.sqs, self.queue_url = client, url

    def call(self, method: str, path: str, account_id: str, **kwargs: Any) -> Reply:
        return call_account(self.services, method, path, account_id=account_id, **kwargs)

    def queued(self) -> list[str]:
        bodies: list[str] = []
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = answer.get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"])["withdrawal_id"])
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


def usd(function: AccountFunction, alice: str) -> dict[str, str]:
    (balance,) = function.call("GET", "/v1/balances", alice).body["balances"]
    return {k: balance[k] for k in ("available", "held")}


def test_destination_withdrawal_and_cancel_on_postgres_as_the_account_role(
    role_pool: ConnectionPool, ledger: PostgresLedger, sqs: tuple[Any, str]
) -> None:
    function = AccountFunction(role_pool, ledger, sqs, delay=timedelta(0))
    alice = account(ledger, usd="1000")
    # Given a bank account added by alice (no waiting period here)
    added = function.call(
        "POST",
        "/v1/withdrawal-destinations",
        alice,
        body={"asset": "USD", "kind": "BANK", "address": IBAN, "label": "savings"},
        headers={"Idempotency-Key": "bank-1"},
    )
    assert added.status == 201, added.body
    destination_id = added.body["destination_id"]
    listed = function.call("GET", "/v1/withdrawal-destinations", alice).body["destinations"]
    assert [(d["destination_id"], d["address"], d["status"]) for d in listed] == [
        (destination_id, "DE89370400440532013000", "ACTIVE")
    ]
    # When she withdraws to it (and retries)
    body = {"asset": "USD", "amount": "250.5", "destination_id": destination_id}
    first = function.call(
        "POST", "/v1/withdrawals", alice, body=body, headers={"Idempotency-Key": "wd-1"}
    )
    retry = function.call(
        "POST", "/v1/withdrawals", alice, body=body, headers={"Idempotency-Key": "wd-1"}
    )
    # Then the amount is held once, and the withdrawal is on the payout queue
    assert (first.status, first.body["status"]) == (202, "PENDING")
    assert retry.body == first.body
    withdrawal_id = first.body["withdrawal_id"]
    assert usd(function, alice) == {"available": "749.5", "held": "250.5"}
    assert set(function.queued()) == {withdrawal_id}
    read = function.call("GET", f"/v1/withdrawals/{withdrawal_id}", alice).body
    assert (read["destination_id"], read["created_at"].endswith("Z")) == (destination_id, True)
    # And a cancel before it is sent releases the hold, once
    cancelled = function.call("DELETE", f"/v1/withdrawals/{withdrawal_id}", alice)
    again = function.call("DELETE", f"/v1/withdrawals/{withdrawal_id}", alice)
    assert (cancelled.status, cancelled.body["status"]) == (200, "CANCELLED")
    assert again.body["status"] == "CANCELLED"
    assert usd(function, alice) == {"available": "1000", "held": "0"}


def test_a_sent_withdrawal_cannot_be_cancelled_and_a_removed_destination_is_refused(
    role_pool: ConnectionPool, ledger: PostgresLedger, sqs: tuple[Any, str]
) -> None:
    function = AccountFunction(role_pool, ledger, sqs, delay=timedelta(0))
    alice, bob = account(ledger, usd="1000"), account(ledger, usd="1000")
    destination_id = function.call(
        "POST",
        "/v1/withdrawal-destinations",
        alice,
        body={"asset": "USD", "kind": "ADDRESS", "address": "A" * 34, "label": "cold"},
        headers={"Idempotency-Key": "addr"},
    ).body["destination_id"]
    body = {"asset": "USD", "amount": "10", "destination_id": destination_id}
    withdrawal_id = function.call(
        "POST", "/v1/withdrawals", alice, body=body, headers={"Idempotency-Key": "w"}
    ).body["withdrawal_id"]
    ledger.claim_payout(withdrawal_id)  # the payout worker sent it
    refused = function.call("DELETE", f"/v1/withdrawals/{withdrawal_id}", alice)
    bobs = function.call("GET", f"/v1/withdrawals/{withdrawal_id}", bob)
    assert (refused.status, refused.body["code"]) == (409, "withdrawal_not_cancellable")
    assert (bobs.status, bobs.body["code"]) == (404, "unknown_withdrawal")
    assert function.call("GET", "/v1/withdrawals", alice).body["withdrawals"][0]["status"] == (
        "SENDING"
    )
    # Removing the destination stops new withdrawals to it; the one sent goes on
    removed = function.call("DELETE", f"/v1/withdrawal-destinations/{destination_id}", alice)
    after = function.call(
        "POST", "/v1/withdrawals", alice, body=body, headers={"Idempotency-Key": "w2"}
    )
    assert removed.body["status"] == "REMOVED"
    assert (after.status, after.body["code"]) == (409, "destination_not_usable")
    assert usd(function, alice) == {"available": "990", "held": "10"}


def test_a_destination_in_its_waiting_period_is_refused_and_its_notice_written(
    role_pool: ConnectionPool, ledger: PostgresLedger, sqs: tuple[Any, str]
) -> None:
    function = AccountFunction(role_pool, ledger, sqs, delay=timedelta(days=1))
    alice = account(ledger, usd="1000")
    added = function.call(
        "POST",
        "/v1/withdrawal-destinations",
        alice,
        body={"asset": "USD", "kind": "BANK", "address": IBAN, "label": "new"},
        headers={"Idempotency-Key": "k"},
    ).body
    refused = function.call(
        "POST",
        "/v1/withdrawals",
        alice,
        body={"asset": "USD", "amount": "1", "destination_id": added["destination_id"]},
        headers={"Idempotency-Key": "k"},
    )
    assert added["status"] == "PENDING"
    assert added["usable_at"] > added["created_at"]
    assert (refused.status, refused.body["code"]) == (409, "destination_not_usable")
    assert usd(function, alice) == {"available": "1000", "held": "0"}
    assert function.queued() == []
    # The user is told at once (a SECURITY notice in the ledger's outbox)
    notices = [n for n in ledger.unpublished_notices(limit=10_000) if n.account_id == alice]
    assert [(n.kind, n.event) for n in notices if n.event == "destination.added"] == [
        ("SECURITY", "destination.added")
    ]


def test_notification_preferences_on_postgres(
    role_pool: ConnectionPool, ledger: PostgresLedger, sqs: tuple[Any, str]
) -> None:
    function = AccountFunction(role_pool, ledger, sqs, delay=timedelta(0))
    alice = account(ledger)
    path = "/v1/account/notifications"
    defaults = function.call("GET", path, alice).body["email"]
    put = function.call("PUT", path, alice, body={"email": {"FILL": True, "DEPOSIT": False}})
    security_off = function.call("PUT", path, alice, body={"email": {"SECURITY": False}})
    assert defaults == {"FILL": False, "DEPOSIT": True, "WITHDRAWAL": True, "SECURITY": True}
    assert put.body["email"] == {"FILL": True, "DEPOSIT": False, "WITHDRAWAL": True,
                                 "SECURITY": True}  # fmt: skip
    assert (security_off.status, security_off.body["code"]) == (422, "security_notices_required")
    assert function.call("GET", path, alice).body == put.body
    assert ledger.notification_preferences(alice).wants(NoticeKind.FILL) is True
