"""The payment provider, locally: the payouts API of ``exchange.payouts.provider`` on a small
threaded HTTP server, answering at once and finishing each payout later by its signed webhook.

- ``POST /v1/payouts``: our signature (``Exchange-Signature`` with the API secret, within 300 s)
  is checked first (401), then the body (400) and the ``Idempotency-Key`` (400 without one; the
  same key with another body 422 ``key_reused``, as real providers refuse a reused key). A new
  payout is answered 202 ``{"id": "po_...", "status": "PENDING"}``; the same key again answers
  the same payout (200), whatever happened to it since, and is paid once. A destination address
  that contains ``refuse`` (in any case) is refused at once (422 ``destination_refused``: the
  worker's PayoutRefused).
- ``delay_s`` after a new payout, its webhook is POSTed to ``webhook_url`` (the local gateway's
  ``/v1/webhooks/payouts``), signed with the webhook secret: ``payout.failed`` when the address
  contains ``fail`` (in any case: bank references are upper-cased), else ``payout.completed``.
  Like a real provider it re-signs and retries every ``retry_s`` until it gets a 2xx (or the
  server stops), with the same event id.
- Tests script misbehaviour: ``stall_next(n, seconds)`` holds the next n requests past the
  client's timeout before answering, ``answer_next(status, ...)`` answers the next one as told.
  ``requests`` records every request received (stalled ones too), ``deliveries`` every webhook
  attempt with the status it got.
"""

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from exchange.ledger.errors import InvalidSignature, StaleWebhook
from exchange.ledger.webhooks import SIGNATURE_HEADER, sign, verify_signature
from exchange.observability import logger

PAYOUTS_PATH: Final = "/v1/payouts"
_MAX_BODY: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    idempotency_key: str | None
    signature_ok: bool
    body: bytes
    at: float


@dataclass(frozen=True, slots=True)
class Delivery:
    event_id: str
    withdrawal_id: str
    type: str
    status: int | None  # the HTTP status the webhook got; None when it did not connect
    body: bytes = b""


@dataclass(slots=True)
class Payout:
    reference: str
    key: str
    body: bytes
    request: dict[str, Any]
    status: str = "PENDING"
    events: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Scripted:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    stall_s: float = 0.0


