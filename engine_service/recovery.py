"""A shard's engine rebuilt on start: the newest snapshot, then every journal event after it of
the shard's own symbols, then the commands that list what the instruments store holds and the
engine does not.

The journal is shared by all shards, so the engine must know which symbols are its own to replay
them: the static instruments' and the snapshot's, and, with a listing source (the instruments
store; ``EngineSettings.read_instruments_store``), every listing whose shard is this one, which
covers a symbol listed since the snapshot. (The runtime snapshots a new listing at once, which
covers a restart without the store unless the snapshot stores fail too.)

**Promotion.** A snapshot of an older failover epoch than the engine's (``engine_service.fence``)
was taken in the other region: its journal position names that region's stream. The engine then
rebuilds from the snapshot plus the journal's replicated copy, the events table
(``ReplicatedEvents``), from each symbol's snapshot seq on, once the copy has stopped moving; and
then reads its own region's stream from its start, keeping only the records of its own epoch
past those seqs (what this region already journaled since it took over; an earlier epoch's
records there, say the tail a failback left behind, are superseded by the copy). Seqs so
continue with neither a gap nor a reuse of anything the copy holds. A region with no snapshot at
all promotes from the table alone, and so does one whose snapshot replicated ahead of the table
(S3 and DynamoDB replicate separately): the rebuilt books are always a gap-free prefix of the
copy, which DR's consumers catch up from (``composition.promote_consumers``).

A listing in the store that the engine lacks (its publish was lost) becomes the admin's own
``ListInstrument``, command id and all, for the runtime to apply and journal: the journal stays
the one record of every listing, and the admin's copy, should it come after all, is a duplicate.
"""

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

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
from exchange.domain.events import AnyEvent
from exchange.instruments.model import Listing, definition
from exchange.observability import logger

StoreFailed = Callable[[str, SnapshotStoreUnavailable | SnapshotRefused], None]


class ReplicatedEvents(Protocol):
    """The journal's copy that replicates across regions (``adapters.events_table``)."""

    def events_after(self, symbol: str, seq: int) -> Iterator[AnyEvent]:
        """The symbol's events past ``seq``, in seq order."""

    def tail(self, symbol: str) -> int:
        """The symbol's highest seq in the copy (0: none)."""


@dataclass(frozen=True, slots=True)
class Promotion:
    """How to take over from the other region: its copy of the journal, and how long the copy's
    tail must stay still (replication drained) before the books are rebuilt from it."""

    events: ReplicatedEvents
    epoch: int
    quiet_s: float = 2.0
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class Recovered:
    engine: Engine
    position: JournalPosition  # the journal's, after the last event read
    snapshot: bool  # whether a snapshot was restored
    replayed: int  # journal events applied after it
    adoptable: list[ListInstrument]  # the store's listings the engine lacks (``adopt`` them)
    promoted: int = 0  # events replayed from the replicated copy (a promotion), else 0
    promoting: bool = False  # a promotion: the snapshot was of an older epoch, or there was none


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
    promotion: Promotion | None = None,
) -> Recovered:
    """The newest snapshot plus every later journal event of the shard's symbols (the engine's,
    and those ``listings`` puts on the shard). A snapshot store that fails is reported and
    skipped: the journal alone rebuilds the state then, and a trimmed one fails the replay
    loudly (ReplayError). With ``promotion``, a snapshot of an older epoch (or none) is first
    completed from the replicated copy (the module's docstring)."""
    own = own_listings(listings, shard)
    engine = Engine(instruments)
    position = JournalPosition()
    seqs: dict[str, int] = {}
    snapshot_epoch = -1
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
        snapshot_epoch = snapshot.epoch
    promoted = 0
    promoting = promotion is not None and snapshot_epoch < promotion.epoch
    if promotion is not None and promoting:
        position = JournalPosition()  # the other region's stream: read ours from its start
        symbols = set(engine.books) | set(own) | {i.symbol for i in instruments}
        tails = settled_tail(
            promotion.events.tail, symbols, quiet_s=promotion.quiet_s,
            timeout_s=promotion.timeout_s,
        )  # fmt: skip
        if any(seq > tails[symbol] for symbol, seq in seqs.items() if symbol in tails):
            # The snapshot replicated ahead of the events: DR's consumers, which catch up from
            # the copy, could never see the events between. Rebuild from the copy alone.
            logger.warning("the replicated snapshot is ahead of the events copy; not using it",
                           extra={"snapshot_seqs": seqs, "copy_tails": tails})  # fmt: skip
            engine, seqs = Engine(instruments), {}
        for symbol in sorted(symbols):
            known = seqs.get(symbol, 0)
            copied = contiguous(promotion.events.events_after(symbol, known), known)
            if copied:
                engine.replay(copied)
                promoted += len(copied)
                seqs[symbol] = copied[-1].seq
            if seqs.get(symbol, 0) < tails[symbol]:  # a hole: replication not yet in order
                logger.error("the replicated journal has a hole; events past it are lost",
                             extra={"symbol": symbol, "rebuilt_to": seqs.get(symbol, 0),
                                    "copy_tail": tails[symbol]})  # fmt: skip
        logger.info(
            "promoted from the replicated journal",
            extra={"events": promoted, "snapshot_epoch": snapshot_epoch,
                   "epoch": promotion.epoch, "seqs": seqs},
        )  # fmt: skip
    replayed = 0
    for record, after in journal.read_after(position):
        position = position.advanced(after)
        if record.symbol not in engine.books and record.symbol not in own:
            continue  # another shard's symbol on the shared stream
        if promotion is not None and promoting and record.epoch != promotion.epoch:
            continue  # this region's stream from an earlier epoch: the copy supersedes it
        fresh = [e for e in record.events if e.seq > seqs.get(record.symbol, 0)]
        if fresh:
            engine.replay(fresh)  # raises ReplayError on a seq gap or a misfit
            replayed += len(fresh)
            seqs[record.symbol] = fresh[-1].seq
    adoptable = listing_commands(engine, own.values())
    return Recovered(
        engine, position, payload is not None, replayed + promoted, adoptable, promoted, promoting
    )


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


def gap_free[E: Event](events: Iterable[E], after: int) -> Iterator[E]:
    """The run of ``events`` from seq ``after`` + 1 on without a gap, as it is read (global
    tables replicate item by item, in no promised order, so a copy may hold seq n + 2 before
    n + 1)."""
    for event in events:
        if event.seq != after + 1:
            return
        yield event
        after = event.seq


def contiguous(events: Iterable[AnyEvent], after: int) -> list[AnyEvent]:
    """``gap_free`` as a list.

    >>> from types import SimpleNamespace as E
    >>> [e.seq for e in contiguous([E(seq=4), E(seq=5), E(seq=7)], 3)]  # type: ignore[arg-type]
    [4, 5]
    >>> contiguous([E(seq=5)], 3)  # type: ignore[arg-type]
    []
    """
    return list(gap_free(events, after))


def settled_tail(
    tail: Callable[[str], int],
    symbols: Iterable[str],
    *,
    quiet_s: float,
    timeout_s: float,
    poll_s: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, int]:
    """Each symbol's tail once no symbol's has moved for ``quiet_s`` (replication has drained),
    or what it is after ``timeout_s``."""
    names = sorted(set(symbols))
    started = clock()
    last = {symbol: tail(symbol) for symbol in names}
    quiet_since = started
    while clock() - quiet_since < quiet_s and clock() - started < timeout_s:
        sleep(poll_s)
        now = {symbol: tail(symbol) for symbol in names}
        if now != last:
            last, quiet_since = now, clock()
    return last
