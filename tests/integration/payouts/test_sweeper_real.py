"""The stuck-payout sweeper on real PostgreSQL (as its own database role) and SQS (moto): a payout
whose webhook never came is queued again and sent with the same idempotency key; one past its
last attempt is counted as PayoutsStuck."""

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws
from psycopg_pool import ConnectionPool

from exchange.ledger.model import Balance, WithdrawalStatus
from exchange.observability import metrics
from exchange.payouts.queue import payout_queue
from exchange.payouts.sweeper import PayoutSweeper
from exchange.settings import PayoutQueueSettings, database_role
from exchange.testing.lambda_events import LambdaContextStub, scheduled_event
from lambdas.payout_sweeper.handler import handler as sweeper_handler
from tests.integration.ledger.conftest import ledger_as
from tests.integration.payouts.conftest import Rig
from tests.integration.payouts.test_payouts_end_to_end import finished, requested, usd

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

REGION = "us-east-1"


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = boto3.client("sqs", region_name=REGION)
        yield client, client.create_queue(QueueName="exchange-payouts")["QueueUrl"]


def age(pool: ConnectionPool, *withdrawal_ids: str, hours: int) -> None:
    """As if nothing had happened to them for ``hours`` (the database's clock decides)."""
    with pool.connection() as conn:
        conn.execute(
            "UPDATE ledger.withdrawals SET updated_at = now() - make_interval(hours => %s) "
            "WHERE withdrawal_id = ANY(%s)",
            (hours, list(withdrawal_ids)),
        )


def test_the_sweeper_resends_a_stuck_payout_and_counts_one_past_its_attempts(
    rig: Rig,
    pool: ConnectionPool,
    as_role: Callable[[str], ConnectionPool],
    sqs: tuple[Any, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, queue_url = sqs
    # Given a payout the provider accepted but whose webhook never arrived (nowhere to go)...
    rig.provider.webhook_url = None
    quiet = requested(rig)
    assert rig.deliver(quiet.withdrawal_id) == {"batchItemFailures": []}
    # ... and one sent five times already
    hopeless = requested(rig)
    for _ in range(5):
        rig.worker_ledger.claim_payout(hopeless.withdrawal_id)
    # ... neither touched for ten hours
    age(pool, quiet.withdrawal_id, hopeless.withdrawal_id, hours=10)
    sweeper = PayoutSweeper(
        ledger_as(as_role(database_role("payout_sweeper")), rig.admin.fee_account_id),
        payout_queue(PayoutQueueSettings(payout_queue_url=queue_url)),
        stuck_after=timedelta(hours=9),
        max_attempts=5,
    )

    # When the scheduled sweep runs
    report = sweeper_handler(
        scheduled_event("payout-sweeper"), LambdaContextStub(), sweeper=sweeper
    )

    # Then the quiet one is queued again, and the hopeless one is counted stuck (alarmed)
    assert report == {"requeued": 1, "stuck": 1, "unqueued": 0}
    emitted = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    assert [m["PayoutsStuck"] for m in emitted if "PayoutsStuck" in m] == [[1.0]]
    (message,) = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"]) == {"withdrawal_id": quiet.withdrawal_id}

    # When the worker takes the message and the provider's webhook can get through again
    metrics.clear_metrics()
    rig.provider.webhook_url = rig.endpoint.url
    assert rig.deliver(quiet.withdrawal_id) == {"batchItemFailures": []}

    # Then the provider saw the same key twice and paid once; the hold was debited once
    assert [r.idempotency_key for r in rig.provider.requests] == [quiet.withdrawal_id] * 2
    assert len(rig.provider.payouts) == 1
    done = finished(rig, quiet)
    assert (done.status, done.attempts) == (WithdrawalStatus.COMPLETED, 2)
    assert usd(rig.admin, quiet.account_id) == Balance("USD", Decimal("60"), Decimal("0"))
