"""``HealthService``: runs every probe at once, each against the same deadline, and turns what they
found into a ``Report`` (``exchange.health.model`` says what each status means).

The probes run on threads, so the answer takes about the slowest probe and never longer than
``timeout_s`` (a probe still running then is reported failed and left to its own socket
timeout). The report is kept for ``cache_s`` per container: Route 53's checkers and the public
poll the route, and each answer opens a database and a broker connection. A fresh report emits
a ``HealthCheckFailed`` (or ``HealthCheckDegraded``) metric per check that is not ``ok``, with a
``check`` dimension, for alarms; a cached one emits nothing.
"""

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from exchange.health.model import (
    CheckResult,
    CheckStatus,
    Cursor,
    Report,
    consumer_lag,
    judge_heartbeat,
)
from exchange.messaging import ShardMap
from exchange.observability import METRICS_NAMESPACE, logger, metrics

Ping = Callable[[], None]


class HeartbeatReader(Protocol):
    def ping(self) -> None: ...

    def heartbeats(self, shards: Sequence[str]) -> Mapping[str, bytes | None]:
        """Each shard's heartbeat as stored (``exchange.heartbeat``), None where there is none."""

    def close(self) -> None: ...


class CursorReader(Protocol):
    def read(
        self, consumers: Sequence[str], symbols: Sequence[str]
    ) -> Mapping[tuple[str, str], Cursor]: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one probe did: its value, or why it failed (never the error's text, which may name
    a host), and how long it took."""

    value: Any
    error: str | None
    latency_ms: float


def run_probes(probes: Mapping[str, Callable[[], Any]], timeout_s: float) -> dict[str, Outcome]:
    """Every probe at once on its own thread; whatever has not answered by ``timeout_s`` fails."""
    started = time.monotonic()
    outcomes: dict[str, Outcome] = {}

    def timed(name: str, probe: Callable[[], Any]) -> None:
        begun = time.monotonic()
        try:
            value, error = probe(), None
        # A probe's every failure, whatever the client library raises, is what it reports.
        except Exception as exc:  # noqa: BLE001
            value, error = None, _reason(exc)
            logger.warning("health probe failed", extra={"probe": name, "error": repr(exc)})
        outcomes[name] = Outcome(value, error, round((time.monotonic() - begun) * 1000, 1))

    pool = ThreadPoolExecutor(max_workers=max(1, len(probes)), thread_name_prefix="health")
    futures: list[Future[None]] = [pool.submit(timed, n, p) for n, p in probes.items()]
    wait(futures, timeout=timeout_s)
    pool.shutdown(wait=False, cancel_futures=True)
    late = round((time.monotonic() - started) * 1000, 1)
    answered = dict(outcomes)  # a late probe may still write; what it writes is ignored
    return {
        name: answered.get(name) or Outcome(None, f"no answer within {timeout_s:g} s", late)
        for name in probes
    }


def _reason(exc: BaseException) -> str:
    """The error's kind (and SQLSTATE, when the database gave one), never its message."""
    sqlstate = getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__} (SQLSTATE {sqlstate})" if sqlstate else type(exc).__name__


