"""GET /v1/health on the real services: PostgreSQL (as a role that may only log in), RabbitMQ,
Redis with a heartbeat written by the engine's own loop and writer, and the cursors table on
moto's DynamoDB. 200 when all are up; 503 when the database or the broker is unreachable, or a
shard's heartbeat is stale or missing."""

import json
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import redis
from psycopg import sql
from psycopg.conninfo import make_conninfo

from engine_service.adapters.heartbeat import RedisHeartbeat
from engine_service.adapters.memory import InMemoryBroker, InMemoryJournal, InMemorySnapshotStore
from engine_service.runtime import EngineRuntime, RuntimeConfig, Status
from exchange import wire
from exchange.domain import InstrumentCatalog
from exchange.health.model import Cursor
from exchange.health.probes import DynamoCursors
from exchange.health.service import HealthService
from exchange.heartbeat import Heartbeat, heartbeat_key
from exchange.journal.cursors import DynamoCursorStore
from exchange.settings import HealthSettings
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from lambdas.health.handler import compose, handler
from tests.unit.api.conftest import Reply
from tests.unit.engine_service.test_runtime import commands

CATALOG = InstrumentCatalog.demo()
SYMBOLS = ["BTC-USD", "ETH-USD"]


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def health_role_url(postgres_url: str) -> Iterator[str]:
    """A login role with no grants at all, as the health function's database role needs none."""
    role = f"exchange_health_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        yield make_conninfo(postgres_url, user=role)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def shard(redis_client: redis.Redis) -> Iterator[str]:
    """A shard of this test's own, so its heartbeat key is too."""
    name = f"h{uuid.uuid4().hex[:10]}"
    yield name
    redis_client.delete(heartbeat_key(name))


@pytest.fixture
def engine(shard: str, redis_client: redis.Redis) -> Iterator[EngineRuntime]:
    """The engine's runtime for ``shard`` (in-memory broker and journal) beating to the real
    Redis through its real writer; it has matched 200 BTC-USD commands."""
    broker = InMemoryBroker()
    for command in commands(200):
        broker.publish(shard, wire.encode_command(command))
    runtime = EngineRuntime(
        config=RuntimeConfig(shard=shard, linger_s=0.0),
        instruments=[CATALOG.get(symbol) for symbol in SYMBOLS],
        intake=broker.intake(shard),
        journal=InMemoryJournal(),
        snapshots=InMemorySnapshotStore(),
        heartbeat=RedisHeartbeat(redis_client, shard),
    )
    runtime.recover()
    runtime.connect()
    while broker.depth(shard):
        runtime.step()
    runtime.flush()
    runtime.config = RuntimeConfig(shard=shard, linger_s=0.0, heartbeat_every_s=0.0)
    runtime.step()  # beats now, with every event journaled
    wait_for_beat(redis_client, shard, runtime.engine.seq("BTC-USD"))
    yield runtime
    if runtime.status is not Status.STOPPED:
        runtime.shutdown()


