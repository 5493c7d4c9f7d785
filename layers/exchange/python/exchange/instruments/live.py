"""``LiveCatalog``: the instruments a process serves, kept current from the instruments store.

The static instruments file gives version 0 of its symbols; the store's listings (version 1 on,
with the status the engine last journaled) replace them. The store is read lazily: on an access
at least ``ttl_s`` after the last read, and, for a symbol the catalog does not know, at most
once every ``unknown_every_s`` (a listing made a moment ago is served at once; a flood of
made-up symbols cannot turn into a flood of reads). A read that fails keeps the last good
catalog, logged and counted (``InstrumentsRefreshFailed``): a request fails only for a symbol
that was never known.

>>> from exchange.domain import InstrumentCatalog, InstrumentStatus
>>> from exchange.instruments.store import InMemoryInstrumentStore
>>> store, now = InMemoryInstrumentStore(), [0.0]
>>> catalog = LiveCatalog(store, InstrumentCatalog.demo(), shards=ShardMap.demo(),
...                       clock=lambda: now[0])
>>> catalog.get("BTC-USD").status, catalog.listing("BTC-USD").version
(<InstrumentStatus.TRADING: 'TRADING'>, 0)
>>> store.seed(InstrumentCatalog.demo(), ShardMap.demo(), now_ns=1)
3
>>> store.set_status("BTC-USD", InstrumentStatus.HALTED, seq=7)
True
>>> catalog.status("BTC-USD")  # read 0 s ago: not yet
<InstrumentStatus.TRADING: 'TRADING'>
>>> now[0] = 5.0
>>> catalog.status("BTC-USD"), catalog.listing("BTC-USD").version
(<InstrumentStatus.HALTED: 'HALTED'>, 1)
"""

import threading
import time
from collections.abc import Callable, Iterator

from aws_lambda_powertools.metrics import MetricUnit

from exchange.domain.enums import InstrumentStatus
from exchange.domain.errors import UnknownInstrument
from exchange.domain.instruments import Instrument, InstrumentCatalog
from exchange.instruments.errors import InstrumentStoreError
from exchange.instruments.model import STATIC_ACTOR, Listing
from exchange.instruments.store import InstrumentStore
from exchange.messaging import ShardMap
from exchange.observability import logger, metrics

DEFAULT_TTL_S = 5.0
UNKNOWN_EVERY_S = 1.0


class LiveCatalog(InstrumentCatalog):
    """An ``InstrumentCatalog`` whose instruments are the store's listings over the file's.

    ``store`` None: the file's instruments only (version 0), never refreshed.
    """

    def __init__(
        self,
        store: InstrumentStore | None,
        seed: InstrumentCatalog,
        *,
        shards: ShardMap,
        ttl_s: float = DEFAULT_TTL_S,
        unknown_every_s: float = UNKNOWN_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(list(seed))
        self._store = store
        self._shards = shards
        self._ttl_s = ttl_s
        self._unknown_every_s = unknown_every_s
        self._clock = clock
        self._static: dict[str, Listing] = {
            instrument.symbol: Listing(
                instrument=instrument,
                version=0,
                shard=_static_shard(shards, instrument.symbol),
                status=instrument.status,
                actor=STATIC_ACTOR,
            )
            for instrument in seed
        }
        self._listings: dict[str, Listing] = dict(self._static)
        self._read_at: float | None = None  # the last read of the store (failed or not)
        self._refreshing = threading.Lock()

    # -- what a process asks ----------------------------------------------------------------
    def listing(self, symbol: str) -> Listing:
        """The symbol's listing in force; raises UnknownInstrument."""
        self._maybe_refresh(self._ttl_s)
        listing = self._listings.get(symbol)
        if listing is None:
            # A symbol listed since the last read: read now, unless that was a moment ago.
            self._maybe_refresh(self._unknown_every_s)
            listing = self._listings.get(symbol)
        if listing is None:
            raise UnknownInstrument(f"unknown symbol {symbol!r}")
        return listing

    def get(self, symbol: str) -> Instrument:
        return self.listing(symbol).instrument

    def original(self, symbol: str) -> Instrument:
        """The static file's instrument (version 0) for a symbol it lists; otherwise the one in
        force (a symbol listed at run time has its listing journaled before any trade)."""
        static = self._static.get(symbol)
        return static.instrument if static is not None else self.get(symbol)

    def status(self, symbol: str) -> InstrumentStatus:
        return self.listing(symbol).status

    def shard_of(self, symbol: str) -> str:
        """The engine shard that trades ``symbol``: the static shard map's (the engine tasks
        are deployed from it), else its listing's. Raises UnknownInstrument."""
        shard = self.shard_for(symbol)
        if shard is None:
            raise UnknownInstrument(f"no shard trades {symbol!r}")
        return shard

    def shard_for(self, symbol: str) -> str | None:
        """``shard_of``, or None: a ``ShardMap``'s fallback for the symbols it lacks."""
        try:
            return self._shards.shard_of(symbol)
        except UnknownInstrument:
            pass
        try:
            return self.listing(symbol).shard or None
        except UnknownInstrument:
            return None

    def listings(self) -> list[Listing]:
        self._maybe_refresh(self._ttl_s)
        return list(self._listings.values())

    def __contains__(self, symbol: object) -> bool:
        if not isinstance(symbol, str):
            return False
        try:
            self.listing(symbol)
        except UnknownInstrument:
            return False
        return True

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._instruments())

    def __len__(self) -> int:
        return len(self._instruments())

    @property
    def symbols(self) -> list[str]:
        return [instrument.symbol for instrument in self._instruments()]

    # -- reading the store ------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the store now. A failure keeps the catalog as it was (logged and counted)."""
        if self._store is None:
            return
        with self._refreshing:
            self._read_at = self._clock()
            try:
                stored = self._store.listings()
            except InstrumentStoreError as exc:
                logger.warning(
                    "instruments store unreadable: serving the last good catalog",
                    extra={"error": str(exc)},
                )
                metrics.add_metric(name="InstrumentsRefreshFailed", unit=MetricUnit.Count, value=1)
                return
            # One assignment: a reader sees the old catalog or the new one, never half of each.
            self._listings = self._static | {listing.symbol: listing for listing in stored}

    def adopt(self, listing: Listing) -> None:
        """Serve ``listing``, which this process has just written or read with a consistent read
        (a store's Scan is eventually consistent: a refresh right after a write may miss it), so
        a command for a symbol listed a moment ago is routed to its shard. An older version than
        the one served is ignored."""
        with self._refreshing:
            served = self._listings.get(listing.symbol)
            if served is None or served.version <= listing.version:
                self._listings = self._listings | {listing.symbol: listing}

    def _maybe_refresh(self, after_s: float) -> None:
        if self._store is None:
            return
        read_at = self._read_at
        if read_at is not None and self._clock() - read_at < after_s:
            return
        if self._refreshing.locked():
            return  # another thread is reading it: serve what is there
        self.refresh()

    def _instruments(self) -> list[Instrument]:
        self._maybe_refresh(self._ttl_s)
        return [listing.instrument for listing in self._listings.values()]


def _static_shard(shards: ShardMap, symbol: str) -> str:
    try:
        return shards.shard_of(symbol)
    except UnknownInstrument:
        return ""
