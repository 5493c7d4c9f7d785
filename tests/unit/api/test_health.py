"""GET /v1/health through the health function's handler, on fakes of each dependency: which
failures answer 503 (trading cannot work), which only degrade the 200, and what the body says.

Route 53's failover check reads only the status: an HTTP check is healthy when the endpoint
answers "with an HTTP status code of 2xx or 3xx within two seconds after connecting" ("How Amazon
Route 53 determines whether a health check is healthy", Route 53 Developer Guide). So a degraded
region must answer 200 (it keeps its traffic), one that cannot trade a status of 400 or more, and
a hanging dependency must not hold the answer past the check's own deadline.
"""

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest

from exchange.health.model import STALLED_AFTER_S, Cursor
from exchange.health.service import HealthService
from exchange.heartbeat import Heartbeat, encode_heartbeat
from exchange.http.problems import PROBLEM_CONTENT_TYPE
from exchange.messaging import ShardMap
from exchange.settings import HealthSettings, load_settings
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from lambdas.health.handler import ROOT, compose, handler
from lambdas.markets.handler import handler as markets_handler
from tests.unit.api.conftest import Exchange, Reply

NOW_NS = 1_700_000_000_000 * 1_000_000
NOW_MS = NOW_NS // 1_000_000
SHARDS = {"s1": ["BTC-USD", "ETH-USD"], "s2": ["SOL-USD"]}
# What a driver's error message may carry; no answer may repeat it.
SECRET_HOST, SECRET = "10.1.2.3", "hunter2"


def up() -> None:
    return None


def down() -> None:
    raise OSError(f"connection to {SECRET_HOST}:5432 refused (password={SECRET})")


class FakeRedis:
    def __init__(self) -> None:
        self.stored: dict[str, bytes] = {}
        self.down = False

    def ping(self) -> None:
        if self.down:
            down()

    def heartbeats(self, shards: Sequence[str]) -> dict[str, bytes | None]:
        self.ping()
        return {shard: self.stored.get(shard) for shard in shards}

    def close(self) -> None:
        pass

    def beat(self, shard: str, *, age_s: float = 0.5, status: str = "ready", **seqs: int) -> None:
        symbols = {symbol: seqs.get(symbol.replace("-", "_"), 0) for symbol in SHARDS[shard]}
        at_ms = NOW_MS - int(age_s * 1000)
        self.stored[shard] = encode_heartbeat(Heartbeat(shard, at_ms, status, symbols))


class FakeCursors:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Cursor] = {}
        self.down = False
        self.reads = 0

    def read(
        self, consumers: Sequence[str], symbols: Sequence[str]
    ) -> Mapping[tuple[str, str], Cursor]:
        self.reads += 1
        if self.down:
            down()
        return {key: row for key, row in self.rows.items() if key[0] in consumers}


def healthy(shards: Mapping[str, list[str]] | None = None) -> HealthService:
    """The health function's service with every dependency up and every shard beating now (the
    shipped shard map by default): what a test's in-process gateway serves on GET /v1/health."""
    shards = dict(shards or ShardMap.demo().shards)
    now_ms = time.time_ns() // 1_000_000
    redis = FakeRedis()
    redis.stored = {
        shard: encode_heartbeat(Heartbeat(shard, now_ms, "ready", dict.fromkeys(symbols, 0)))
        for shard, symbols in shards.items()
    }
    settings = HealthSettings(shards=shards)
    return compose(settings, ledger=up, broker=up, redis=redis, cursors=FakeCursors())


@pytest.fixture
def redis() -> FakeRedis:
    fake = FakeRedis()
    fake.beat("s1", BTC_USD=10, ETH_USD=4)
    fake.beat("s2", SOL_USD=7)
    return fake


@pytest.fixture
def cursors() -> FakeCursors:
    return FakeCursors()


Build = Callable[..., HealthService]


@pytest.fixture
def build(redis: FakeRedis, cursors: FakeCursors) -> Build:
    def make(**adapters: Any) -> HealthService:
        settings = HealthSettings(shards=SHARDS, health_cache_seconds=0)
        wiring: dict[str, Any] = {
            "ledger": up,
            "broker": up,
            "redis": redis,
            "cursors": cursors,
            "wall_ns": lambda: NOW_NS,
        }
        return compose(settings, **{**wiring, **adapters})

    return make


