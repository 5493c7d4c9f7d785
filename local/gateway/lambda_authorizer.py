"""The REST API's Lambda REQUEST authorizer, locally, with API Gateway's rules ("Use API Gateway
Lambda authorizers", "Input to" and "Output from an API Gateway Lambda authorizer", API Gateway
developer guide):

- each identity source (``method.request.header.X``, ``method.request.querystring.x``) must be
  present and non-empty, else 401 without calling the authorizer ("Why am I getting API Gateway
  401 Unauthorized errors after creating a Lambda authorizer?", AWS Knowledge Center);
- the authorizer gets the REQUEST event (``local.gateway.events.rest_authorizer_event``);
- it raises "Unauthorized": 401; it fails otherwise or answers malformed: 500
  (``AuthorizerConfigurationException``, ``local.gateway.policy``);
- its policy is evaluated against the request's method ARN: Allow passes, an explicit or an
  implicit deny is 403;
- with a result TTL above 0, the answer is cached per identity-source values for that long, and a
  cached answer's policy is evaluated again for each request's own method ARN: a policy that
  allows only the ARN it was made for refuses any other method until it expires ("Why does my API
  Gateway proxy resource with a Lambda authorizer that has caching activated return HTTP 403",
  AWS Knowledge Center);
- an allowed request's integration gets ``principalId`` and the context in
  ``requestContext.authorizer``.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from exchange.observability import logger
from local.functions import FunctionError, FunctionMissing
from local.gateway.events import HttpRequest, method_arn, rest_authorizer_event
from local.gateway.policy import AuthorizerAnswer, InvalidAnswer, parse_answer
from local.template_api import DeployedAuthorizer

HEADER: Final = "method.request.header."
QUERY: Final = "method.request.querystring."
CACHE_LIMIT: Final = 10_000
EXPLICIT_DENY: Final = "User is not authorized to access this resource with an explicit deny"


class Invoker(Protocol):
    async def ainvoke(self, name: str, event: dict[str, Any]) -> Any: ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """API Gateway's answer in place of the integration: a gateway response type."""

    response_type: str  # UNAUTHORIZED | ACCESS_DENIED | AUTHORIZER_CONFIGURATION_ERROR
    message: str | None = None


def check_identity_sources(sources: tuple[str, ...]) -> None:
    """ValueError for an identity source this twin cannot read (it would not be served)."""
    for source in sources:
        if not source.startswith((HEADER, QUERY)):
            raise ValueError(f"identity source {source!r} has no local twin")


def identity_values(sources: tuple[str, ...], request: HttpRequest) -> tuple[str, ...] | None:
    """Each identity source's value, or None when one is missing or empty."""
    values = []
    for source in sources:
        if source.startswith(HEADER):
            name = source.removeprefix(HEADER).lower()
            found = [v for k, v in request.headers if k.lower() == name]
        else:
            name = source.removeprefix(QUERY)
            found = [v for k, v in request.query if k == name]
        if not found or not found[-1]:
            return None
        values.append(found[-1])
    return tuple(values)


class RequestAuthorizers:
    """Every REQUEST authorizer's twin, with API Gateway's result cache."""

    def __init__(self, functions: Invoker, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._functions = functions
        self._clock = clock
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[float, AuthorizerAnswer]] = {}
        self.invocations = 0
        self.cache_hits = 0

    async def authorize(
        self,
        authorizer: DeployedAuthorizer,
        request: HttpRequest,
        *,
        resource: str,
        path_parameters: Mapping[str, str],
        request_id: str,
    ) -> Mapping[str, Any] | Refusal:
        """The integration's ``requestContext.authorizer``, or API Gateway's refusal."""
        assert authorizer.function is not None  # noqa: S101 - a REQUEST authorizer has one
        values = identity_values(authorizer.identity_sources, request)
        if values is None:
            return Refusal("UNAUTHORIZED")
        key = (authorizer.function, values)
        cached = self._cache.get(key) if authorizer.ttl_seconds > 0 else None
        started = self._clock()
        if cached is not None and cached[0] > started:
            self.cache_hits += 1
            answer = cached[1]
        else:
            event = rest_authorizer_event(
                request, resource=resource, path_parameters=path_parameters, request_id=request_id
            )
            outcome = await self._invoke(authorizer.function, event)
            if isinstance(outcome, Refusal):
                return outcome
            answer = outcome
            if authorizer.ttl_seconds > 0 and values:
                self._remember(key, (started + authorizer.ttl_seconds, answer))
        decision = answer.decide(method_arn(request.method, request.path))
        if decision == "deny":
            return Refusal("ACCESS_DENIED", EXPLICIT_DENY)
        if decision == "implicit-deny":
            return Refusal("ACCESS_DENIED")
        latency_ms = int((self._clock() - started) * 1000)
        return {**answer.request_context(), "integrationLatency": latency_ms}

    async def _invoke(self, function: str, event: dict[str, Any]) -> AuthorizerAnswer | Refusal:
        self.invocations += 1
        try:
            return parse_answer(await self._functions.ainvoke(function, event))
        except FunctionError as exc:
            if exc.message == "Unauthorized":
                return Refusal("UNAUTHORIZED")
            logger.warning("REST authorizer failed", extra={"error": str(exc)})
        except FunctionMissing:
            logger.warning("REST authorizer is not built", extra={"function": function})
        except InvalidAnswer as exc:
            logger.warning("REST authorizer answered malformed", extra={"error": str(exc)})
        return Refusal("AUTHORIZER_CONFIGURATION_ERROR")

    def _remember(
        self, key: tuple[str, tuple[str, ...]], entry: tuple[float, AuthorizerAnswer]
    ) -> None:
        if len(self._cache) >= CACHE_LIMIT:  # signed requests each have their own header
            now = self._clock()
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        self._cache[key] = entry

    def clear(self) -> None:
        self._cache.clear()
