"""The health logic without HTTP: a shard's heartbeat judged, the consumers' lag, the overall
answer, the probes run at once under one deadline, the cache, and the metric per failing check."""

import json
import threading
import time
from collections.abc import Mapping, Sequence

import pytest

from exchange.health.model import (
    LAG_DEGRADED_EVENTS,
    STALLED_AFTER_S,
    CheckResult,
    CheckStatus,
    Cursor,
    Overall,
    Report,
    consumer_lag,
    judge_heartbeat,
)
from exchange.health.service import HealthService, run_probes
from exchange.heartbeat import Heartbeat, encode_heartbeat
from exchange.messaging import ShardMap

SYMBOLS = ["BTC-USD", "ETH-USD"]
NOW_MS = 1_000_000


def stored(*, at_ms: int = NOW_MS - 200, status: str = "ready", shard: str = "s1") -> bytes:
    return encode_heartbeat(Heartbeat(shard, at_ms, status, dict.fromkeys(SYMBOLS, 5)))


def judge(value: bytes | None, *, max_age_ms: float = 15_000) -> CheckResult:
    return judge_heartbeat(
        "s1", value, SYMBOLS, now_ms=NOW_MS, max_age_ms=max_age_ms, latency_ms=1.0
    )


# --- a shard's heartbeat ------------------------------------------------------------------------


def test_a_fresh_heartbeat_is_ok_with_its_age_and_seqs() -> None:
    result = judge(stored())
    assert (result.status, result.age_ms, result.seqs) == (
        CheckStatus.OK,
        200,
        dict.fromkeys(SYMBOLS, 5),
    )


def test_a_heartbeat_just_past_the_maximum_age_fails() -> None:
    assert judge(stored(at_ms=NOW_MS - 15_000)).status is CheckStatus.OK
    late = judge(stored(at_ms=NOW_MS - 15_001))
    assert late.status is CheckStatus.FAIL
    assert late.critical


def test_a_host_clock_ahead_of_ours_counts_as_no_age() -> None:
    assert judge(stored(at_ms=NOW_MS + 3_000)).age_ms == 0


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (None, "no heartbeat: the engine is not running its loop"),
        (b"{not json", "heartbeat unreadable: not a heartbeat"),
        (b'{"shard": "s1"}', "heartbeat unreadable: not a heartbeat"),
        (stored(shard="s9"), "heartbeat unreadable: it names shard 's9'"),
    ],
)
def test_a_missing_or_foreign_heartbeat_fails(value: bytes | None, detail: str) -> None:
    result = judge(value)
    assert (result.status, result.detail) == (CheckStatus.FAIL, detail)


def test_a_heartbeat_without_one_of_the_shards_symbols_fails() -> None:
    beat = encode_heartbeat(Heartbeat("s1", NOW_MS, "ready", {"BTC-USD": 1}))
    assert judge(beat).detail == "the engine does not trade ETH-USD"


def test_an_engine_that_says_it_is_degraded_is_degraded() -> None:
    assert judge(stored(status="degraded")).status is CheckStatus.DEGRADED


# --- the consumers' lag -------------------------------------------------------------------------


def test_lag_is_the_engines_seq_minus_the_consumers_never_below_zero() -> None:
    cursors = {("fanout", "BTC-USD"): Cursor(7, 0), ("fanout", "ETH-USD"): Cursor(12, 0)}
    lag, why = consumer_lag(["fanout"], {"BTC-USD": 10, "ETH-USD": 11}, cursors, now_ns=0)
    assert lag == {"fanout": {"BTC-USD": 3, "ETH-USD": 0}}
    assert why == []


def test_a_consumer_far_behind_is_degraded_however_recently_it_moved() -> None:
    cursors = {("settlement", "BTC-USD"): Cursor(1, 0)}
    seqs = {"BTC-USD": 1 + LAG_DEGRADED_EVENTS}
    _, why = consumer_lag(["settlement"], seqs, cursors, now_ns=0)
    assert why == [f"settlement BTC-USD: {LAG_DEGRADED_EVENTS} events behind"]
    _, fine = consumer_lag(["settlement"], {"BTC-USD": LAG_DEGRADED_EVENTS}, cursors, now_ns=0)
    assert fine == []


def test_a_consumer_behind_and_idle_past_the_stall_limit_is_degraded() -> None:
    cursors = {("candles", "BTC-USD"): Cursor(9, 0)}
    stalled_ns = int(STALLED_AFTER_S * 1e9)
    _, moving = consumer_lag(["candles"], {"BTC-USD": 10}, cursors, now_ns=stalled_ns - 1)
    _, stalled = consumer_lag(["candles"], {"BTC-USD": 10}, cursors, now_ns=stalled_ns)
    _, idle_but_caught_up = consumer_lag(["candles"], {"BTC-USD": 9}, cursors, now_ns=stalled_ns)
    assert (moving, idle_but_caught_up) == ([], [])
    assert stalled == ["candles BTC-USD: 1 events behind, no progress for 60 s"]


