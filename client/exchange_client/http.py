"""HTTP with retries that are safe to repeat.

A request is retried on a connection error, 429, 502, 503 and 504, with exponential backoff and
jitter. A ``POST`` that creates something carries an ``Idempotency-Key``, the same on every retry,
so the API answers a retry with the first response instead of acting twice.
"""

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from exchange_client.errors import ApiError, AuthError, ExchangeClientError

RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
TokenProvider = Callable[[], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay_s: float = 0.1
    max_delay_s: float = 2.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security


class Transport:
    def __init__(
        self,
        base_url: str,
        *,
        token: TokenProvider | None = None,
        retry: RetryPolicy | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._retry = retry or RetryPolicy()
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.retries = 0

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
        params: Mapping[str, str | int | None] | None = None,
        auth: bool = True,
        idempotency_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        raw_body: bytes | None = None,
    ) -> Any:
        """The decoded JSON answer (None when empty); ApiError for a 4xx or a final 5xx."""
        sent_headers = {"Accept": "application/json", **(headers or {})}
        if idempotency_key:
            sent_headers["Idempotency-Key"] = idempotency_key
        data = raw_body
        if body is not None:
            data = json.dumps(body).encode()
            sent_headers["Content-Type"] = "application/json"
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        url = f"{self._base_url}{path}"
        attempt = 1
        while True:
            if auth:
                if self._token is None:
                    raise AuthError("this call needs a signed-in client")
                sent_headers["Authorization"] = await self._token()
            last = attempt == self._retry.attempts
            try:
                async with self._client().request(
                    method, url, data=data, params=query, headers=sent_headers
                ) as response:
                    status = response.status
                    text = await response.text()
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                if last:
                    raise ExchangeClientError(f"{method} {path}: {exc!r}") from exc
            else:
                if status not in RETRY_STATUSES or last:
                    return _result(status, text)
            self.retries += 1
            await asyncio.sleep(self._retry.delay(attempt))
            attempt += 1


def _result(status: int, text: str) -> Any:
    try:
        payload = json.loads(text) if text else None
    except json.JSONDecodeError:
        payload = {"detail": text[:200]}
    if status == 401:
        raise AuthError("the API refused the token (401); sign in again")
    if status >= 400:
        raise ApiError(status, payload if isinstance(payload, dict) else {"detail": str(payload)})
    return payload
