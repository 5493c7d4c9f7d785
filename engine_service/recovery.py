"""A shard's engine rebuilt on start: the newest snapshot, then every journal event after it of
the shard's own symbols, then the commands that list what the instruments store holds and the
engine does not.

The journal is shared by all shards, so the engine must know which symbols are its own to replay
them: the static instruments' and the snapshot's, and, with a listing source (the instruments
store; ``EngineSettings.read_instruments_store``), every listing whose shard is this one, which
covers a symbol listed since the snapshot. (The runtime snapshots a new listing at once, which
covers a restart without the store unless the snapshot stores fail too.)

A listing in the store that the engine lacks (its publish was lost) becomes the admin's own
``ListInstrument``, command id and all, for the runtime to apply and journal: the journal stays
the one record of every listing, and the admin's copy, should it come after all, is a duplicate.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from engine_service.core import Engine
from engine_service.ports import (
    Journal,
    JournalPosition,
    ListingSource,
    SnapshotRefused,
    SnapshotStore,
    SnapshotStoreUnavailable,
)
from engine_service.snapshot import decode_snapshot
from exchange.domain import Event, Instrument, ListInstrument
from exchange.instruments.model import Listing, definition
from exchange.observability import logger

StoreFailed = Callable[[str, SnapshotStoreUnavailable | SnapshotRefused], None]


@dataclass(frozen=True, slots=True)
class Recovered:
    engine: Engine
    position: JournalPosition  # the journal's, after the last event read
    snapshot: bool  # whether a snapshot was restored
    replayed: int  # journal events applied after it
    adoptable: list[ListInstrument]  # the store's listings the engine lacks (``adopt`` them)


def own_listings(source: ListingSource | None, shard: str) -> dict[str, Listing]:
    """The source's listings on ``shard``, by symbol (none without a source). Raises the store's
    error when it cannot be read: a symbol listed since the snapshot would otherwise be lost."""
    if source is None:
        return {}
    return {item.symbol: item for item in source.listings() if item.shard == shard}


def rebuild(
    *,
    shard: str,
    instruments: Sequence[Instrument],
    snapshots: SnapshotStore,
    journal: Journal,
    listings: ListingSource | None,
    store_failed: StoreFailed,
) -> Recovered:
    """The newest snapshot plus every later journal event of the shard's symbols (the engine's,
    and those ``listings`` puts on the shard). A snapshot store that fails is reported and
    skipped: the journal alone rebuilds the state then, and a trimmed one fails the replay
    loudly (ReplayError)."""
    own = own_listings(listings, shard)
    engine = Engine(instruments)
    position = JournalPosition()
    seqs: dict[str, int] = {}
    try:
        payload = snapshots.load(shard)
    except (SnapshotStoreUnavailable, SnapshotRefused) as exc:
        store_failed("snapshots", exc)
        payload = None
    if payload is not None:
        snapshot = decode_snapshot(payload)
        engine = Engine.restore(snapshot.engine_state, instruments)
        position = snapshot.position
        seqs = dict(snapshot.seqs)
    replayed = 0
    for record, after in journal.read_after(position):
        position = position.advanced(after)
        if record.symbol not in engine.books and record.symbol not in own:
            continue  # another shard's symbol on the shared stream
        fresh = [e for e in record.events if e.seq > seqs.get(record.symbol, 0)]
        if fresh:
            engine.replay(fresh)  # raises ReplayError on a seq gap or a misfit
            replayed += len(fresh)
    adoptable = listing_commands(engine, own.values())
    return Recovered(engine, position, payload is not None, replayed, adoptable)


def listing_commands(engine: Engine, listings: Iterable[Listing]) -> list[ListInstrument]:
    """The admin's ``ListInstrument`` of each listing the engine does not hold (a symbol it
    lacks, or a newer version), by symbol."""
    commands = [
        ListInstrument(
            symbol=listing.symbol,
            ts=listing.created_ns,
            command_id=f"list:{listing.symbol}:{listing.version}",
            instrument=definition(listing.instrument),
            version=listing.version,
            actor=listing.actor,
            reason=listing.reason,
        )
        for listing in listings
    ]
    return sorted(
        (command for command in commands if not engine.is_duplicate(command)),
        key=lambda command: command.symbol,
    )


def adopt(engine: Engine, commands: Iterable[ListInstrument]) -> list[Event]:
    """Apply listings from the store; the events to journal (a new listing refused, with seq 0,
    has none: it is logged)."""
    events: list[Event] = []
    for command in commands:
        caused = engine.apply(command)
        extra = {"symbol": command.symbol, "version": command.version}
        if caused[0].seq:
            logger.warning("listing adopted from the instruments store", extra=extra)
            events.extend(caused)
        else:
            logger.error("listing in the store refused", extra={**extra, "event": str(caused)})
    return events
