"""How far each consumer has applied each symbol's journal (the ``cursors`` table), and the sink
base of the consumers whose own writes cannot say it (fanout, candles, settlement).

A consumer's effect is idempotent per event, and the cursor is advanced after it, so a crash in
between replays the record harmlessly. Advancing is conditional on the cursor being where the
consumer read it, so two invocations racing on one symbol cannot both move it.

The cursor also keeps the symbol's failover epochs as the consumer applied them
(``exchange.journal.epochs``): ``epochs``, the transitions ``[first_seq, epoch]`` (written only
when a record of another epoch than the last is applied; none means epoch 0 throughout), and
``refused_epochs``, the epochs caught reusing seqs of the symbol. A duplicate whose seqs were
applied under another epoch raises ``SeqReused``; a record of a refused epoch, ``EpochRefused``.
Clearing a refusal is an operator's act, after reconciling the symbol.
"""

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from exchange.domain.errors import ExchangeError
from exchange.domain.events import AnyEvent
from exchange.journal.batch import JournalSink
from exchange.journal.epochs import (
    EpochHistory,
    EpochRefused,
    SeqReused,
    after_applying,
    epoch_at,
    history_of,
    mismatched,
)
from exchange.tables import CursorRecord, condition_failed
from exchange.wire import JournalRecord

Clock = Callable[[], int]


class CursorConflict(ExchangeError):
    """The cursor moved between reading and advancing it (another invocation applied it)."""

    code = "cursor_conflict"


@dataclass(frozen=True, slots=True)
class Cursor:
    """One consumer's position in one symbol's journal, with the epochs it applied it under."""

    last_seq: int = 0
    epochs: EpochHistory = ()
    refused: frozenset[int] = frozenset()


class CursorStore(ABC):
    @abstractmethod
    def get(self, consumer: str, symbol: str) -> int:
        """The last seq ``consumer`` applied for ``symbol``; 0 if none."""

    def read(self, consumer: str, symbol: str) -> Cursor:
        """The whole cursor; a store that keeps no epochs has epoch 0 throughout."""
        return Cursor(self.get(consumer, symbol))

    @abstractmethod
    def advance(
        self,
        consumer: str,
        symbol: str,
        *,
        after: int,
        to: int,
        now_ns: int,
        epochs: EpochHistory | None = None,
    ) -> None:
        """Move the cursor from ``after`` to ``to`` (and its epoch history to ``epochs``; None
        leaves it as it is); CursorConflict if it is not at ``after``."""

    def refuse(self, consumer: str, symbol: str, epoch: int, *, now_ns: int) -> None:
        """Refuse ``epoch`` for the symbol from now on (the cursor itself does not move)."""
        raise NotImplementedError(f"{type(self).__name__} keeps no refused epochs")


class CursoredSink(JournalSink):
    """A sink whose progress lives in a ``CursorStore`` under its ``name``; it checks a repeated
    seq's epoch against the cursor's history, and records the history as it applies."""

    def __init__(self, cursors: CursorStore, clock: Clock = time.time_ns) -> None:
        self._cursors = cursors
        self._clock = clock
        # The cursor as last read or written, per symbol (this invocation alone moves it: Kinesis
        # gives one symbol's records to one batch at a time).
        self._seen: dict[str, Cursor] = {}

    def last_seq(self, symbol: str) -> int:
        return self._read(symbol).last_seq

    def verify(self, record: JournalRecord, through: int) -> None:
        cursor = self._cursor(record.symbol, at_least=through)
        self._admit(record, cursor)
        wrong = mismatched(cursor.epochs, record.first_seq, through, record.epoch)
        if wrong:
            applied = epoch_at(cursor.epochs, wrong[0])
            raise SeqReused(self.name, record.symbol, wrong, applied, record.epoch)

    def refuse(self, record: JournalRecord) -> None:
        symbol = record.symbol
        self._seen.pop(symbol, None)
        self._cursors.refuse(self.name, symbol, record.epoch, now_ns=self._clock())

    def apply(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        symbol = record.symbol
        cursor = self._cursor(symbol, at_least=after)
        self._admit(record, cursor)
        self.handle(record, events, after)
        epochs = after_applying(cursor.epochs, after + 1, record.epoch)
        self._seen.pop(symbol, None)  # unknown until the write succeeds
        self._cursors.advance(
            self.name, symbol, after=after, to=record.last_seq, now_ns=self._clock(), epochs=epochs
        )
        self._seen[symbol] = Cursor(
            record.last_seq, cursor.epochs if epochs is None else epochs, cursor.refused
        )

    def _read(self, symbol: str) -> Cursor:
        cursor = self._seen[symbol] = self._cursors.read(self.name, symbol)
        return cursor

    def _cursor(self, symbol: str, *, at_least: int) -> Cursor:
        """The cursor cached, unless it is behind ``at_least`` (then read again)."""
        cursor = self._seen.get(symbol)
        return cursor if cursor is not None and cursor.last_seq >= at_least else self._read(symbol)

    def _admit(self, record: JournalRecord, cursor: Cursor) -> None:
        if record.epoch in cursor.refused:
            seqs = range(record.first_seq, record.last_seq + 1)
            raise EpochRefused(self.name, record.symbol, seqs, record.epoch)

    @abstractmethod
    def handle(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        """The consumer's effect; idempotent per event."""


class DynamoCursorStore(CursorStore):
    def get(self, consumer: str, symbol: str) -> int:
        return self.read(consumer, symbol).last_seq

    def read(self, consumer: str, symbol: str) -> Cursor:
        try:
            row = CursorRecord.get(consumer, symbol, consistent_read=True)
        except CursorRecord.DoesNotExist:
            return Cursor()
        return Cursor(
            int(row.last_seq),
            history_of(row.epochs),
            frozenset(int(epoch) for epoch in row.refused_epochs or ()),
        )

    def advance(
        self,
        consumer: str,
        symbol: str,
        *,
        after: int,
        to: int,
        now_ns: int,
        epochs: EpochHistory | None = None,
    ) -> None:
        # An update, not a put: the epochs and refusals stay unless they are written. A cursor
        # at 0 may exist (a refusal before the first record).
        condition = CursorRecord.last_seq == after
        if after == 0:
            condition = CursorRecord.last_seq.does_not_exist() | condition
        actions: list[Action] = [CursorRecord.last_seq.set(to), CursorRecord.updated_ns.set(now_ns)]
        if epochs is not None:
            actions.append(CursorRecord.epochs.set([[first, epoch] for first, epoch in epochs]))
        try:
            CursorRecord(consumer, symbol).update(actions=actions, condition=condition)
        except UpdateError as exc:
            if condition_failed(exc):
                raise CursorConflict(f"{consumer}/{symbol} is not at seq {after}") from exc
            raise

    def refuse(self, consumer: str, symbol: str, epoch: int, *, now_ns: int) -> None:
        CursorRecord(consumer, symbol).update(
            actions=[
                CursorRecord.refused_epochs.add({epoch}),
                CursorRecord.updated_ns.set(now_ns),
                # A cursor refused before its first record: at seq 0, so it reads as one.
                CursorRecord.last_seq.set(CursorRecord.last_seq | 0),
            ]
        )
