"""The payment provider's payouts API: the port, its answer and errors, and the HTTPS adapter.

The API (ours to define; ``local.provider`` implements it for local mode and tests):

``POST {payout_provider_url}/v1/payouts`` with the JSON body::

    {"payout_id": "<withdrawal id>", "asset": "USD", "amount": "25.00",
     "destination": {"kind": "BANK" | "ADDRESS", "address": "<IBAN or address>"},
     "reference": "exchange withdrawal <withdrawal id>"}

and the headers ``Content-Type: application/json``, ``Idempotency-Key: <withdrawal id>`` (the same
on every attempt: the provider pays a key once and answers a repeat with the first payout) and
``Exchange-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}." + body)>`` (the scheme
of ``exchange.ledger.webhooks``, with the API secret; re-signed per attempt, the body unchanged).

Answers: 200, 201 or 202 ``{"id": "<provider reference>", "status": "PENDING" | "COMPLETED" |
"FAILED", "reason"?: "..."}``; the final outcome comes later by the signed webhook
(``exchange.payouts.webhooks``). 408, 409 (the same key in flight), 425, 429 and 5xx are worth a
retry (``Retry-After`` honoured). Only 400 and 422, the provider's refusal of the payout itself
(a bad destination, an amount it will not pay), refuse it for good (``PayoutRefused``: the
withdrawal fails and its hold goes back). Any other 4xx (401, 403, 407: our credentials; 404, 405,
410, 415...: our URL, a proxy or a load balancer) is ours to fix, and may hide an earlier attempt
that went through: nothing is failed (``ProviderUnavailable``) and an operator must look.

The adapter sends with a per-socket-operation timeout and retries timeouts, connection errors and
the retryable statuses with exponential backoff and full jitter ("Exponential Backoff And Jitter",
AWS Architecture Blog), then raises ``ProviderUnavailable``: the withdrawal stays SENDING and the
sweeper sends it again later, with the same key.
"""

import email.utils
import http.client
import json
import random
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal, Protocol
from urllib.parse import urlsplit

from exchange.aws import CachedSecret, secrets_client_factory
from exchange.domain.errors import ConfigurationError, ExchangeError
from exchange.ledger.deposits import parse_secrets
from exchange.ledger.payouts_port import PayoutOrder
from exchange.ledger.webhooks import SIGNATURE_HEADER, sign
from exchange.observability import logger
from exchange.settings import PayoutProviderSettings

PAYOUTS_PATH: Final = "/v1/payouts"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
RETRYABLE_STATUSES: Final = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# The provider read the payout and refused it. Every other 4xx is our configuration's (credentials,
# URL, a proxy answering for the provider): failing the withdrawal then would release a hold whose
# payout an earlier, timed-out attempt may have made.
REFUSAL_STATUSES: Final = frozenset({400, 422})
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_MAX_ANSWER: Final = 64 * 1024
_MAX_REASON: Final = 500

ProviderStatus = Literal["PENDING", "COMPLETED", "FAILED"]


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    """What the provider said to a payout it accepted (a 2xx)."""

    provider_reference: str
    status: ProviderStatus
    failure_reason: str | None = None


class PayoutRefused(ExchangeError):
    """The provider refused the payout for good (a permanent 4xx): fail it, release the hold."""

    code = "payout_refused"

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"provider refused the payout ({status}): {reason}")
        self.status = status
        self.reason = reason


class ProviderUnavailable(ExchangeError):
    """No answer worth acting on after the retries (or our credentials were refused): the
    withdrawal stays SENDING and is sent again later with the same idempotency key."""

    code = "provider_unavailable"


class PayoutProvider(ABC):
    @abstractmethod
    def send(self, order: PayoutOrder) -> ProviderAnswer:
        """Ask the provider to pay ``order`` out, idempotently on its withdrawal id. Raises
        PayoutRefused or ProviderUnavailable."""


