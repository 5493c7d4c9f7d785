"""The ledger consumer: settles trades and resizes holds for every journal record.

``LedgerPort.apply_events`` takes the record's new events in one transaction and is itself
idempotent on ``(symbol, seq)``; the cursor (advanced after it commits) only spares the database
the replays and gives the gap check its position.

When the ledger refuses the record (a typed ledger error: an inconsistent fill, a missing hold,
...), settlement does not halt the symbol: the events are applied again one at a time, each in
its own transaction, and the record of those that still fail goes to the quarantine store (with
its payload and the errors; metric ``JournalQuarantined``, an error log). The cursor then moves
on. ``python -m exchange.ledger.redrive`` applies quarantined records again after a fix. An outage
(the database unreachable, a pool timeout, DynamoDB failing) is no ledger error: it fails the
record, and Lambda retries it.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from exchange.domain.errors import UnknownInstrument
from exchange.domain.events import AnyEvent, Event
from exchange.journal.batch import count
from exchange.journal.cursors import Clock, CursoredSink, CursorStore
from exchange.journal.quarantine import Quarantined, QuarantineStore, cut, pieces
from exchange.ledger.errors import LedgerError
from exchange.ledger.port import LedgerPort
from exchange.observability import logger
from exchange.wire import JournalRecord

# What the ledger refuses for good: the same event fails the same way however often it is tried.
REFUSED = (LedgerError, UnknownInstrument)


@dataclass(frozen=True, slots=True)
class Settled:
    """What applying a run of events did: how many were new, and the ones the ledger refused."""

    applied: int
    refused: list[tuple[Event, Exception]] = field(default_factory=list)

    def error_text(self, first_seq: int = 0, last_seq: int | None = None) -> str:
        """The refusals (those from ``first_seq`` through ``last_seq``), one after another."""
        return "; ".join(
            f"seq {event.seq} {type(event).__name__}: {type(error).__name__}: {error}"
            for event, error in self.refused
            if first_seq <= event.seq and (last_seq is None or event.seq <= last_seq)
        )


def settle(ledger: LedgerPort, events: Sequence[Event]) -> Settled:
    """Apply ``events`` in one transaction; if the ledger refuses that, one at a time, each in its
    own transaction, collecting the refusals. Any other error (an outage) propagates."""
    try:
        return Settled(sum(ledger.apply_events(events)))
    except REFUSED:
        pass
    applied = 0
    refused: list[tuple[Event, Exception]] = []
    for event in events:
        try:
            applied += ledger.apply_event(event)
        except REFUSED as exc:
            refused.append((event, exc))
    return Settled(applied, refused)


class Settlement(CursoredSink):
    """The settlement sink. Without a ``quarantine`` store a refused record fails (and blocks its
    symbol until it is redriven from the failure destination); the function always has one."""

    name = "settlement"
    # A refused record is quarantined whole: records are applied as journaled, never merged.
    merges_records = False

    def __init__(
        self,
        ledger: LedgerPort,
        cursors: CursorStore,
        quarantine: QuarantineStore | None = None,
        clock: Clock = time.time_ns,
    ) -> None:
        super().__init__(cursors, clock)
        self._ledger = ledger
        self._quarantine = quarantine

    @property
    def ledger(self) -> LedgerPort:
        return self._ledger

    def handle(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        if self._quarantine is None:
            count("LedgerEventsApplied", sum(self._ledger.apply_events(events)))
            return
        settled = settle(self._ledger, events)
        count("LedgerEventsApplied", settled.applied)
        if settled.refused:
            self._set_aside(record, settled, self._quarantine)

    def _set_aside(self, record: JournalRecord, settled: Settled, store: QuarantineStore) -> None:
        error = settled.error_text()
        now_ns = self._clock()
        parts = pieces(record, [event.seq for event, _ in settled.refused])
        for part in parts:
            text = settled.error_text(part.first_seq, part.last_seq)
            store.put(Quarantined.of(self.name, part, error=text, now_ns=now_ns))
        count("JournalQuarantined")
        logger.error(
            "journal record quarantined",
            extra={
                "consumer": self.name,
                "symbol": record.symbol,
                "first_seq": record.first_seq,
                "last_seq": record.last_seq,
                "refused_seqs": [event.seq for event, _ in settled.refused],
                "items": [part.first_seq for part in parts],  # each kept from its first seq
                "error": cut(error),
            },
        )
