"""The trade tape keeps its history: trades the recorder wrote long ago (more than the 30 days the
tape used to keep) are still read, and ``GET /v1/markets/{symbol}/trades?start=...`` pages from
a start before them all the way back to the very first trade.

AWS behaviour relied on: DynamoDB's TTL deletes only items whose TTL attribute holds an epoch
time in the past; an item without the attribute is never deleted
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html), so a
trade written without ``expires_at`` stays. moto does not expire items, so the test pins the
attribute itself: absent by default, present only when a TTL is configured.
"""

from datetime import timedelta
from typing import Any

import pytest

from engine_service.core import Engine
from exchange.domain import Event, NewOrder, OrderType, Side, TimeInForce, Trade
from exchange.orders.recorder import Recorder
from exchange.orders.recorder_dynamo import DynamoRecorderStore
from exchange.settings import DEFAULT_ASSET_SCALES, RecorderSettings
from exchange.tables import TradeRecord
from exchange.wire import JournalRecord
from tests.integration.api.conftest import CATALOG
from tests.integration.api.test_market_pages_on_moto import BASE_S, SECOND, every_page, iso

SYMBOL = "BTC-USD"
DAY_S = 86_400
FIRST_S = BASE_S - 400 * DAY_S  # the first trade, 400 days before "now" (BASE + 1 h)


def traded_history(count: int) -> list[Event]:
    """``count`` crossing pairs of orders, one pair a day from FIRST_S, through the engine."""
    engine = Engine(CATALOG)
    events: list[Event] = []
    for day in range(count):
        ts = (FIRST_S + day * DAY_S) * SECOND
        for side, account in ((Side.SELL, "maker"), (Side.BUY, "taker")):
            events += engine.apply(
                NewOrder(
                    symbol=SYMBOL, ts=ts, order_id=f"{account}-{day}", account_id=account,
                    client_order_id=f"c-{account}-{day}", side=side,
                    order_type=OrderType.LIMIT, tif=TimeInForce.GTC, qty=10, price=6_500_000,
                )
            )  # fmt: skip
    return events


def record(events: list[Event], *, ttl_days: int | None) -> None:
    recorder = Recorder(
        DynamoRecorderStore(CATALOG),
        catalog=CATALOG,
        asset_scales=DEFAULT_ASSET_SCALES,
        trades_ttl_days=ttl_days,
    )
    journal = JournalRecord.of(events)
    recorder.apply(journal, journal.events, 0)


def test_the_recorder_keeps_the_tape_by_default() -> None:
    assert RecorderSettings.model_fields["trades_ttl_days"].default is None


def test_paging_from_a_start_before_the_tape_reaches_the_first_trade(dynamodb: Any) -> None:
    # Given 40 trades, one a day, from 400 days ago, recorded with the default settings
    events = traded_history(40)
    record(events, ttl_days=RecorderSettings.model_fields["trades_ttl_days"].default)
    trade_seqs = [event.seq for event in events if isinstance(event, Trade)]
    assert len(trade_seqs) == 40
    # Then no trade carries a TTL, so DynamoDB never expires one
    assert all(item.expires_at is None for item in TradeRecord.query(SYMBOL))
    # When the trades are read from a start before the first one, oldest first, 7 a page
    start = -timedelta(days=500).total_seconds()  # seconds from BASE
    pages = every_page(
        f"/v1/markets/{SYMBOL}/trades",
        {"start": iso(start), "order": "asc", "limit": "7"},
        "trades",
    )
    # Then the pages go back to the first trade and hold every trade once, in order
    seqs = [trade["seq"] for page in pages for trade in page]
    assert seqs == trade_seqs
    assert pages[0][0]["ts_ns"] == FIRST_S * SECOND


@pytest.mark.parametrize("ttl_days", [30])
def test_a_configured_ttl_still_expires_trades(dynamodb: Any, ttl_days: int) -> None:
    events = traded_history(2)
    record(events, ttl_days=ttl_days)
    expiries = {int(item.expires_at.timestamp()) for item in TradeRecord.query(SYMBOL)}
    assert expiries == {FIRST_S + day * DAY_S + ttl_days * DAY_S for day in range(2)}
