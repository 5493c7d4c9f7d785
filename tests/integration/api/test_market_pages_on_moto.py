"""Time-range pages of trades and candles, and tickers, through the markets handler over
DynamoDB on moto: what each page holds, where a cursor continues, and the range's edges.

AWS behaviour these pages rely on (and moto reproduces):
- a Query returns items in sort-key order, ascending unless ScanIndexForward is false, and a
  sort-key ``BETWEEN a AND b`` holds both ends
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.KeyConditionExpressions.html);
- with a FilterExpression, Limit caps the items *read*, so a page may come back short and the
  reader must go on while LastEvaluatedKey is set (pynamodb's iterator does)
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Other.html#Query.Limit);
- a filter is applied after the read, so filtered-out items still cost read capacity
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.FilterExpression.html).
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from exchange.market.dynamo import DynamoMarketStore
from exchange.market.service import MarketService
from exchange.market.trade_range import GUARD_NS
from exchange.tables import CandleRecord, TradeRecord, candle_series
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from exchange.testing.stores import InMemoryBookStore
from lambdas.markets.handler import handler as markets_handler
from tests.integration.api.conftest import CATALOG
from tests.unit.api.conftest import Reply

BASE = datetime(2024, 5, 1, tzinfo=UTC)
BASE_S = int(BASE.timestamp())
SECOND = 10**9
NOW_NS = (BASE_S + 3_600) * SECOND


def iso(seconds: float) -> str:
    return (BASE + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def trade(symbol: str, seq: int, ts_ns: int, price: str = "65000.00") -> None:
    TradeRecord(
        symbol=symbol, seq=seq, price=price, qty="0.1000", aggressor_side="BUY", ts_ns=ts_ns
    ).save()


def bar(symbol: str, interval: str, start: int, close: str = "65000.00") -> None:
    CandleRecord(
        series=candle_series(symbol, interval),
        start=start,
        open="65000.00",
        high="65100.00",
        low="64900.00",
        close=close,
        volume="1.0000",
        trades=2,
        first_seq=1,
        last_seq=2,
    ).save()


@pytest.fixture
def tape(dynamodb: Any) -> dict[int, int]:
    """BTC-USD: 60 trades, one every 10 s from BASE, at seqs 1, 4, 7, ... (other events between);
    ETH-USD: trades at the same times, which no BTC-USD page may show. seq -> ts_ns."""
    trades = {3 * i + 1: (BASE_S + 10 * i) * SECOND for i in range(60)}
    for seq, ts_ns in trades.items():
        trade("BTC-USD", seq, ts_ns)
        trade("ETH-USD", seq, ts_ns, price="3000.00")
    return trades


def get(path: str, query: dict[str, str] | None = None) -> Reply:
    store = DynamoMarketStore()
    markets = MarketService(
        instruments=CATALOG,
        books=InMemoryBookStore(),
        store=store,
        history=store,
        clock=lambda: NOW_NS,
    )
    event = rest_event("GET", path, query=query)
    return Reply.of(markets_handler(event, LambdaContextStub(), markets=markets))


def every_page(path: str, query: dict[str, str], key: str) -> list[list[dict[str, Any]]]:
    """Each page's items, following next_cursor to the end."""
    pages = []
    cursor = None
    while True:
        reply = get(path, {**query, **({"cursor": cursor} if cursor else {})})
        assert reply.status == 200, reply.body
        pages.append(reply.body[key])
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor never ends"


def seqs_in(tape: dict[int, int], start_s: float | None, end_s: float | None) -> list[int]:
    lo = None if start_s is None else (BASE_S + start_s) * SECOND
    hi = None if end_s is None else (BASE_S + end_s) * SECOND
    return sorted(
        seq for seq, ts in tape.items() if (lo is None or ts >= lo) and (hi is None or ts < hi)
    )


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_a_trade_range_is_paged_exactly_with_no_gap_or_repeat(
    tape: dict[int, int], order: str
) -> None:
    # Given a range that starts and ends between trades (21 trades: at 100 s ... 300 s)
    query = {"start": iso(95), "end": iso(305), "limit": "4", "order": order}
    # When it is read page by page
    pages = every_page("/v1/markets/BTC-USD/trades", query, "trades")
    # Then the pages hold every trade of the range once, in the asked order, 4 at most each
    seqs = [t["seq"] for page in pages for t in page]
    expected = seqs_in(tape, 95, 305)
    assert seqs == (expected if order == "asc" else expected[::-1])
    assert [len(page) for page in pages] == [4, 4, 4, 4, 4, 1]


