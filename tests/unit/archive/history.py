"""A tiny BTC-USD history made by the real engine core, and its archive on disk."""

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from engine_service.core import Engine
from exchange.archive.parquet import write_partition
from exchange.archive.schema import to_row
from exchange.archive.transform import partition_of
from exchange.domain import Event, InstrumentCatalog, NewOrder, OrderType, Side, TimeInForce
from exchange.wire import JournalRecord

SYMBOL = "BTC-USD"
SECOND = 10**9
BTC = InstrumentCatalog.demo().get(SYMBOL)


def order(ts_s: int, account: str, side: Side, qty: str, price: str) -> NewOrder:
    return NewOrder(
        symbol=SYMBOL, ts=ts_s * SECOND, order_id=f"{account}-{ts_s}", account_id=account,
        client_order_id=f"c-{account}", side=side, order_type=OrderType.LIMIT,
        tif=TimeInForce.GTC, qty=BTC.qty_to_lots(Decimal(qty)),
        price=BTC.price_to_ticks(Decimal(price)),
    )  # fmt: skip


# alice offers 1.0 at 65,000; bob and carol lift 0.5 and 0.3 of it; dave bids 0.5 at 65,100,
# takes alice's last 0.2 and rests 0.3; erin sells 0.1 into dave's bid at 65,100.
COMMANDS = (
    order(10, "alice", Side.SELL, "1.0", "65000"),
    order(20, "bob", Side.BUY, "0.5", "65000"),
    order(30, "carol", Side.BUY, "0.3", "65000"),
    order(40, "dave", Side.BUY, "0.5", "65100"),
    order(50, "erin", Side.SELL, "0.1", "65050"),
)


def history() -> tuple[list[Event], Engine]:
    """The events of ``COMMANDS`` through a fresh engine, and that engine."""
    engine = Engine([BTC])
    events = [event for command in COMMANDS for event in engine.apply(command)]
    return events, engine


def archive(root: Path, events: Sequence[Event], *, per_file: int = 4) -> None:
    """Write events in journal records of ``per_file`` events, one file each."""
    for start in range(0, len(events), per_file):
        record = JournalRecord.of(events[start : start + per_file])
        rows = [to_row(event) for event in record.events]
        write_partition(root, partition_of(record), rows)
