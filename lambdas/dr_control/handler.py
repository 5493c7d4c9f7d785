"""The failover and failback state machines' calls into the other region, and health probes.

Step Functions calls AWS services in its own region only ("Accessing resources in other AWS
accounts in Step Functions": cross-Region AWS SDK integration isn't available), and both state
machines live in the DR region. So what they do in the primary region (scale its engine services,
enable or disable its schedules) goes through this function, whose boto3 clients name that region
explicitly. It also probes a region's public health route, ``GET <stage URL>/v1/health``, which
answers 200 only when trading can work (``lambdas.health``): the state machines' last step.

Each event is one action (``lambdas.dr_control``) on one target of ``EXCHANGE_DR_TARGETS``; the
answer is JSON the state machine decides on. A call that AWS refuses raises, so the state's
retries and then its Catch see it; a health probe that cannot connect is an unhealthy answer, not
an error (the state machine asks again).
"""

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import boto3
from botocore.config import Config

from lambdas.dr_control import (
    ENGINES_SETTLED,
    PROBE_HEALTH,
    SCALE_ENGINES,
    SET_SCHEDULES,
    TARGETS_ENV,
)

# A region that does not answer fails the call in seconds, not after the SDK's long defaults:
# the state's own retries (with backoff) decide how long to keep trying.
CLIENT_CONFIG: Final = Config(
    connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 3}
)
PROBE_TIMEOUT_S: Final = 10
DETAIL_CHARS: Final = 1000  # of the health answer's body, kept in the execution's history

ClientFactory = Callable[[str, str], Any]  # (service, region) -> a boto3 client


@dataclass(frozen=True, slots=True)
class Target:
    """One region's resources, as the CDK app wrote them into the environment."""

    region: str
    cluster: str | None = None
    services: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    health_url: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "Target":
        return cls(
            region=str(raw["region"]),
            cluster=raw.get("cluster"),
            services=tuple(raw.get("services", ())),
            rules=tuple(raw.get("rules", ())),
            health_url=raw.get("health_url"),
        )


@dataclass(slots=True)
class Control:
    targets: Mapping[str, Target]
    client: ClientFactory = field(
        default=lambda service, region: boto3.client(
            service, region_name=region, config=CLIENT_CONFIG
        )
    )
    open_url: Callable[..., Any] = urllib.request.urlopen

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> "Control":
        raw = json.loads(environ[TARGETS_ENV])
        return cls({name: Target.parse(value) for name, value in raw.items()})

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        action, name = event.get("action"), event.get("target")
        target = self.targets.get(str(name))
        if target is None:
            raise ValueError(f"unknown target {name!r} (known: {sorted(self.targets)})")
        if action == SCALE_ENGINES:
            return self.scale_engines(target, _count(event))
        if action == ENGINES_SETTLED:
            return self.engines_settled(target, _count(event))
        if action == SET_SCHEDULES:
            enabled = event.get("enabled")
            if not isinstance(enabled, bool):
                raise ValueError(f"set_schedules needs a boolean 'enabled', got {enabled!r}")
            return self.set_schedules(target, enabled=enabled)
        if action == PROBE_HEALTH:
            return self.probe_health(target)
        raise ValueError(f"unknown action {action!r}")

    def scale_engines(self, target: Target, count: int) -> dict[str, Any]:
        """UpdateService desiredCount on every engine service of the target's cluster."""
        cluster, services = _engines(target)
        ecs = self.client("ecs", target.region)
        for service in services:
            ecs.update_service(cluster=cluster, service=service, desiredCount=count)
        return {"region": target.region, "services": list(services), "desired": count}

    def engines_settled(self, target: Target, count: int) -> dict[str, Any]:
        """Is every engine service at ``count`` desired and running, nothing pending?"""
        cluster, services = _engines(target)
        answer = self.client("ecs", target.region).describe_services(
            cluster=cluster, services=list(services)
        )
        if answer.get("failures"):
            raise RuntimeError(f"ECS could not describe {answer['failures']}")
        found = [
            {
                "service": s["serviceName"],
                "desired": s["desiredCount"],
                "running": s["runningCount"],
                "pending": s["pendingCount"],
            }
            for s in answer.get("services", [])
        ]
        settled = len(found) == len(services) and all(
            (s["desired"], s["running"], s["pending"]) == (count, count, 0) for s in found
        )
        return {"region": target.region, "settled": settled, "services": found}

    def set_schedules(self, target: Target, *, enabled: bool) -> dict[str, Any]:
        """EnableRule or DisableRule on each of the target's schedule rules (by name)."""
        if not target.rules:
            raise ValueError(f"no schedules configured in {target.region}")
        events = self.client("events", target.region)
        call = events.enable_rule if enabled else events.disable_rule
        for rule in target.rules:
            call(Name=rule)
        return {"region": target.region, "rules": list(target.rules), "enabled": enabled}

    def probe_health(self, target: Target) -> dict[str, Any]:
        """GET the health route once: 200 is healthy; any other answer, or none, is not."""
        url = target.health_url
        if url is None or not url.startswith("https://"):
            raise ValueError(f"no HTTPS health URL configured in {target.region}: {url!r}")
        request = urllib.request.Request(  # noqa: S310 - an https URL from the CDK app, checked
            url, headers={"User-Agent": "exchange-dr-control"}
        )
        try:
            with self.open_url(request, timeout=PROBE_TIMEOUT_S) as answer:
                status, body = int(answer.status), answer.read(DETAIL_CHARS)
        except urllib.error.HTTPError as exc:  # 503: a dependency is down (the body says which)
            status, body = exc.code, exc.read(DETAIL_CHARS)
        except (urllib.error.URLError, OSError) as exc:  # no answer at all
            status, body = 0, str(exc).encode()
        detail = body.decode("utf-8", errors="replace")[:DETAIL_CHARS]
        return {
            "region": target.region,
            "healthy": status == 200,
            "status": status,
            "detail": detail,
        }


def _count(event: Mapping[str, Any]) -> int:
    count = event.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValueError(f"needs a non-negative integer 'count', got {count!r}")
    return count


def _engines(target: Target) -> tuple[str, tuple[str, ...]]:
    if target.cluster is None or not target.services:
        raise ValueError(f"no engine services configured in {target.region}")
    return target.cluster, target.services


_CONTROL: Control | None = None


def handler(event: dict[str, Any], context: Any, control: Control | None = None) -> dict[str, Any]:
    global _CONTROL  # noqa: PLW0603 - built once per execution environment, at first use
    if control is None:
        _CONTROL = _CONTROL or Control.from_environment()
        control = _CONTROL
    answer = control.handle(event)
    print(json.dumps({"event": event, "answer": answer}, default=str))  # one log line per call
    return answer
