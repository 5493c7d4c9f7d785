"""Listings for the instruments tests: the demo file's instruments, and a new symbol (ACME-USD,
an equity) that only the store lists, on a shard ``shards.json`` does not name."""

from decimal import Decimal
from typing import Final

from exchange.domain import AssetClass, Instrument, InstrumentCatalog
from exchange.messaging import ShardMap

FILE: Final = InstrumentCatalog.demo()
SHARDS: Final = ShardMap.demo()
BTC: Final = FILE.get("BTC-USD")
ACME: Final = Instrument(
    symbol="ACME-USD",
    base="ACME",
    quote="USD",
    tick_size=Decimal("0.01"),
    lot_size=Decimal("1"),
    min_qty=Decimal("1"),
    max_qty=Decimal("10000"),
    price_band_pct=Decimal("10"),
    taker_fee_bps=5,
    asset_class=AssetClass.EQUITY,
)


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
