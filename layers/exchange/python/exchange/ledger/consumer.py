"""The ledger consumer: settles trades and resizes holds for every journal record.

``LedgerPort.apply_events`` takes the record's new events in one transaction and is itself
idempotent on ``(symbol, seq)``; the cursor (advanced after it commits) only spares the database
the replays and gives the gap check its position.
"""

from collections.abc import Sequence

from exchange.domain.events import AnyEvent
from exchange.journal.batch import count
from exchange.journal.cursors import CursoredSink, CursorStore
from exchange.ledger.port import LedgerPort
from exchange.wire import JournalRecord


class Settlement(CursoredSink):
    name = "settlement"

    def __init__(self, ledger: LedgerPort, cursors: CursorStore) -> None:
        super().__init__(cursors)
        self._ledger = ledger

    def handle(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        applied = self._ledger.apply_events(events)
        count("LedgerEventsApplied", sum(applied))
