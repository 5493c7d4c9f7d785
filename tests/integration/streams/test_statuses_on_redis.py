"""Fan-out's copy of each symbol's status in Redis: what a new ``status`` subscriber's snapshot
reads."""

import uuid
from collections.abc import Iterator

import pytest
import redis

from exchange.domain import InstrumentStatus
from exchange.realtime.statuses import MarketStatus, RedisStatusBoard


@pytest.fixture
def board(redis_url: str) -> Iterator[RedisStatusBoard]:
    """A board under a prefix of its own, deleted after (other agents share this Redis)."""
    client = redis.Redis.from_url(redis_url)
    prefix = f"test:{uuid.uuid4().hex}:status:"
    yield RedisStatusBoard(lambda: client, prefix=prefix)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_a_put_status_reads_back_and_a_later_one_replaces_it(board: RedisStatusBoard) -> None:
    board.put(MarketStatus(symbol="BTC-USD", status=InstrumentStatus.HALTED, seq=4))
    board.put(MarketStatus(symbol="ETH-USD", status=InstrumentStatus.POST_ONLY, seq=9))
    board.put(MarketStatus(symbol="BTC-USD", status=InstrumentStatus.TRADING, seq=6))
    found = board.get(["BTC-USD", "ETH-USD", "SOL-USD"])
    assert found == {
        "BTC-USD": MarketStatus(symbol="BTC-USD", status=InstrumentStatus.TRADING, seq=6),
        "ETH-USD": MarketStatus(symbol="ETH-USD", status=InstrumentStatus.POST_ONLY, seq=9),
    }
    assert board.get([]) == {}
