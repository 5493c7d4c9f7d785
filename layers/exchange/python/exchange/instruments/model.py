"""A listing: one version of a symbol's instrument, where it trades, and its status.

Versions count from 1 in the store (``exchange.tables.instruments``); version 0 is the static
instruments file's definition of a symbol the store does not (yet) hold. A listing's instrument
always carries the listing's status, so whoever reads ``listing.instrument.status`` (the orders
API, the markets API) sees the status the engine last journaled, not the file's.

>>> from exchange.domain import InstrumentCatalog, InstrumentStatus
>>> btc = InstrumentCatalog.demo().get("BTC-USD")
>>> listing = Listing(instrument=btc, version=1, shard="s1", status=InstrumentStatus.HALTED,
...                   actor="seed")
>>> listing.instrument.status
<InstrumentStatus.HALTED: 'HALTED'>
>>> check_change(btc, btc.model_copy(update={"taker_fee_bps": 7}))
>>> check_change(btc, btc.model_copy(update={"tick_size": Decimal("0.1")}))
Traceback (most recent call last):
...
exchange.instruments.errors.ImmutableField: BTC-USD: tick_size cannot change ... (was 0.01, now 0.1)
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from exchange.domain.enums import InstrumentStatus
from exchange.domain.instruments import IMMUTABLE_FIELDS, Instrument
from exchange.instruments.errors import ImmutableField

# What the engine's book is built on (prices in ticks, quantities in lots, balances per asset):
# changing any of them under open orders would re-price them. A different one is a new symbol.
SEED_ACTOR: Final = "seed"  # version 1 of a symbol written from the static instruments file
STATIC_ACTOR: Final = "file"  # version 0: the static file itself, never written to the store


@dataclass(frozen=True, slots=True, kw_only=True)
class Listing:
    instrument: Instrument  # with .status = ``status``
    version: int  # 0: the static file only (never written to the store)
    shard: str  # the engine shard that trades it ("" when the file's symbol has none)
    status: InstrumentStatus
    status_seq: int = 0  # the seq of the engine's last TradingStatusChanged; 0 when never
    listed_seq: int | None = None  # the seq of the engine's InstrumentListed of ``version``
    actor: str
    reason: str = ""
    created_ns: int = 0

    def __post_init__(self) -> None:
        if self.instrument.status is not self.status:
            served = self.instrument.model_copy(update={"status": self.status})
            object.__setattr__(self, "instrument", served)

    @property
    def symbol(self) -> str:
        return self.instrument.symbol


def definition(instrument: Instrument) -> str:
    """The instrument's JSON as the store keeps it and ``ListInstrument`` carries it."""
    return instrument.model_dump_json()


def check_change(current: Instrument, new: Instrument) -> None:
    """Refuse a change of a listed instrument that alters a field fixed at listing (numerically:
    a tick of ``0.010`` is the tick ``0.01``). Raises ImmutableField naming the first."""
    for field in IMMUTABLE_FIELDS:
        was, now = getattr(current, field), getattr(new, field)
        if was != now:
            raise ImmutableField(current.symbol, field, _shown(was), _shown(now))


def check_shard(listing: Listing, shard: str) -> None:
    """A symbol stays on its shard: its book lives in that engine task."""
    if listing.shard != shard:
        raise ImmutableField(listing.symbol, "shard", listing.shard, shard)


def _shown(value: object) -> object:
    return format(value, "f") if isinstance(value, Decimal) else value
