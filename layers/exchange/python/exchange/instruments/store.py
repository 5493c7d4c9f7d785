"""The instruments store's port, and an in-memory store with the same semantics (tests, tools).

Writers: the admin API (``put``: a new listing or a change, one version at a time), the
recorder (``set_status`` and ``mark_listed``, from the engine's journal), and the deploy
(``seed``). Readers: every process's ``LiveCatalog`` (``listings``), the engine at start, and
operators (``history``). ``exchange.instruments.store_dynamo`` is the DynamoDB store.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from exchange.domain.enums import InstrumentStatus
from exchange.domain.errors import ConfigurationError, InvalidInstrument, UnknownInstrument
from exchange.domain.instruments import Instrument, InstrumentCatalog
from exchange.instruments.errors import VersionConflict
from exchange.instruments.model import SEED_ACTOR, Listing, check_change, check_shard
from exchange.messaging import ShardMap


class InstrumentStore(Protocol):
    def listings(self) -> list[Listing]:
        """Every symbol's listing in force (its ``current``), in no particular order."""
        ...

    def get(self, symbol: str) -> Listing | None:
        """The symbol's listing in force, read consistently; None when never listed."""
        ...

    def history(self, symbol: str) -> list[Listing]:
        """Every version of the symbol, oldest first (each with its definition's status)."""
        ...

    def put(
        self,
        instrument: Instrument,
        *,
        shard: str,
        version: int,
        actor: str,
        reason: str,
        now_ns: int | None = None,
    ) -> Listing:
        """Write ``version`` of the instrument and make it the one in force, all or nothing.

        ``version`` must be the next one: 1 for a new symbol, else the one in force plus one.
        Raises VersionConflict when it is not (someone else wrote it first: nothing written),
        ImmutableField when a change alters a field fixed at listing (or the shard).
        """
        ...

    def set_status(self, symbol: str, status: InstrumentStatus, seq: int) -> bool:
        """Record the engine's status at ``seq``, only forwards: True when written, False when
        the store holds a later (or the same) seq already, or does not list the symbol."""
        ...

    def mark_listed(self, symbol: str, version: int, seq: int) -> bool:
        """Record ``seq`` of the engine's ``InstrumentListed`` of ``version``: True when that
        version is in force (and now carries the seq), False when another one is."""
        ...

    def seed(self, catalog: InstrumentCatalog, shards: ShardMap, *, now_ns: int) -> int:
        """Version 1 of each of ``catalog``'s symbols the store lacks (actor "seed"); how many
        were written. Idempotent: a symbol listed already, or seeded concurrently, is left."""
        ...


def next_version_check(
    current: Listing | None, instrument: Instrument, shard: str, version: int
) -> None:
    """What both stores check before writing ``version``: it is the next one, and a change
    keeps what is fixed at listing."""
    if version < 1:
        raise InvalidInstrument(f"{instrument.symbol}: versions start at 1, was {version}")
    in_force = 0 if current is None else current.version
    if version != in_force + 1:
        raise VersionConflict(
            f"{instrument.symbol}: version {in_force} is in force, so {version} cannot be written"
        )
    if current is not None:
        check_change(current.instrument, instrument)
        check_shard(current, shard)


def seed_store(
    store: InstrumentStore, catalog: InstrumentCatalog, shards: ShardMap, *, now_ns: int
) -> int:
    """``store.seed``, for every store: version 1 of each symbol the store lacks, on the shard
    ``shards`` gives it. A symbol no shard trades is a broken deploy (ConfigurationError).

    In a global table each region's conditions are checked in that region only, so two
    regions seeding at once could both write version 1; both write the same definition from the
    same file, so whichever replicates last changes nothing that matters.
    """
    written = 0
    for instrument in catalog:
        try:
            shard = shards.shard_of(instrument.symbol)
        except UnknownInstrument as exc:
            raise ConfigurationError(f"cannot seed {instrument.symbol}: {exc}") from exc
        if store.get(instrument.symbol) is not None:
            continue
        try:
            store.put(
                instrument,
                shard=shard,
                version=1,
                actor=SEED_ACTOR,
                reason="listed from the instruments file",
                now_ns=now_ns,
            )
        except VersionConflict:
            continue  # seeded by another run in the meantime
        written += 1
    return written


class InMemoryInstrumentStore:
    """The store's semantics in a dict: each ``put`` checks and writes under one lock, as the
    DynamoDB store's transaction does."""

    def __init__(self, *, clock: Callable[[], int] = time.time_ns) -> None:
        self._versions: dict[str, list[Listing]] = {}
        self._current: dict[str, Listing] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def listings(self) -> list[Listing]:
        with self._lock:
            return list(self._current.values())

    def get(self, symbol: str) -> Listing | None:
        with self._lock:
            return self._current.get(symbol)

    def history(self, symbol: str) -> list[Listing]:
        with self._lock:
            return list(self._versions.get(symbol, ()))

    def put(
        self,
        instrument: Instrument,
        *,
        shard: str,
        version: int,
        actor: str,
        reason: str,
        now_ns: int | None = None,
    ) -> Listing:
        with self._lock:
            current = self._current.get(instrument.symbol)
            next_version_check(current, instrument, shard, version)
            written = Listing(
                instrument=instrument,
                version=version,
                shard=shard,
                status=instrument.status,
                actor=actor,
                reason=reason,
                created_ns=self._clock() if now_ns is None else now_ns,
            )
            self._versions.setdefault(instrument.symbol, []).append(written)
            # A change keeps the status the engine journaled; only SetTradingStatus changes it.
            in_force = (
                written
                if current is None
                else replace(written, status=current.status, status_seq=current.status_seq)
            )
            self._current[instrument.symbol] = in_force
            return in_force

    def set_status(self, symbol: str, status: InstrumentStatus, seq: int) -> bool:
        with self._lock:
            current = self._current.get(symbol)
            if current is None or current.status_seq >= seq:
                return False
            self._current[symbol] = replace(current, status=status, status_seq=seq)
            return True

    def mark_listed(self, symbol: str, version: int, seq: int) -> bool:
        with self._lock:
            current = self._current.get(symbol)
            if current is None or current.version != version:
                return False
            self._current[symbol] = replace(current, listed_seq=seq)
            return True

    def seed(self, catalog: InstrumentCatalog, shards: ShardMap, *, now_ns: int) -> int:
        return seed_store(self, catalog, shards, now_ns=now_ns)
