"""How far each consumer has applied each symbol's journal (the ``cursors`` table), and the sink
base of the consumers whose own writes cannot say it (fanout, candles, settlement).

A consumer's effect is idempotent per event, and the cursor is advanced after it, so a crash in
between replays the record harmlessly. Advancing is conditional on the cursor being where the
consumer read it, so two invocations racing on one symbol cannot both move it.
"""

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from pynamodb.exceptions import PutError

from exchange.domain.errors import ExchangeError
from exchange.domain.events import AnyEvent
from exchange.journal.batch import JournalSink
from exchange.tables import CursorRecord, condition_failed
from exchange.wire import JournalRecord

Clock = Callable[[], int]


class CursorConflict(ExchangeError):
    """The cursor moved between reading and advancing it (another invocation applied it)."""

    code = "cursor_conflict"


class CursorStore(ABC):
    @abstractmethod
    def get(self, consumer: str, symbol: str) -> int:
        """The last seq ``consumer`` applied for ``symbol``; 0 if none."""

    @abstractmethod
    def advance(self, consumer: str, symbol: str, *, after: int, to: int, now_ns: int) -> None:
        """Move the cursor from ``after`` to ``to``; CursorConflict if it is not at ``after``."""


class CursoredSink(JournalSink):
    """A sink whose progress lives in a ``CursorStore`` under its ``name``."""

    def __init__(self, cursors: CursorStore, clock: Clock = time.time_ns) -> None:
        self._cursors = cursors
        self._clock = clock

    def last_seq(self, symbol: str) -> int:
        return self._cursors.get(self.name, symbol)

    def apply(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        self.handle(record, events, after)
        self._cursors.advance(
            self.name, record.symbol, after=after, to=record.last_seq, now_ns=self._clock()
        )

    @abstractmethod
    def handle(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        """The consumer's effect; idempotent per event."""


class DynamoCursorStore(CursorStore):
    def get(self, consumer: str, symbol: str) -> int:
        try:
            return int(CursorRecord.get(consumer, symbol, consistent_read=True).last_seq)
        except CursorRecord.DoesNotExist:
            return 0

    def advance(self, consumer: str, symbol: str, *, after: int, to: int, now_ns: int) -> None:
        condition = (
            CursorRecord.symbol.does_not_exist() if after == 0 else CursorRecord.last_seq == after
        )
        try:
            CursorRecord(consumer, symbol, last_seq=to, updated_ns=now_ns).save(condition=condition)
        except PutError as exc:
            if condition_failed(exc):
                raise CursorConflict(f"{consumer}/{symbol} is not at seq {after}") from exc
            raise