class HealthService:
    def __init__(
        self,
        *,
        ledger: Ping,
        broker: Ping,
        redis: HeartbeatReader,
        cursors: CursorReader,
        shards: ShardMap,
        consumers: Sequence[str],
        max_age_s: float,
        timeout_s: float,
        cache_s: float,
        clock: Callable[[], float] = time.monotonic,
        wall_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._ledger = ledger
        self._broker = broker
        self._redis = redis
        self._cursors = cursors
        self._shards = shards
        self._consumers = list(consumers)
        self._max_age_ms = max_age_s * 1000
        self._timeout_s = timeout_s
        self._cache_s = cache_s
        self._clock = clock
        self._wall_ns = wall_ns
        self._lock = threading.Lock()
        self._cached: tuple[float, Report] | None = None

    def close(self) -> None:
        """Close the Redis client (a container just lets it die with the process)."""
        self._redis.close()

    def report(self) -> Report:
        """The cached report while it is fresh, else a new one."""
        with self._lock:
            now = self._clock()
            if self._cached is not None and now - self._cached[0] < self._cache_s:
                return self._cached[1]
            report = self.check()
            self._cached = (self._clock(), report)
        self._emit(report)
        return report

    def check(self) -> Report:
        """Run every probe now (no cache)."""
        shards = sorted(self._shards.shards)
        symbols = sorted({s for symbols in self._shards.shards.values() for s in symbols})
        outcomes = run_probes(
            {
                "ledger": self._ledger,
                "broker": self._broker,
                "redis": self._redis.ping,
                "heartbeats": lambda: self._redis.heartbeats(shards),
                "cursors": lambda: self._cursors.read(self._consumers, symbols),
            },
            self._timeout_s,
        )
        checks = {name: _ping(outcomes[name], name) for name in ("ledger", "broker", "redis")}
        beats = outcomes["heartbeats"]
        now_ns = self._wall_ns()
        seqs: dict[str, int] = {}
        for shard in shards:
            result = self._shard(shard, beats, now_ns // 1_000_000)
            checks[f"engine:{shard}"] = result
            if result.seqs is not None:
                seqs.update(result.seqs)
        checks["consumers"] = self._consumers_check(outcomes["cursors"], seqs, now_ns)
        return Report(checks)

    def _shard(self, shard: str, beats: Outcome, now_ms: int) -> CheckResult:
        if beats.error is not None:
            status, detail = CheckStatus.FAIL, f"heartbeat unreadable: {beats.error}"
            return CheckResult(
                status=status, latency_ms=beats.latency_ms, detail=detail, critical=True
            )
        return judge_heartbeat(
            shard,
            beats.value.get(shard),
            self._shards.shards[shard],
            now_ms=now_ms,
            max_age_ms=self._max_age_ms,
            latency_ms=beats.latency_ms,
        )

    def _consumers_check(
        self, cursors: Outcome, seqs: Mapping[str, int], now_ns: int
    ) -> CheckResult:
        def result(status: CheckStatus, detail: str, **extra: Any) -> CheckResult:
            return CheckResult(
                status=status, latency_ms=cursors.latency_ms, detail=detail, critical=False, **extra
            )

        if cursors.error is not None:
            return result(CheckStatus.DEGRADED, f"progress unknown: {cursors.error}")
        lag, why = consumer_lag(self._consumers, seqs, cursors.value, now_ns=now_ns)
        if why:
            return result(CheckStatus.DEGRADED, "; ".join(why), lag=lag)
        unknown = sorted(set(self._symbols()) - set(seqs))
        detail = "keeping up" if not unknown else f"lag unknown for {', '.join(unknown)}"
        return result(CheckStatus.OK, detail, lag=lag)

    def _symbols(self) -> list[str]:
        return [symbol for symbols in self._shards.shards.values() for symbol in symbols]

    def _emit(self, report: Report) -> None:
        unhealthy = {n: c for n, c in report.checks.items() if c.status is not CheckStatus.OK}
        if not unhealthy:
            return
        logger.warning(
            "health checks not ok",
            extra={
                "status": report.status.value,
                "checks": {n: c.detail for n, c in unhealthy.items()},
            },
        )
        for name, check in unhealthy.items():
            metric = "HealthCheckFailed" if check.failed else "HealthCheckDegraded"
            with single_metric(
                name=metric,
                unit=MetricUnit.Count,
                value=1,
                namespace=METRICS_NAMESPACE,
                default_dimensions=metrics.default_dimensions,
            ) as emitted:
                emitted.add_dimension(name="check", value=name)


def _ping(outcome: Outcome, name: str) -> CheckResult:
    if outcome.error is None:
        return CheckResult(
            status=CheckStatus.OK, latency_ms=outcome.latency_ms, detail="answered", critical=True
        )
    return CheckResult(
        status=CheckStatus.FAIL,
        latency_ms=outcome.latency_ms,
        detail=f"{name} unreachable: {outcome.error}",
        critical=True,
    )
