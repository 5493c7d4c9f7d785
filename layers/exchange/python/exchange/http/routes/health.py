"""Route of the health function: ``GET /v1/health``, which Route 53's failover check probes.

200 with ``{"status": "ok" | "degraded", "checks": {...}}`` while trading can work; 503 when it
cannot, as problem+json (code ``unhealthy``) that still lists every check, with ``Retry-After``.
``exchange.health.model`` says which check fails the answer and which only degrades it.
"""

from http import HTTPStatus
from typing import Any, Final

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponse,
    OpenAPIResponseContentModel,
)
from pydantic import Field

from exchange.health.model import CheckResult, Overall, Report
from exchange.health.service import HealthService
from exchange.http.app import service
from exchange.http.problems import PROBLEM_CONTENT_TYPE, Problem, problem, responses
from exchange.http.routing import new_router
from exchange.http.schemas import CheckOut, HealthOut

UNHEALTHY: Final = "unhealthy"
# Seconds: an answer is cached about this long, so asking sooner tells nothing new.
RETRY_AFTER_S: Final = 5


class HealthProblem(Problem):
    """Trading cannot work here: a critical check failed (``detail`` names them)."""

    checks: dict[str, CheckOut] = Field(description="Every check, as on a 200")


def health_router() -> Router:
    router = new_router()
    documented = responses(200, "Trading can work here", 400)
    documented[200] = OpenAPIResponse(
        description="Trading can work here (degraded: it works, something is behind)",
        content={"application/json": OpenAPIResponseContentModel(model=HealthOut)},
    )
    documented[503] = OpenAPIResponse(
        description="Trading cannot work here: the ledger, the broker, Redis or an engine shard "
        "is down (Route 53 fails over)",
        content={PROBLEM_CONTENT_TYPE: OpenAPIResponseContentModel(model=HealthProblem)},
    )

    @router.get(
        "/v1/health",
        summary="Whether trading can work in this region, dependency by dependency",
        responses=documented,
        tags=["health"],
    )
    def health() -> Response[Any]:
        report = service(router, HealthService).report()
        checks = {name: _check(check) for name, check in report.checks.items()}
        if report.trading:
            body = HealthOut(
                status="ok" if report.status is Overall.OK else "degraded", checks=checks
            )
            return Response(
                status_code=HTTPStatus.OK,
                content_type="application/json",
                body=body.model_dump_json(exclude_none=True),
            )
        return _unavailable(report, checks, _request_id(router))

    return router


def _unavailable(
    report: Report, checks: dict[str, CheckOut], request_id: str | None
) -> Response[Any]:
    base = problem(
        HTTPStatus.SERVICE_UNAVAILABLE,
        UNHEALTHY,
        f"trading cannot work: {', '.join(report.failing())} failed",
        instance=request_id or None,
    )
    body = HealthProblem(**base.model_dump(), checks=checks)
    return Response(
        status_code=HTTPStatus.SERVICE_UNAVAILABLE,
        content_type=PROBLEM_CONTENT_TYPE,
        body=body.model_dump_json(exclude_none=True),
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _request_id(router: Router) -> str | None:
    context = router.current_event.get("requestContext") or {}
    return context.get("requestId") or None


def _check(check: CheckResult) -> CheckOut:
    return CheckOut(
        status=check.status.value,
        latency_ms=check.latency_ms,
        detail=check.detail,
        critical=check.critical,
        age_ms=check.age_ms,
        seqs=dict(check.seqs) if check.seqs is not None else None,
        lag={consumer: dict(lag) for consumer, lag in check.lag.items()} if check.lag else None,
    )
