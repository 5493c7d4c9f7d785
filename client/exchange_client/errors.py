"""Errors the client raises. An API error carries the problem+json body the API sent."""

from typing import Any


class ExchangeClientError(Exception):
    """Anything the client could not do."""


class ApiError(ExchangeClientError):
    """A 4xx or 5xx answer. ``problem`` is the ``application/problem+json`` body (``type``,
    ``title``, ``status``, ``detail`` and, for validation errors, the offending fields)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        detail = problem.get("detail") or problem.get("title") or problem.get("message") or ""
        super().__init__(f"{status} {detail}".strip())

    @property
    def code(self) -> str | None:
        value = self.problem.get("code") or self.problem.get("type")
        return str(value) if value is not None else None


class AuthError(ExchangeClientError):
    """Sign-in failed, or the API refused the token (401)."""


class StreamError(ExchangeClientError):
    """The WebSocket API refused a connection or a subscription."""
