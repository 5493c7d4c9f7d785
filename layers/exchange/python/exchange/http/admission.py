"""What ``serve`` checks before a route runs when a request is signed with an API key (the REST
authorizer's context says ``auth: api_key``): that it is the request its authorizer verified
(``identity.caller``: 401/403); for a request that changes something (any method but GET and
HEAD), that its signature has not been used before (a replay within the signature's window is a
401: the signature does not cover the ``Idempotency-Key`` header, and API Gateway serves a
repeated ``Authorization`` header its authorizer's cached answer, so without this one captured
order could be sent again and again with fresh keys); then that its key is within its rate limit
(429 with ``Retry-After``). Each admitted request is logged (``api_key_used``: key, account,
method, resource, source address), including those API Gateway answered from its authorizer
cache, which the authorizer never sees. Requests with a token pass straight through.

The limiter is one of the ``services`` a handler gives ``serve`` when it has one; otherwise the
process's (``use_rate_limiter``: tests set a fake), by default a ``DynamoRateLimiter`` built at
the first signed request over the ``rate_limits`` table as the function's composition bound it
(``bind_tables``), so no handler composes it.

When the one-time-use record cannot be written the request is refused (503): it guards against
replayed orders and withdrawals, and a function that cannot reach DynamoDB could not place or
cancel an order anyway. When the counter cannot be reached the request is let through (fail
open), logged as an error and counted (``RateLimiterUnavailable``, for an alarm): the per-key
limit protects the venue from one noisy program, and the stage's throttling and the WAF's
per-address rule still bound the load, whereas failing closed would stop every program's trading
(and its cancels) during a DynamoDB incident that does not otherwise touch the order path.
"""

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import (
    APIGatewayProxyEvent,
)

from exchange.domain.errors import ExchangeError
from exchange.http.identity import Caller, caller, received_ms
from exchange.http.problems import HttpProblem, Unauthorized
from exchange.observability import logger, metrics

if TYPE_CHECKING:
    from exchange.apikeys.limiter import RateLimiter


class AdmissionUnavailable(HttpProblem):
    code = "admission_unavailable"
    status = HTTPStatus.SERVICE_UNAVAILABLE


class RateLimited(HttpProblem):
    code = "rate_limited"
    status = HTTPStatus.TOO_MANY_REQUESTS

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = max(1, retry_after_s)


_DEFAULT: list["RateLimiter"] = []  # the process's limiter, made at first use
# Reads: a replay of one is harmless (it changes nothing), so it is not recorded.
_SAFE_METHODS: Final = frozenset({"GET", "HEAD"})


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
    limiter = _limiter(services)
    if request.http_method not in _SAFE_METHODS:
        replayed = _replayed(limiter, who)
        if replayed is not None:
            return replayed
    logger.info(
        "api_key_used",
        extra={
            "key_id": who.key_id,
            "account_id": who.account_id,
            "method": request.http_method,
            "resource": request.resource,
            "source_ip": request.request_context.identity.source_ip,
        },
    )
    # The window is the one API Gateway received the request in (a value the client cannot set).
    return _over_limit(limiter, who, received_ms(request) if now_ms is None else now_ms)


def _over_limit(limiter: "RateLimiter", who: Caller, now_ms: int) -> HttpProblem | None:
    if who.key_id is None or who.rate_limit is None:
        return Unauthorized("the request carries no valid identity")  # an api_key caller has both
    try:
        verdict = limiter.hit(who.key_id, who.rate_limit, now_ms)
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


def _replayed(limiter: "RateLimiter", who: Caller) -> HttpProblem | None:
    if who.key_id is None or who.signature is None or who.signature_valid_until_ms is None:
        return Unauthorized("the request carries no valid identity")
    try:
        first = limiter.claim_once(who.key_id, who.signature, who.signature_valid_until_ms)
    except ExchangeError:
        logger.exception("one-time use of a signature unrecorded", extra={"key_id": who.key_id})
        return AdmissionUnavailable("the request could not be admitted; retry it, signed afresh")
    if first:
        return None
    metrics.add_metric(name="ApiKeyReplayRefused", unit=MetricUnit.Count, value=1)
    return Unauthorized(
        "this signature was used already: sign every request afresh (a replay is refused)"
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