def test_the_start_is_inclusive_and_the_end_exclusive(tape: dict[int, int]) -> None:
    # Given a range whose edges fall exactly on trades (at 100 s and at 300 s)
    reply = get("/v1/markets/BTC-USD/trades", {"start": iso(100), "end": iso(300), "limit": "500"})
    times = [t["ts_ns"] for t in reply.body["trades"]]
    # Then the trade at the start is in, the one at the end is out
    assert max(times) == (BASE_S + 290) * SECOND
    assert min(times) == (BASE_S + 100) * SECOND
    assert reply.body["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"start": iso(550)}, (550, None)),  # newest down to the start
        ({"end": iso(25), "order": "asc"}, (None, 25)),  # oldest up to the end
        ({"start": iso(-3_600), "end": iso(-1)}, (-3_600, -1)),  # before the tape: nothing
        ({"start": iso(10_000)}, (10_000, None)),  # after it: nothing
    ],
)
def test_half_open_and_empty_ranges(
    tape: dict[int, int], query: dict[str, str], expected: tuple[float | None, float | None]
) -> None:
    pages = every_page("/v1/markets/BTC-USD/trades", {**query, "limit": "2"}, "trades")
    seqs = sorted(t["seq"] for page in pages for t in page)
    assert seqs == seqs_in(tape, *expected)


def test_without_a_range_the_latest_page_continues_through_the_whole_tape(
    tape: dict[int, int],
) -> None:
    pages = every_page("/v1/markets/BTC-USD/trades", {"limit": "25"}, "trades")
    assert [t["seq"] for page in pages for t in page] == sorted(tape, reverse=True)
    assert [len(page) for page in pages] == [25, 25, 10]


def test_a_trade_out_of_seq_order_within_the_guard_still_lands_on_its_side_of_the_edge(
    dynamodb: Any,
) -> None:
    # Given a tape where seq 11 was stamped before seq 10 (two API callers, a few ms apart),
    # straddling the range's start
    edge = (BASE_S + 100) * SECOND
    for seq, ts_ns in {
        9: edge - 5 * SECOND,
        10: edge + 1_000,
        11: edge - 2_000,
        12: edge + 1,
    }.items():
        trade("BTC-USD", seq, ts_ns)
    # When the range from that start is read
    reply = get("/v1/markets/BTC-USD/trades", {"start": iso(100), "order": "asc"})
    # Then exactly the trades stamped at or after it are there, however the seqs interleave
    assert [t["seq"] for t in reply.body["trades"]] == [10, 12]
    assert GUARD_NS > 2_000


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_a_candle_range_is_paged_by_bar_start(dynamodb: Any, order: str) -> None:
    # Given 30 one-minute bars from BASE, and five-minute bars that must not mix in
    for minute in range(30):
        bar("BTC-USD", "1m", BASE_S + 60 * minute)
    for five in range(6):
        bar("BTC-USD", "5m", BASE_S + 300 * five)
    # When bars starting in [90 s, 600 s) are read 3 at a time
    query = {"interval": "1m", "start": iso(90), "end": iso(600), "limit": "3", "order": order}
    pages = every_page("/v1/markets/BTC-USD/candles", query, "candles")
    # Then they are the bars starting at 120 s ... 540 s, in order, in pages of 3, 3, 2
    starts = [c["start"] for page in pages for c in page]
    expected = [BASE_S + s for s in range(120, 600, 60)]
    assert starts == (expected if order == "asc" else expected[::-1])
    assert [len(page) for page in pages] == [3, 3, 2]


def test_a_candle_range_edge_on_a_bar_start_holds_it_at_the_start_only(dynamodb: Any) -> None:
    for minute in range(10):
        bar("BTC-USD", "1m", BASE_S + 60 * minute)
    reply = get(
        "/v1/markets/BTC-USD/candles",
        {"start": iso(120), "end": iso(300.5), "order": "asc", "limit": "100"},
    )
    starts = [c["start"] - BASE_S for c in reply.body["candles"]]
    assert starts == [120, 180, 240, 300]
    exclusive = get("/v1/markets/BTC-USD/candles", {"start": iso(120), "end": iso(300)})
    assert [c["start"] - BASE_S for c in exclusive.body["candles"]] == [240, 180, 120]


def test_ticker_reads_the_minute_bars_of_the_last_24h_from_the_table(dynamodb: Any) -> None:
    # Given BTC minute bars just outside, at and inside the 24 h window before now
    now_s = NOW_NS // SECOND
    bar("BTC-USD", "1m", now_s - 86_400 - 60, close="1.00")
    bar("BTC-USD", "1m", now_s - 86_400, close="65050.00")
    bar("BTC-USD", "1m", now_s - 60, close="65070.00")
    bar("BTC-USD", "1h", now_s - 3_600, close="99999.00")
    trade("ETH-USD", 5, (now_s - 90_000) * SECOND, price="3000.00")
    # When the tickers are read
    tickers = {t["symbol"]: t for t in get("/v1/tickers").body["tickers"]}
    btc, eth = tickers["BTC-USD"], tickers["ETH-USD"]
    # Then BTC counts the two bars in the window, and ETH (no bar) shows its last trade
    assert (btc["last"], btc["volume_24h"], btc["trades_24h"]) == ("65070.00", "2.0000", 4)
    assert (btc["high_24h"], btc["low_24h"]) == ("65100.00", "64900.00")
    assert (eth["last"], eth["open_24h"], eth["volume_24h"]) == ("3000.00", "3000.00", "0.000")
    assert tickers["SOL-USD"]["last"] is None
