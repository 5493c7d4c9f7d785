"""HTTP with retries that are safe to repeat, and each request's credentials.

A request is retried on a connection error, 429, 502, 503 and 504, with exponential backoff and
jitter; a 429 waits what the API's ``Retry-After`` says (capped). A ``POST`` that creates
something carries an ``Idempotency-Key``, the same on every retry, so the API answers a retry
with the first response instead of acting twice; a ``POST`` without one is retried only after a
429 (the API refused it before doing anything).

A private request carries either the user's access token or, when the transport has an API key,
a signature of the exact request sent (its method, path, query and body bytes), made anew for
each attempt so a retry is never stale.
"""

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from yarl import URL

from exchange_client.credentials import ApiKey
from exchange_client.errors import ApiError, AuthError, ExchangeClientError
from exchange_client.signing import canonical_query

RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
TOO_MANY_REQUESTS: Final = 429
TokenProvider = Callable[[], Awaitable[str]]
QueryValue = str | int | bool | None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay_s: float = 0.1
    max_delay_s: float = 2.0
    # The longest a 429's Retry-After is honoured for (a longer one waits this long).
    max_retry_after_s: float = 30.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security

    def retry_after(self, header: str | None, attempt: int) -> float:
        """Seconds to wait after a 429: its ``Retry-After`` (seconds or an HTTP date), capped;
        the backoff when it has none."""
        seconds = retry_after_seconds(header)
        if seconds is None:
            return self.delay(attempt)
        return min(seconds, self.max_retry_after_s)


def retry_after_seconds(header: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds (RFC 9110: delay-seconds or an HTTP date); None if absent or
    unreadable.

    >>> retry_after_seconds("2"), retry_after_seconds(None), retry_after_seconds("soon")
    (2.0, None, None)
    >>> retry_after_seconds("Tue, 14 Nov 2023 22:13:22 GMT", now=1_700_000_000.0)
    2.0
    """
    if not header:
        return None
    text = header.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def query_values(params: Mapping[str, QueryValue] | None) -> dict[str, str]:
    """Query parameters as sent: None left out, booleans as ``true``/``false``."""
    return {
        name: ("true" if value else "false") if isinstance(value, bool) else str(value)
        for name, value in (params or {}).items()
        if value is not None
    }


class Transport:
    def __init__(
        self,
        base_url: str,
        *,
        token: TokenProvider | None = None,
        api_key: ApiKey | None = None,
        retry: RetryPolicy | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self.api_key = api_key
        self._retry = retry or RetryPolicy()
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.retries = 0
        self.rate_limited = 0  # 429s answered so far
        # The server's clock minus ours, in ms (ExchangeClient.sync_clock): signatures carry
        # the server's time, so a skewed local clock does not make them stale.
        self.clock_offset_ms = 0

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, QueryValue] | None = None,
        auth: bool = True,
        token_only: bool = False,
        idempotency_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        raw_body: bytes | None = None,
        replayable: bool | None = None,
        as_text: bool = False,
    ) -> Any:
        """The decoded JSON answer (None when empty); ApiError for a 4xx or a final 5xx.

        ``path`` is below the base URL (``/v1/orders``): it is what an API key signs.
        ``token_only``: the route takes the user's access token, never a key (key management).
        ``replayable``: whether the request may be sent again after an ambiguous failure; by
        default every method but a POST without an Idempotency-Key. ``as_text``: a success's
        body as text, not decoded (a CSV download)."""
        sent_headers = {"Accept": "application/json", **(headers or {})}
        if idempotency_key:
            sent_headers["Idempotency-Key"] = idempotency_key
        data = raw_body or b""
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            sent_headers["Content-Type"] = "application/json"
        query = query_values(params)
        signed_query = {name: [value] for name, value in query.items()}
        text = canonical_query(signed_query)
        # The URL carries the query exactly as signed (encoded=True: sent as is).
        url = URL(f"{self._base_url}{path}{'?' + text if text else ''}", encoded=True)
        if replayable is None:
            replayable = method.upper() != "POST" or idempotency_key is not None
        attempt = 1
        while True:
            if auth:
                sent_headers["Authorization"] = await self._authorization(
                    method, path, signed_query, data, token_only=token_only
                )
            last = attempt >= self._retry.attempts
            try:
                async with self._client().request(
                    method, url, data=data or None, headers=sent_headers
                ) as response:
                    status = response.status
                    answer = await response.text()
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                if last or not replayable:
                    raise ExchangeClientError(f"{method} {path}: {exc!r}") from exc
                wait = self._retry.delay(attempt)
            else:
                retry = status in RETRY_STATUSES and (replayable or status == TOO_MANY_REQUESTS)
                if not retry or last:
                    if as_text and status < 400:
                        return answer
                    return _result(status, answer, signed=auth and self._signs(token_only))
                if status == TOO_MANY_REQUESTS:
                    self.rate_limited += 1
                    wait = self._retry.retry_after(retry_after, attempt)
                else:
                    wait = self._retry.delay(attempt)
            self.retries += 1
            await asyncio.sleep(wait)
            attempt += 1

    def _signs(self, token_only: bool) -> bool:
        return self.api_key is not None and not token_only

    async def _authorization(
        self, method: str, path: str, query: Mapping[str, list[str]], body: bytes, *,
        token_only: bool,
    ) -> str:  # fmt: skip
        if self.api_key is not None and not token_only:
            now_ms = time.time_ns() // 1_000_000 + self.clock_offset_ms
            return self.api_key.authorization(method, path, query, body, now_ms=now_ms)
        if self._token is None:
            needs = "a signed-in client" if token_only else "an API key or a signed-in client"
            raise AuthError(f"{method} {path} needs {needs}")
        return await self._token()


def _result(status: int, text: str, *, signed: bool = False) -> Any:
    try:
        payload = json.loads(text) if text else None
    except json.JSONDecodeError:
        payload = {"detail": text[:200]}
    problem = payload if isinstance(payload, dict) else {"detail": str(payload)}
    if status == 401:
        detail = problem.get("detail") or problem.get("message") or ""
        what = "the API key's signature" if signed else "the token"
        raise AuthError(f"the API refused {what} (401){': ' + detail if detail else ''}")
    if status >= 400:
        raise ApiError(status, problem)
    return payload