# --- the overall answer -------------------------------------------------------------------------


def check(status: CheckStatus, *, critical: bool = True) -> CheckResult:
    return CheckResult(status=status, latency_ms=0.0, detail="", critical=critical)


@pytest.mark.parametrize(
    ("checks", "overall"),
    [
        ({"a": check(CheckStatus.OK), "b": check(CheckStatus.OK, critical=False)}, Overall.OK),
        (
            {"a": check(CheckStatus.OK), "b": check(CheckStatus.FAIL, critical=False)},
            Overall.DEGRADED,
        ),
        ({"a": check(CheckStatus.DEGRADED), "b": check(CheckStatus.OK)}, Overall.DEGRADED),
        ({"a": check(CheckStatus.FAIL), "b": check(CheckStatus.DEGRADED)}, Overall.UNHEALTHY),
    ],
)
def test_only_a_failed_critical_check_makes_the_answer_unhealthy(
    checks: dict[str, CheckResult], overall: Overall
) -> None:
    report = Report(checks)
    assert report.status is overall
    assert report.trading is (overall is not Overall.UNHEALTHY)


# --- running the probes -------------------------------------------------------------------------


def test_probes_run_at_once_so_the_answer_takes_the_slowest_not_the_sum() -> None:
    def slow() -> str:
        time.sleep(0.5)
        return "done"

    started = time.monotonic()
    outcomes = run_probes({f"p{i}": slow for i in range(5)}, timeout_s=5.0)
    assert time.monotonic() - started < 1.5  # one after another would take 2.5 s
    assert {outcome.value for outcome in outcomes.values()} == {"done"}
    assert all(outcome.latency_ms >= 500 for outcome in outcomes.values())


def test_a_probe_that_does_not_answer_by_the_deadline_fails_and_the_rest_stand() -> None:
    release = threading.Event()
    try:
        outcomes = run_probes({"stuck": lambda: release.wait(5), "quick": lambda: 1}, 0.5)
    finally:
        release.set()
    assert outcomes["stuck"].error == "no answer within 0.5 s"
    assert outcomes["quick"].value == 1
    assert outcomes["quick"].error is None


def test_a_probe_error_is_reported_by_its_kind_and_sqlstate_only() -> None:
    class OperationalError(Exception):
        sqlstate = "28P01"

    def refused() -> None:
        raise OperationalError('password authentication failed for user "x" at db.internal')

    (outcome,) = run_probes({"ledger": refused}, 1.0).values()
    assert outcome.error == "OperationalError (SQLSTATE 28P01)"


# --- the service: cache and metrics -------------------------------------------------------------


class Redis:
    def __init__(self) -> None:
        self.pings = 0

    def ping(self) -> None:
        self.pings += 1

    def heartbeats(self, shards: Sequence[str]) -> dict[str, bytes | None]:
        return {shard: stored(at_ms=time.time_ns() // 1_000_000) for shard in shards}

    def close(self) -> None:
        pass


class Cursors:
    def read(
        self, consumers: Sequence[str], symbols: Sequence[str]
    ) -> Mapping[tuple[str, str], Cursor]:
        return {}


def service(redis: Redis, clock: list[float], *, ledger_up: bool = True) -> HealthService:
    def ledger() -> None:
        if not ledger_up:
            raise ConnectionError("refused")

    return HealthService(
        ledger=ledger,
        broker=lambda: None,
        redis=redis,
        cursors=Cursors(),
        shards=ShardMap({"s1": SYMBOLS}),
        consumers=["fanout"],
        max_age_s=15,
        timeout_s=1,
        cache_s=5,
        clock=lambda: clock[0],
    )


def test_the_report_is_reused_for_the_cache_period_then_made_anew() -> None:
    redis, clock = Redis(), [100.0]
    health = service(redis, clock)
    first = health.report()
    clock[0] = 104.9
    assert health.report() is first
    assert redis.pings == 1
    clock[0] = 105.0
    assert health.report() is not first
    assert redis.pings == 2


def emitted(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


def test_each_failing_check_emits_a_metric_with_its_name_once_per_fresh_report(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the ledger down
    redis, clock = Redis(), [0.0]
    health = service(redis, clock, ledger_up=False)
    # When the report is made, then served again from the cache
    assert health.report().status is Overall.UNHEALTHY
    health.report()
    # Then one HealthCheckFailed metric says which check failed
    metrics = emitted(capsys.readouterr().out)
    assert len(metrics) == 1
    assert metrics[0]["HealthCheckFailed"] == [1.0]
    assert metrics[0]["check"] == "ledger"
    assert metrics[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["check", "service"]]  # type: ignore[index]


def test_a_healthy_report_emits_no_metric(capsys: pytest.CaptureFixture[str]) -> None:
    assert service(Redis(), [0.0]).report().status is Overall.OK
    assert emitted(capsys.readouterr().out) == []