def payout_body(order: PayoutOrder) -> bytes:
    """The request body: the same bytes on every attempt of one withdrawal."""
    withdrawal, destination = order.withdrawal, order.destination
    return json.dumps(
        {
            "payout_id": withdrawal.withdrawal_id,
            "asset": withdrawal.asset,
            "amount": format(withdrawal.amount, "f"),
            "destination": {"kind": destination.kind.value, "address": destination.address},
            "reference": f"exchange withdrawal {withdrawal.withdrawal_id}",
        },
        separators=(",", ":"),
    ).encode()


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """A ``Retry-After`` header as seconds from now: delay-seconds or an HTTP-date (RFC 9110
    section 10.2.3); None when absent or unreadable.

    >>> retry_after_seconds("3", now=0.0)
    3.0
    >>> retry_after_seconds("Thu, 01 Jan 1970 00:00:10 GMT", now=4.0)
    6.0
    """
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


class Response(Protocol):
    """What the adapter reads of an answer (``http.client.HTTPResponse``)."""

    @property
    def status(self) -> int: ...

    def read(self, amt: int | None = None) -> bytes: ...

    def getheader(self, name: str) -> str | None: ...


class Connection(Protocol):
    """One request's connection (``http.client.HTTPConnection``; tests pass a stub)."""

    def request(
        self, method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] = ...
    ) -> None: ...

    def getresponse(self) -> Response: ...

    def close(self) -> None: ...


class _Retry(Exception):
    """One attempt's retryable failure, with the wait the provider asked for (if any)."""

    def __init__(self, why: str, retry_after: float | None = None) -> None:
        super().__init__(why)
        self.retry_after = retry_after


class HttpPayoutProvider(PayoutProvider):
    """The provider over HTTPS (``http.client``, the standard library: nothing more to bundle).

    ``timeout`` bounds each connect and read; ``retries`` is how many times one send is tried
    again; the n-th retry waits ``uniform(0, min(backoff_cap, backoff_base * 2**n))`` seconds, or
    the provider's ``Retry-After`` if longer. A ``Retry-After`` beyond ``max_retry_after`` ends
    the send at once (``ProviderUnavailable``): the queue brings it back later, rather than this
    invocation sleeping out its time.
    """

    def __init__(
        self,
        base_url: str,
        secret: Callable[[], bytes],
        *,
        timeout: float = 5.0,
        retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        max_retry_after: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[float, float], float] = random.uniform,
        on_retry: Callable[[str], None] | None = None,
        connect: Callable[[], Connection] | None = None,
    ) -> None:
        self._scheme, self._host, self._port, self._prefix = _split(base_url)
        self._connect = connect or self._connection
        self._secret = secret
        self._timeout = timeout
        self._retries = retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._on_retry = on_retry

    @classmethod
    def from_settings(
        cls, settings: PayoutProviderSettings, *, on_retry: Callable[[str], None] | None = None
    ) -> "HttpPayoutProvider":
        if not settings.payout_provider_url:
            raise ConfigurationError("set EXCHANGE_PAYOUT_PROVIDER_URL")
        return cls(
            settings.payout_provider_url,
            provider_secret(settings),
            timeout=settings.payout_timeout_seconds,
            retries=settings.payout_retries,
            on_retry=on_retry,
        )

    def send(self, order: PayoutOrder) -> ProviderAnswer:
        key = order.withdrawal.withdrawal_id
        body = payout_body(order)
        for retry in range(self._retries + 1):
            try:
                return self._attempt(key, body)
            except _Retry as failure:
                if retry == self._retries:
                    raise ProviderUnavailable(
                        f"payout {key}: no answer after {retry + 1} attempts ({failure})"
                    ) from failure
                wait = self._jitter(0.0, min(self._backoff_cap, self._backoff_base * 2**retry))
                if failure.retry_after is not None:
                    if failure.retry_after > self._max_retry_after:
                        raise ProviderUnavailable(
                            f"payout {key}: the provider asks to wait {failure.retry_after:.0f} s"
                        ) from failure
                    wait = max(wait, failure.retry_after)
                logger.warning(
                    "payout provider attempt failed; retrying",
                    extra={"withdrawal_id": key, "why": str(failure), "wait_seconds": wait},
                )
                if self._on_retry is not None:
                    self._on_retry(str(failure))
                self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _attempt(self, key: str, body: bytes) -> ProviderAnswer:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            IDEMPOTENCY_HEADER: key,
            SIGNATURE_HEADER: sign(body, secret=self._secret(), timestamp=int(self._clock())),
        }
        connection = self._connect()
        try:
            connection.request("POST", self._prefix + PAYOUTS_PATH, body=body, headers=headers)
            response = connection.getresponse()
            status = response.status
            text = response.read(_MAX_ANSWER)
            retry_after = retry_after_seconds(response.getheader("Retry-After"), now=self._clock())
        except (OSError, http.client.HTTPException) as exc:  # timeouts are OSErrors too
            raise _Retry(f"{type(exc).__name__}: {exc}") from exc
        finally:
            connection.close()
        if status in RETRYABLE_STATUSES or status >= 500:
            raise _Retry(f"HTTP {status}", retry_after)
        if status in REFUSAL_STATUSES:
            raise PayoutRefused(status, _reason(text))
        if 400 <= status < 500:
            raise ProviderUnavailable(
                f"payout {key}: the provider answered {status}: check the key and the URL"
            )
        if status not in (200, 201, 202):
            raise ProviderUnavailable(f"payout {key}: unexpected HTTP {status} from the provider")
        try:
            return _answer(text)
        except ValueError as exc:
            # Accepted, but unreadable: sending again with the same key is safe and reads it.
            raise _Retry(f"unreadable answer: {exc}") from exc

    def _connection(self) -> Connection:
        if self._scheme == "https":
            return http.client.HTTPSConnection(
                self._host,
                self._port,
                timeout=self._timeout,
                context=ssl.create_default_context(),
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)