def ask(service: HealthService | None, method: str = "GET", **kwargs: Any) -> Reply:
    event = rest_event(method, "/v1/health", resource="/v1/health", **kwargs)
    return Reply.of(handler(event, LambdaContextStub(), health=service))


def test_all_dependencies_up_answers_200_ok_with_every_check(build: Build) -> None:
    # Given every dependency answering and both shards beating
    # When the health route is asked
    reply = ask(build())
    # Then it is 200 ok, listing each dependency, each shard and the consumers
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.body["status"] == "ok"
    checks = reply.body["checks"]
    assert set(checks) == {"ledger", "broker", "redis", "engine:s1", "engine:s2", "consumers"}
    assert {check["status"] for check in checks.values()} == {"ok"}
    assert all(isinstance(check["latency_ms"], float) for check in checks.values())
    assert checks["engine:s1"]["age_ms"] == 500
    assert checks["engine:s1"]["seqs"] == {"BTC-USD": 10, "ETH-USD": 4}
    # And the consumers are the cursored sinks, each one's lag per symbol in events
    assert checks["consumers"]["lag"]["fanout"] == {"BTC-USD": 10, "ETH-USD": 4, "SOL-USD": 7}
    assert set(checks["consumers"]["lag"]) == {"settlement", "fanout", "candles"}


