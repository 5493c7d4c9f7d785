"""The reconciliation reads the engine's snapshots as the engine itself loads them: a real
engine's state, stored by the engine's own adapters, read back from Redis (MAC verified) or S3."""

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import count
from typing import Any

import boto3
import pytest
import redis
from moto import mock_aws

from engine_service.adapters.snapshots import RedisSnapshotStore, S3SnapshotStore
from engine_service.core import Engine
from exchange.domain import (
    InstrumentCatalog,
    InstrumentStatus,
    NewOrder,
    OrderType,
    SetTradingStatus,
    Side,
    TimeInForce,
)
from exchange.operations.model import EngineOrder
from exchange.operations.snapshot_reader import SnapshotBooks
from exchange.snapshots import (
    SNAPSHOT_FORMAT,
    JournalPosition,
    ShardSnapshot,
    encode_snapshot,
)

KEY = b"the-engine-key"
BUCKET = "exchange-snapshots"
CATALOG = InstrumentCatalog.demo()
_ts = count(1)


def limit(order_id: str, side: Side, lots: int, ticks: int, account: str = "alice") -> NewOrder:
    return NewOrder(
        symbol="BTC-USD",
        ts=next(_ts),
        order_id=order_id,
        account_id=account,
        client_order_id=f"c-{order_id}",
        side=side,
        order_type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        qty=lots,
        price=ticks,
    )


def stop_limit(order_id: str, lots: int, stop: int, ticks: int) -> NewOrder:
    return NewOrder(
        symbol="BTC-USD",
        ts=next(_ts),
        order_id=order_id,
        account_id="carol",
        client_order_id=f"c-{order_id}",
        side=Side.SELL,
        order_type=OrderType.STOP_LIMIT,
        tif=TimeInForce.GTC,
        qty=lots,
        price=ticks,
        stop_price=stop,
    )


def engine_snapshot(engine: Engine, shard: str = "s1", taken_ns: int = 0) -> bytes:
    """What ``EngineRuntime.snapshot`` saves: the envelope around the engine's state."""
    return encode_snapshot(
        ShardSnapshot(
            format=SNAPSHOT_FORMAT,
            shard=shard,
            seqs={symbol: engine.seq(symbol) for symbol in engine.books},
            position=JournalPosition({"shardId-0": "42"}),
            engine_state=engine.snapshot(),
            taken_ns=taken_ns,
        )
    )


def trading_engine() -> Engine:
    """BTC-USD: alice's bid of 10 lots partly filled by bob (4 lots), a held stop of carol's,
    and the symbol halted by an operator."""
    engine = Engine([CATALOG.get("BTC-USD"), CATALOG.get("ETH-USD")])
    for command in (
        limit("o-bid", Side.BUY, 10, 6_500_000),
        limit("o-ask", Side.SELL, 4, 6_500_000, account="bob"),
        stop_limit("o-stop", 3, 6_000_000, 5_990_000),
    ):
        engine.apply(command)
    engine.apply(
        SetTradingStatus(
            symbol="BTC-USD",
            ts=next(_ts),
            command_id="adm_1",
            status=InstrumentStatus.HALTED,
            actor="op",
        )
    )
    return engine


class FakeRedis:
    """A dict with Redis's get/set, or a server that is down."""

    def __init__(self, *, down: bool = False) -> None:
        self.values: dict[str, bytes] = {}
        self.down = down

    def set(self, name: str, value: bytes) -> None:
        self.values[name] = value

    def get(self, name: str) -> bytes | None:
        if self.down:
            raise redis.ConnectionError("Connection refused")
        return self.values.get(name)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def reader(cache: FakeRedis | None, s3: Any | None) -> SnapshotBooks:
    return SnapshotBooks(
        ["s1"], redis_client=cache, key=lambda: KEY, s3=s3, bucket=BUCKET if s3 else None
    )


def test_a_signed_redis_snapshot_gives_the_engine_s_open_orders_seqs_and_status() -> None:
    # Given the engine's snapshot stored by its own Redis store (signed with its key)
    engine = trading_engine()
    cache = FakeRedis()
    RedisSnapshotStore(cache, lambda: KEY).save("s1", engine_snapshot(engine))  # type: ignore[arg-type]
    # When the reconciliation reads it
    (books,) = reader(cache, None).shards()
    # Then it has each open order with what is left of it, in lots (the bid 10 - 4 filled, the
    # held stop), the seq per symbol, and the status the operator set
    assert books.source == "redis"
    assert set(books.orders) == {
        EngineOrder("o-bid", "alice", "BTC-USD", 6),
        EngineOrder("o-stop", "carol", "BTC-USD", 3),
    }
    assert books.seqs == {"BTC-USD": engine.seq("BTC-USD"), "ETH-USD": 0}
    assert books.statuses["BTC-USD"] is InstrumentStatus.HALTED
    assert books.problems == ()


def test_a_forged_redis_snapshot_is_refused_and_s3_s_is_read(s3: Any) -> None:
    # Given a Redis value signed with another key (anyone who reaches the cache) and the
    # engine's own copy in S3
    engine = trading_engine()
    cache = FakeRedis()
    forged = Engine([CATALOG.get("BTC-USD")])
    RedisSnapshotStore(cache, lambda: b"not-the-key").save("s1", engine_snapshot(forged))  # type: ignore[arg-type]
    S3SnapshotStore(s3, BUCKET).save("s1", engine_snapshot(engine))
    # When the reconciliation reads the shard
    (books,) = reader(cache, s3).shards()
    # Then the forged one is refused, named, and the S3 copy is the one used, with its time
    assert books.source == "s3"
    assert "redis snapshot refused: MAC does not verify" in books.problems[0]
    assert {order.order_id for order in books.orders} == {"o-bid", "o-stop"}
    assert books.taken is not None


def test_a_redis_that_is_down_falls_back_to_s3(s3: Any) -> None:
    taken = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    payload = engine_snapshot(trading_engine(), taken_ns=int(taken.timestamp()) * 1_000_000_000)
    S3SnapshotStore(s3, BUCKET).save("s1", payload)
    (books,) = reader(FakeRedis(down=True), s3).shards()
    assert books.source == "s3"
    assert books.problems[0].startswith("redis unavailable: ConnectionError")
    # The snapshot's own time wins over the object's
    assert books.taken == taken


def test_another_shard_s_snapshot_under_this_shard_s_key_is_refused(s3: Any) -> None:
    S3SnapshotStore(s3, BUCKET).save("s1", engine_snapshot(trading_engine(), shard="s2"))
    (books,) = reader(None, s3).shards()
    assert books.source is None
    assert books.orders == ()
    assert books.problems == ("s3 snapshot refused: a snapshot of shard 's2', not 's1'",)


def test_a_shard_without_any_snapshot_has_no_books(s3: Any) -> None:
    (books,) = reader(FakeRedis(), s3).shards()
    assert (books.source, books.seqs, books.orders, books.problems) == (None, {}, (), ())