def _split(base_url: str) -> tuple[str, str, int | None, str]:
    """Scheme, host, port and path prefix; plain HTTP only to this machine (local mode)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigurationError(f"payout provider URL {base_url!r} is not an http(s) URL")
    if parts.scheme == "http" and host not in _LOOPBACK:
        raise ConfigurationError("the payout provider is reached over HTTPS (HTTP: loopback only)")
    return parts.scheme, host, parts.port, parts.path.rstrip("/")


def _answer(text: bytes) -> ProviderAnswer:
    raw = json.loads(text)  # JSONDecodeError is a ValueError
    if not isinstance(raw, dict):
        raise ValueError("the answer is not a JSON object")
    reference, status = raw.get("id"), raw.get("status")
    if not isinstance(reference, str) or not reference:
        raise ValueError("the answer has no id")
    if status not in ("PENDING", "COMPLETED", "FAILED"):
        raise ValueError(f"unknown payout status {status!r}")
    reason = raw.get("reason")
    return ProviderAnswer(reference, status, str(reason)[:_MAX_REASON] if reason else None)


def _reason(text: bytes) -> str:
    """A refusal's reason: the problem's ``code``/``message`` (or ``detail``), else the text."""
    try:
        raw = json.loads(text)
    except ValueError:
        raw = None
    if isinstance(raw, dict):
        said = [str(raw[k]) for k in ("code", "message", "detail", "error") if raw.get(k)]
        if said:
            return ": ".join(said)[:_MAX_REASON]
    return text.decode("utf-8", "replace").strip()[:_MAX_REASON] or "no reason given"


def provider_secret(settings: PayoutProviderSettings) -> Callable[[], bytes]:
    """The API secret that signs our requests: ``payout_provider_secret`` locally, else the
    Secrets Manager secret (cached, re-read every five minutes, like the webhook secrets). A JSON
    array (during a rotation) signs with its first, the newest, secret."""
    if settings.payout_provider_secret is not None:
        secret = parse_secrets(settings.payout_provider_secret.get_secret_value())[0]
        return lambda: secret
    arn = settings.payout_provider_secret_arn
    if arn is None:
        raise ConfigurationError(
            "set EXCHANGE_PAYOUT_PROVIDER_SECRET_ARN, or EXCHANGE_PAYOUT_PROVIDER_SECRET locally"
        )
    cached = CachedSecret(arn, secrets_client_factory(settings), parse=parse_secrets)
    return lambda: cached()[0]