class FakePayoutProvider:
    """``start()`` serves on ``host:port`` (port 0: a free one; ``url`` says which)."""

    def __init__(
        self,
        *,
        api_secret: bytes,
        webhook_secret: bytes,
        webhook_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        delay_s: float = 0.5,
        retry_s: float = 1.0,
        tolerance_s: int = 300,
    ) -> None:
        self.api_secret = api_secret
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.delay_s = delay_s
        self.retry_s = retry_s
        self.tolerance_s = tolerance_s
        self.requests: list[ReceivedRequest] = []
        self.deliveries: list[Delivery] = []
        self.payouts: dict[str, Payout] = {}  # by idempotency key
        self._script: deque[_Scripted] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-payout-provider", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "url": self.url,
                "payouts": len(self.payouts),
                "requests": len(self.requests),
                "webhooks_delivered": sum(1 for d in self.deliveries if _ok(d.status)),
            }

    # -- scripted misbehaviour (tests) ----------------------------------------------------------
    def stall_next(self, count: int, seconds: float) -> None:
        """Hold the next ``count`` requests ``seconds`` before answering 503 (a client with a
        shorter timeout has given up by then: nothing is created)."""
        with self._lock:
            for _ in range(count):
                self._script.append(_Scripted(503, b'{"code":"stalled"}', (), stall_s=seconds))

    def answer_next(
        self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next request with ``status`` (no payout is created)."""
        with self._lock:
            self._script.append(
                _Scripted(status, json.dumps(body or {}).encode(), tuple((headers or {}).items()))
            )

    # -- the API ----------------------------------------------------------------------------------
    def handle(
        self, key: str | None, signature: str | None, body: bytes
    ) -> tuple[int, bytes, tuple[tuple[str, str], ...], float]:
        """Status, body, headers and how long to stall, for one ``POST /v1/payouts``."""
        try:
            verify_signature(
                body,
                signature,
                secrets=[self.api_secret],
                now=int(time.time()),
                tolerance_seconds=self.tolerance_s,
            )
            signature_ok = True
        except (InvalidSignature, StaleWebhook):
            signature_ok = False
        with self._lock:
            self.requests.append(ReceivedRequest(key, signature_ok, body, time.time()))
            if self._script:
                scripted = self._script.popleft()
                return scripted.status, scripted.body, scripted.headers, scripted.stall_s
            request = _payout_request(body)
            refusal = _refusal(key, signature_ok=signature_ok, request=request)
            if refusal is not None:
                return _problem(*refusal)
            assert key is not None  # noqa: S101 - _refusal checked
            assert request is not None  # noqa: S101
            known = self.payouts.get(key)
            if known is not None:  # the same payout again, however it ended
                same = known.body == body
                return (200, _answer(known), (), 0.0) if same else _problem(422, "key_reused")
            if "refuse" in request["destination"]["address"].lower():
                return _problem(422, "destination_refused")
            payout = Payout(f"po_{uuid.uuid4().hex[:16]}", key, body, request)
            self.payouts[key] = payout
        timer = threading.Timer(self.delay_s, self._deliver, args=(payout,))
        timer.daemon = True
        timer.start()
        return 202, _answer(payout), (), 0.0

    def _deliver(self, payout: Payout) -> None:
        failed = "fail" in payout.request["destination"]["address"].lower()
        event = {
            "event_id": f"evt_{uuid.uuid4().hex}",
            "type": "payout.failed" if failed else "payout.completed",
            "withdrawal_id": payout.request["payout_id"],
            "provider_reference": payout.reference,
            "asset": payout.request["asset"],
            "amount": payout.request["amount"],
        }
        if failed:
            event["reason"] = "the destination rejected the transfer (local fake provider)"
        with self._lock:
            payout.status = "FAILED" if failed else "COMPLETED"
            payout.events.append(event["event_id"])
        body = json.dumps(event, separators=(",", ":")).encode()
        while not self._stop.is_set():
            status = self._post(body)
            with self._lock:
                self.deliveries.append(
                    Delivery(event["event_id"], event["withdrawal_id"], event["type"], status, body)
                )
            if _ok(status):
                return
            self._stop.wait(self.retry_s)

    def _post(self, body: bytes) -> int | None:
        if not self.webhook_url:
            return None
        request = urllib.request.Request(  # noqa: S310 - the configured local gateway's URL
            self.webhook_url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(
                    body, secret=self.webhook_secret, timestamp=int(time.time())
                ),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except OSError as exc:
            logger.warning("fake provider: webhook not delivered", extra={"error": str(exc)})
            return None


def _ok(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _answer(payout: Payout) -> bytes:
    return json.dumps({"id": payout.reference, "status": payout.status}).encode()


def _problem(status: int, code: str) -> tuple[int, bytes, tuple[tuple[str, str], ...], float]:
    return status, json.dumps({"code": code, "message": code.replace("_", " ")}).encode(), (), 0.0


def _refusal(
    key: str | None, *, signature_ok: bool, request: dict[str, Any] | None
) -> tuple[int, str] | None:
    if not signature_ok:
        return 401, "invalid_signature"
    if request is None:
        return 400, "invalid_request"
    if not key:
        return 400, "idempotency_key_required"
    return None


def _payout_request(body: bytes) -> dict[str, Any] | None:
    try:
        raw = json.loads(body)
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    destination = raw.get("destination")
    fields = [raw.get(k) for k in ("payout_id", "asset", "amount")]
    if not all(isinstance(f, str) and f for f in fields) or not isinstance(destination, dict):
        return None
    if not isinstance(destination.get("address"), str):
        return None
    return raw


def _handler_for(provider: FakePayoutProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, _MAX_BODY))
            if self.path != PAYOUTS_PATH:
                status, answer, headers, stall = _problem(404, "not_found")
            else:
                status, answer, headers, stall = provider.handle(
                    self.headers.get("Idempotency-Key"), self.headers.get(SIGNATURE_HEADER), body
                )
            if stall:
                time.sleep(stall)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the client gave up (a stalled request): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the stack logs its own way

    return Handler
