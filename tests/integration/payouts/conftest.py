"""The payouts on real services: the ledger on a fresh PostgreSQL database (the ledger tests'
fixtures), each function's ledger connected as that function's own database role, the fake
provider (``local.provider``) over real HTTP on 127.0.0.1, and the provider's webhooks delivered
over real HTTP to the deposits function's handler."""

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from exchange.ledger.postgres import PostgresLedger
from exchange.payouts.provider import HttpPayoutProvider
from exchange.payouts.webhooks import PayoutWebhookReceiver
from exchange.payouts.worker import PayoutWorker, count_retry
from exchange.settings import database_role
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from lambdas.deposits.handler import handler as deposits_handler
from lambdas.payouts.handler import Payouts
from lambdas.payouts.handler import handler as payouts_handler
from local.provider import FakePayoutProvider
from tests.integration.ledger.conftest import (  # noqa: F401 - fixtures
    as_role,
    fresh_database,
    ledger,
    ledger_as,
    pool,
    role_url,
)

API_SECRET = b"provider-api-secret"
WEBHOOK_SECRET = b"provider-webhook-secret"


class WebhookEndpoint:
    """``POST /v1/webhooks/payouts`` over real HTTP: the request made into the API Gateway event
    the deposits function receives, and its answer sent back."""

    def __init__(self, receiver: PayoutWebhookReceiver) -> None:
        self.receiver = receiver
        self.answers: list[tuple[int, dict[str, Any]]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = dict(self.headers.items())
                status, answer = endpoint.deliver(self.path, body, headers)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1/webhooks/payouts"

    def deliver(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        event = rest_event("POST", path, body=body.decode(), headers=headers)
        response = deposits_handler(event, LambdaContextStub(), payouts=self.receiver)
        answer = (int(response["statusCode"]), json.loads(response["body"]))
        self.answers.append(answer)
        return answer

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Rig:
    admin: PostgresLedger  # sets the scene: accounts, funds, destinations, requests
    worker_ledger: PostgresLedger  # as exchange_payouts
    provider: FakePayoutProvider
    endpoint: WebhookEndpoint
    http: HttpPayoutProvider

    def payouts(self) -> Payouts:
        return Payouts(PayoutWorker(self.worker_ledger, self.http))

    def deliver(self, *withdrawal_ids: str) -> dict[str, Any]:
        """The payout queue's batch of these withdrawals, through the payouts function."""
        event = {
            "Records": [
                {
                    "messageId": f"m-{uuid.uuid4().hex[:8]}",
                    "receiptHandle": "handle",
                    "body": json.dumps({"withdrawal_id": withdrawal_id}),
                    "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:exchange-payouts",
                    "awsRegion": "us-east-1",
                }
                for withdrawal_id in withdrawal_ids
            ]
        }
        answer: dict[str, Any] = payouts_handler(event, LambdaContextStub(), payouts=self.payouts())
        return answer


@pytest.fixture
def rig(
    ledger: PostgresLedger,  # noqa: F811 - the fixture
    as_role: Callable[[str], ConnectionPool],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Rig]:
    # The deposits handler reads its settings (for the body limit) before serving.
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", "postgresql://unused@127.0.0.1:1/unused")
    deposits_ledger = ledger_as(as_role(database_role("deposits")), ledger.fee_account_id)
    endpoint = WebhookEndpoint(
        PayoutWebhookReceiver(ledger=deposits_ledger, secrets=lambda: [WEBHOOK_SECRET])
    )
    provider = FakePayoutProvider(
        api_secret=API_SECRET,
        webhook_secret=WEBHOOK_SECRET,
        webhook_url=endpoint.url,
        delay_s=0.05,
        retry_s=0.1,
    )
    provider.start()
    http = HttpPayoutProvider(
        provider.url,
        lambda: API_SECRET,
        timeout=0.5,
        retries=3,
        backoff_base=0.05,
        on_retry=count_retry,
    )
    try:
        yield Rig(
            admin=ledger,
            worker_ledger=ledger_as(as_role(database_role("payouts")), ledger.fee_account_id),
            provider=provider,
            endpoint=endpoint,
            http=http,
        )
    finally:
        provider.stop()
        endpoint.close()
