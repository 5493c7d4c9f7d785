"""What ``serve`` checks before a route runs when a request is signed with an API key (the REST
authorizer's context says ``auth: api_key``): that it is the request its authorizer verified
(``identity.caller``: 401/403), then that its key is within its rate limit (429 with
``Retry-After``). Requests with a token pass straight through.

The limiter is one of the ``services`` a handler gives ``serve`` when it has one; otherwise the
process's (``use_rate_limiter``: tests set a fake), by default a ``DynamoRateLimiter`` built at
the first signed request over the ``rate_limits`` table as the function's composition bound it
(``bind_tables``), so no handler composes it.

When the counter cannot be reached the request is let through (fail open), logged as an error
and counted (``RateLimiterUnavailable``, for an alarm): the per-key limit protects the venue from
one noisy program, and the stage's throttling and the WAF's per-address rule still bound the load,
whereas failing closed would stop every program's trading (and its cancels) during a DynamoDB
incident that does not otherwise touch the order path.
"""

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import (
    APIGatewayProxyEvent,
)

from exchange.domain.errors import ExchangeError
from exchange.http.identity import caller, received_ms
from exchange.http.problems import HttpProblem
from exchange.observability import logger, metrics

if TYPE_CHECKING:
    from exchange.apikeys.limiter import RateLimiter


class RateLimited(HttpProblem):
    code = "rate_limited"
    status = HTTPStatus.TOO_MANY_REQUESTS

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = max(1, retry_after_s)


_DEFAULT: list["RateLimiter"] = []  # the process's limiter, made at first use


def admission_problem(
    event: Mapping[str, Any], services: Sequence[object], *, now_ms: int | None = None
) -> HttpProblem | None:
    """The problem that refuses a signed request before its route runs, or None."""
    context = (event.get("requestContext") or {}).get("authorizer") or {}
    if not isinstance(context, Mapping) or context.get("auth") != "api_key":
        return None
    request = APIGatewayProxyEvent(dict(event))
    try:
        who = caller(request)
    except HttpProblem as refused:
        return refused
    if who.key_id is None or who.rate_limit is None:
        return None  # unreachable: an api_key caller has both
    # The window is the one API Gateway received the request in (a value the client cannot set).
    now_ms = received_ms(request) if now_ms is None else now_ms
    try:
        verdict = _limiter(services).hit(who.key_id, who.rate_limit, now_ms)
    except ExchangeError:
        logger.exception(
            "rate limiter unavailable; request let through", extra={"key_id": who.key_id}
        )
        metrics.add_metric(name="RateLimiterUnavailable", unit=MetricUnit.Count, value=1)
        return None
    if verdict.allowed:
        return None
    metrics.add_metric(name="ApiKeyRateLimited", unit=MetricUnit.Count, value=1)
    return RateLimited(
        f"API key {who.key_id} is limited to {who.rate_limit} requests per second; retry after"
        f" {verdict.retry_after_s} s",
        retry_after_s=verdict.retry_after_s,
    )


def problem_headers(error: ExchangeError) -> dict[str, list[str]]:
    """Headers a refusal carries beside its problem body (``Retry-After`` on a 429)."""
    if isinstance(error, RateLimited):
        return {"Retry-After": [str(error.retry_after_s)]}
    return {}


def use_rate_limiter(limiter: "RateLimiter | None") -> None:
    """Make ``limiter`` the process's (None: back to the DynamoDB one, made at next use)."""
    _DEFAULT.clear()
    if limiter is not None:
        _DEFAULT.append(limiter)


def _limiter(services: Sequence[object]) -> "RateLimiter":
    from exchange.apikeys.limiter import DynamoRateLimiter, RateLimiter  # noqa: PLC0415

    for candidate in services:
        if isinstance(candidate, RateLimiter):
            return candidate
    if not _DEFAULT:
        _DEFAULT.append(DynamoRateLimiter())
    return _DEFAULT[0]
