"""The local fake provider keeps the provider API's promises over real HTTP: our signature and
the idempotency key are checked, a key pays once, and the webhook is retried until acknowledged."""

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest

from exchange.ledger.webhooks import sign, verify_signature
from local.provider import FakePayoutProvider

API, HOOK = b"api-secret", b"hook-secret"


@pytest.fixture
def fake() -> Iterator[FakePayoutProvider]:
    provider = FakePayoutProvider(api_secret=API, webhook_secret=HOOK, delay_s=0.01, retry_s=0.05)
    provider.start()
    yield provider
    provider.stop()


def payout(address: str = "DE89370400440532013000", amount: str = "10.00") -> bytes:
    return json.dumps(
        {
            "payout_id": "wd-1",
            "asset": "USD",
            "amount": amount,
            "destination": {"kind": "BANK", "address": address},
            "reference": "exchange withdrawal wd-1",
        }
    ).encode()


def post(
    fake: FakePayoutProvider, body: bytes, *, key: str | None = "wd-1", secret: bytes = API
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    headers["Exchange-Signature"] = sign(body, secret=secret, timestamp=int(time.time()))
    if key is not None:
        headers["Idempotency-Key"] = key
    url = f"{fake.url}/v1/payouts"
    request = urllib.request.Request(url, body, headers, method="POST")  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read())


def test_a_key_pays_once_and_is_answered_with_the_same_payout(fake: FakePayoutProvider) -> None:
    first = post(fake, payout())
    second = post(fake, payout())
    assert first[0] == 202
    assert second == (200, {"id": first[1]["id"], "status": second[1]["status"]})
    assert len(fake.payouts) == 1


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"secret": b"wrong"}, 401, "invalid_signature"),
        ({"key": None}, 400, "idempotency_key_required"),
    ],
)
def test_unsigned_or_keyless_requests_are_refused(
    fake: FakePayoutProvider, kwargs: dict[str, Any], status: int, code: str
) -> None:
    assert post(fake, payout(), **kwargs)[0] == status
    assert post(fake, payout(), **kwargs)[1]["code"] == code
    assert fake.payouts == {}


def test_a_key_reused_for_another_payout_is_refused(fake: FakePayoutProvider) -> None:
    post(fake, payout(amount="10.00"))
    assert post(fake, payout(amount="99.00")) == (
        422,
        {"code": "key_reused", "message": "key reused"},
    )


def test_the_webhook_is_retried_until_acknowledged_and_is_signed(fake: FakePayoutProvider) -> None:
    # Given a webhook endpoint that answers 500 twice, then 200
    statuses = iter([500, 500, 200])
    received: list[tuple[bytes, str]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers["Exchange-Signature"]))
            self.send_response(next(statuses))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    Thread(target=server.serve_forever, daemon=True).start()
    fake.webhook_url = f"http://127.0.0.1:{server.server_address[1]}/v1/webhooks/payouts"
    try:
        # When a payout to a failing address is made
        post(fake, payout(address="FAIL00012345"))
        deadline = time.monotonic() + 5
        while len(fake.deliveries) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        server.shutdown()
        server.server_close()

    # Then the same event came three times, each signed with the webhook secret
    assert [d.status for d in fake.deliveries] == [500, 500, 200]
    events = [json.loads(body) for body, _ in received]
    assert {e["event_id"] for e in events} == {events[0]["event_id"]}
    assert events[0]["type"] == "payout.failed"
    for body, header in received:
        verify_signature(body, header, secrets=[HOOK], now=int(time.time()))