@pytest.mark.parametrize("dependency", ["ledger", "broker"])
def test_an_unreachable_ledger_or_broker_answers_503_problem_listing_every_check(
    build: Build, dependency: str
) -> None:
    # Given the ledger (or the broker) refusing connections
    reply = ask(build(**{dependency: down}))
    # Then the answer is 503 problem+json naming it, with every check still listed
    assert reply.status == 503
    assert reply.headers["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert reply.headers["Retry-After"] == "5"
    body = reply.body
    assert (body["type"], body["code"], body["status"]) == (
        "urn:exchange:problem:unhealthy",
        "unhealthy",
        503,
    )
    assert body["detail"] == f"trading cannot work: {dependency} failed"
    assert body["checks"][dependency]["status"] == "fail"
    assert body["checks"][dependency]["detail"] == f"{dependency} unreachable: OSError"
    others = {name for name, check in body["checks"].items() if check["status"] == "ok"}
    assert dependency not in others
    assert len(others) == 5


def test_no_answer_repeats_the_drivers_message_with_its_host_or_secret(build: Build) -> None:
    reply = ask(build(ledger=down, broker=down))
    text = json.dumps(reply.body)
    assert SECRET_HOST not in text
    assert SECRET not in text


def test_redis_down_answers_503_and_no_shard_can_be_seen_beating(
    build: Build, redis: FakeRedis
) -> None:
    redis.down = True
    reply = ask(build())
    assert reply.status == 503
    checks = reply.body["checks"]
    assert checks["redis"]["status"] == "fail"
    assert checks["engine:s1"]["detail"] == "heartbeat unreadable: OSError"
    assert reply.body["detail"] == "trading cannot work: engine:s1, engine:s2, redis failed"


def test_a_stale_heartbeat_answers_503_with_its_age(build: Build, redis: FakeRedis) -> None:
    # Given shard s2's last beat 16 s ago, over the 15 s maximum
    redis.beat("s2", age_s=16, SOL_USD=7)
    reply = ask(build())
    assert reply.status == 503
    shard = reply.body["checks"]["engine:s2"]
    assert shard["status"] == "fail"
    assert shard["age_ms"] == 16_000
    assert shard["detail"] == "heartbeat 16.0 s old (max 15 s): stuck or down"
    assert reply.body["checks"]["engine:s1"]["status"] == "ok"


def test_a_missing_heartbeat_answers_503(build: Build, redis: FakeRedis) -> None:
    del redis.stored["s1"]
    reply = ask(build())
    assert reply.status == 503
    assert reply.body["checks"]["engine:s1"]["detail"] == (
        "no heartbeat: the engine is not running its loop"
    )
    # And the consumers' lag is unknown for s1's symbols, not made up
    consumers = reply.body["checks"]["consumers"]
    assert consumers["detail"] == "lag unknown for BTC-USD, ETH-USD"
    assert consumers["lag"]["fanout"] == {"SOL-USD": 7}


def test_an_engine_whose_stores_fail_only_degrades_the_answer(
    build: Build, redis: FakeRedis
) -> None:
    redis.beat("s1", status="degraded")
    reply = ask(build())
    assert reply.status == 200
    assert reply.body["status"] == "degraded"
    assert reply.body["checks"]["engine:s1"] == {
        "status": "degraded",
        "latency_ms": reply.body["checks"]["engine:s1"]["latency_ms"],
        "detail": "engine degraded",
        "critical": True,
        "age_ms": 500,
        "seqs": {"BTC-USD": 0, "ETH-USD": 0},
    }


def test_a_stalled_consumer_degrades_but_does_not_fail_the_answer(
    build: Build, cursors: FakeCursors
) -> None:
    # Given settlement 2 events behind on BTC-USD and idle for longer than the stall limit
    idle_ns = int((STALLED_AFTER_S + 1) * 1e9)
    cursors.rows[("settlement", "BTC-USD")] = Cursor(8, NOW_NS - idle_ns)
    reply = ask(build())
    assert reply.status == 200
    assert reply.body["status"] == "degraded"
    consumers = reply.body["checks"]["consumers"]
    assert consumers["critical"] is False
    assert consumers["detail"] == "settlement BTC-USD: 2 events behind, no progress for 61 s"
    assert consumers["lag"]["settlement"]["BTC-USD"] == 2


def test_unreadable_cursors_degrade_the_answer(build: Build, cursors: FakeCursors) -> None:
    cursors.down = True
    reply = ask(build())
    assert (reply.status, reply.body["status"]) == (200, "degraded")
    assert reply.body["checks"]["consumers"]["detail"] == "progress unknown: OSError"


def test_a_hanging_dependency_fails_its_check_within_the_deadline(redis: FakeRedis) -> None:
    # Given a broker that never answers, and a 0.3 s deadline per check (Route 53 gives the
    # whole answer two seconds after connecting: see the module docstring)
    release = threading.Event()

    def hang() -> None:
        release.wait(10)

    settings = HealthSettings(shards=SHARDS, health_check_timeout_seconds=0.3)
    service = compose(
        settings,
        ledger=up,
        broker=hang,
        redis=redis,
        cursors=FakeCursors(),
        wall_ns=lambda: NOW_NS,
    )
    try:
        started = time.monotonic()
        reply = ask(service)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    # Then the answer comes within the deadline (plus overhead), the broker failed
    assert elapsed < 1.5
    assert reply.status == 503
    assert reply.body["checks"]["broker"]["detail"] == "broker unreachable: no answer within 0.3 s"


def test_the_route_takes_no_query_and_only_get(build: Build) -> None:
    service = build()
    assert ask(service, query={"verbose": "1"}).status == 400
    refused = ask(service, "POST")
    assert refused.status == 405
    assert refused.headers["Allow"] == "GET"


def test_the_markets_function_no_longer_answers_health(exchange: Exchange) -> None:
    event = rest_event("GET", "/v1/health", resource="/v1/health")
    reply = Reply.of(markets_handler(event, LambdaContextStub(), markets=exchange.markets))
    assert reply.status == 404


@pytest.fixture
def root(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The function's root, reading its settings from this test's environment."""
    monkeypatch.delenv("EXCHANGE_SHARDS", raising=False)
    load_settings.cache_clear()
    yield
    ROOT.reset()
    load_settings.cache_clear()


def test_the_composition_root_with_overridden_adapters_serves_the_route(
    root: None, redis: FakeRedis, cursors: FakeCursors
) -> None:
    # Given the function's own root (settings from the environment: the shipped shard map, whose
    # one shard s1 trades every demo symbol) with fakes for the dependencies
    symbols = ["BTC-USD", "ETH-USD", "SOL-USD"]
    now_ms = time.time_ns() // 1_000_000
    redis.stored = {
        "s1": encode_heartbeat(Heartbeat("s1", now_ms, "ready", dict.fromkeys(symbols, 3)))
    }
    ROOT.override(ledger=up, broker=up, redis=redis, cursors=cursors)
    # When the handler is called as Lambda calls it
    reply = ask(None)
    # Then it answers from the root's graph
    assert reply.status == 200
    assert set(reply.body["checks"]) == {"ledger", "broker", "redis", "engine:s1", "consumers"}
    assert reply.body["checks"]["consumers"]["lag"]["candles"] == dict.fromkeys(symbols, 3)


def test_the_healthy_service_for_other_tests_answers_200_ok() -> None:
    reply = ask(healthy())
    assert (reply.status, reply.body["status"]) == (200, "ok")
