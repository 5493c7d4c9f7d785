"""Every journal consumer of this section takes the operators' events in its stride: the candles,
fan-out and the recorder apply a batch holding them with no failed record, move their cursors
past them, and do to the market's own events exactly what they do without them."""

from collections.abc import Callable
from typing import Any

import pytest

from exchange.domain import (
    AccountFrozen,
    AnyEvent,
    InstrumentCatalog,
    InstrumentListed,
    InstrumentStatus,
    TradingStatusChanged,
)
from exchange.journal.batch import JournalSink, consume_batch
from exchange.market.candles import CandleAggregator
from exchange.orders.recorder import Recorder
from exchange.settings import DEFAULT_ASSET_SCALES
from exchange.testing.stores import InMemoryCandleStore, InMemoryCursorStore, InMemoryRecorderStore
from tests.unit.realtime.helpers import World
from tests.unit.streams.helpers import (
    LambdaContext,
    busy_market,
    encoded,
    failures,
    kinesis_event,
    records,
)

CATALOG = InstrumentCatalog.demo()


def with_operator_events(events: list[AnyEvent]) -> list[AnyEvent]:
    """``events`` followed by a halt, a freeze and a listing change, at the next seqs."""
    seq, ts = events[-1].seq, events[-1].ts
    common: dict[str, Any] = {"symbol": "BTC-USD", "actor": "olga", "reason": "drill"}
    return [
        *events,
        TradingStatusChanged(ts=ts + 1, seq=seq + 1, command_id="adm_1",
                             status=InstrumentStatus.HALTED, previous=InstrumentStatus.TRADING,
                             **common),
        AccountFrozen(ts=ts + 2, seq=seq + 2, command_id="adm_2", account_id="alice",
                      frozen=True, **common),
        InstrumentListed(ts=ts + 3, seq=seq + 3, command_id="list:BTC-USD:2",
                         instrument=CATALOG.get("BTC-USD").model_dump_json(), version=2,
                         **common),
    ]  # fmt: skip


def run(sink: JournalSink, events: list[AnyEvent]) -> list[str]:
    batch = kinesis_event(encoded(records(events, 2)))
    return failures(consume_batch(batch, sink, context=LambdaContext()))


def candles() -> tuple[CandleAggregator, Callable[[], object]]:
    store = InMemoryCandleStore()
    return CandleAggregator(store, InMemoryCursorStore(), catalog=CATALOG), lambda: store.bars


def recorder() -> tuple[Recorder, Callable[[], object]]:
    store = InMemoryRecorderStore()
    sink = Recorder(store, catalog=CATALOG, asset_scales=DEFAULT_ASSET_SCALES)
    return sink, lambda: (store.orders, store.fills, store.trades)


def fanout() -> tuple[JournalSink, Callable[[], object]]:
    world = World()
    world.connect("c1")
    for channel in ("book.BTC-USD", "trades.BTC-USD"):
        world.send("c1", {"action": "subscribe", "channel": channel})
    # The book frames differ by their seq ranges (a record of operator events moves the book's
    # seq, not its levels); the trades are the same.
    return world.fanout, lambda: [f for f in world.received("c1") if f["type"] == "trades"]


@pytest.mark.parametrize("build", [candles, recorder, fanout], ids=lambda b: b.__name__)
def test_a_consumer_applies_operator_events_without_a_failure(
    build: Callable[[], tuple[JournalSink, Callable[[], object]]],
) -> None:
    # Given the busy market's events, and the same followed by operators' events
    market = busy_market().events
    mixed = with_operator_events(market)
    plain_sink, plain_state = build()
    mixed_sink, mixed_state = build()
    # When each consumer takes them as Kinesis batches
    assert run(plain_sink, market) == []
    assert run(mixed_sink, mixed) == []
    # Then none failed, the cursor is past the operator events, and the market's effects match
    assert mixed_sink.last_seq("BTC-USD") == mixed[-1].seq
    assert mixed_state() == plain_state()