def wait_for_beat(client: redis.Redis, shard: str, btc_seq: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        value = client.get(heartbeat_key(shard))
        if value is not None and json.loads(value)["seqs"]["BTC-USD"] == btc_seq:
            return
        time.sleep(0.01)
    raise AssertionError(f"no heartbeat of {shard} at BTC-USD seq {btc_seq}")


Ask = Callable[..., Reply]


@pytest.fixture
def ask(
    dynamodb: Any, health_role_url: str, rabbitmq_url: str, redis_url: str, shard: str
) -> Iterator[Ask]:
    """Builds the health function from its settings as Lambda would (``compose``), with one
    setting changed if asked, and calls its handler with an API Gateway REST proxy event."""
    made: list[HealthService] = []

    def call(**changes: Any) -> Reply:
        values: dict[str, Any] = {
            "database_url": health_role_url,
            "broker_url": rabbitmq_url,
            "redis_url": redis_url,
            "shards": {shard: SYMBOLS},
            "health_check_timeout_seconds": 3,
        }
        settings = HealthSettings(**{**values, **changes})
        service = compose(settings)
        made.append(service)
        event = rest_event("GET", "/v1/health", resource="/v1/health")
        return Reply.of(handler(event, LambdaContextStub(), health=service))

    yield call
    for service in made:
        service.close()


def test_all_up_with_a_fresh_heartbeat_answers_200_with_each_consumers_lag(
    ask: Ask, engine: EngineRuntime, shard: str
) -> None:
    # Given the engine beating and fanout having applied BTC-USD up to 5 events ago
    seq = engine.engine.seq("BTC-USD")
    assert seq > 5
    DynamoCursorStore().advance("fanout", "BTC-USD", after=0, to=seq - 5, now_ns=time.time_ns())
    # When the health function is asked
    reply = ask()
    # Then it is 200 ok, each dependency checked
    assert reply.status == 200, reply.body
    assert reply.body["status"] == "ok"
    checks = reply.body["checks"]
    assert {name: check["status"] for name, check in checks.items()} == {
        "ledger": "ok",
        "broker": "ok",
        "redis": "ok",
        f"engine:{shard}": "ok",
        "consumers": "ok",
    }
    assert checks[f"engine:{shard}"]["seqs"] == {"BTC-USD": seq, "ETH-USD": 0}
    assert checks[f"engine:{shard}"]["age_ms"] < 15_000
    # And the lag is the engine's journaled seq minus each consumer's cursor
    assert checks["consumers"]["lag"]["fanout"] == {"BTC-USD": 5, "ETH-USD": 0}
    assert checks["consumers"]["lag"]["settlement"] == {"BTC-USD": seq, "ETH-USD": 0}


def test_a_database_url_on_a_closed_port_answers_503(
    ask: Ask, engine: EngineRuntime, health_role_url: str
) -> None:
    port = closed_port()
    reply = ask(database_url=make_conninfo(health_role_url, port=str(port)))
    assert reply.status == 503
    assert reply.body["code"] == "unhealthy"
    assert reply.body["detail"] == "trading cannot work: ledger failed"
    assert reply.body["checks"]["ledger"]["status"] == "fail"
    assert reply.body["checks"]["broker"]["status"] == "ok"
    # And the body names neither the host nor the port
    text = json.dumps(reply.body)
    assert "127.0.0.1" not in text
    assert str(port) not in text


def test_a_broker_url_on_a_closed_port_answers_503(ask: Ask, engine: EngineRuntime) -> None:
    port = closed_port()
    reply = ask(broker_url=f"amqp://guest:guest@127.0.0.1:{port}/%2F")
    assert reply.status == 503
    assert reply.body["detail"] == "trading cannot work: broker failed"
    assert reply.body["checks"]["broker"]["detail"].startswith("broker unreachable: AMQP")
    assert reply.body["checks"]["ledger"]["status"] == "ok"
    text = json.dumps(reply.body)
    assert "guest" not in text
    assert str(port) not in text


def test_a_stale_heartbeat_answers_503_with_its_age(
    ask: Ask, shard: str, redis_client: redis.Redis
) -> None:
    # Given shard's last beat written 20 s ago (the engine stopped beating; the key lives 30 s)
    stale_ms = time.time_ns() // 1_000_000 - 20_000
    beat = Heartbeat(shard=shard, at_ms=stale_ms, status="ready", seqs=dict.fromkeys(SYMBOLS, 0))
    RedisHeartbeat(redis_client, shard).write(beat)
    reply = ask()
    assert reply.status == 503
    check = reply.body["checks"][f"engine:{shard}"]
    assert check["status"] == "fail"
    assert check["age_ms"] >= 20_000
    assert check["detail"].endswith("old (max 15 s): stuck or down")


def test_a_stopped_engine_leaves_no_heartbeat_and_the_answer_is_503(
    ask: Ask, engine: EngineRuntime, shard: str
) -> None:
    # Given the engine beating, then stopped (SIGTERM's shutdown)
    assert ask().status == 200
    engine.shutdown()
    # Then its heartbeat is gone and the answer is 503
    reply = ask()
    assert reply.status == 503
    assert reply.body["checks"][f"engine:{shard}"]["detail"] == (
        "no heartbeat: the engine is not running its loop"
    )


def test_cursors_beyond_one_batch_get_are_all_read(dynamodb: Any) -> None:
    # BatchGetItem takes at most 100 keys ("BatchGetItem", Amazon DynamoDB API Reference): 3
    # consumers x 40 symbols is 120 keys, so the reader must page
    symbols = [f"S{i:02d}-USD" for i in range(40)]
    store = DynamoCursorStore()
    for i, symbol in enumerate(symbols):
        store.advance("candles", symbol, after=0, to=i + 1, now_ns=1)
    read = DynamoCursors().read(["settlement", "fanout", "candles"], symbols)
    assert read == {("candles", s): Cursor(i + 1, 1) for i, s in enumerate(symbols)}
