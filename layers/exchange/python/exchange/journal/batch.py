"""Kinesis batches of journal records, for every consumer.

Each Kinesis record is one ``JournalRecord``: a gap-free run of one symbol's events. A consumer
(a ``JournalSink``) knows the last seq it applied per symbol; a record is then

- a **duplicate** when it ends at or before that seq: nothing happens (a replay, a retry after a
  partial failure, or a producer retry);
- a **gap** when it starts after the next seq: ``SequenceGap`` is raised, logged and counted, and
  the record is reported failed, so Lambda retries it (and, with bisect-on-error, splits the
  batch) rather than silently skipping events;
- otherwise applied from the next seq on (a record that overlaps what was applied is trimmed).

A duplicate, and the overlapping part of a trimmed record, are first checked by the sink
(``JournalSink.verify``): seqs it applied under another failover epoch, or with other content,
raise ``SeqReused`` (``exchange.journal.epochs``; metric ``JournalSeqReused``, an error log), the
sink refuses the record's epoch for the symbol (``JournalSink.refuse``), and the record and the
symbol's later records of that epoch in the batch fail: a reused seq blocks its symbol, it is
never skipped as a duplicate. A sink that cannot tell keeps the old behaviour (the default).

A symbol's records in a batch that chain (each starts at the seq after the previous one's end,
under the same epoch) are applied as one record (``merge_runs``): what the engine
would have written had it packed those events into one record, which it may do anyway under
load. A consumer then reads, writes and pushes once per run instead of once per record (the
recorder's one read of the orders the run touches, one write of each order's final state, its
rows and audit entries in as few requests as they fit). The run succeeds or fails as a whole: a
failure reports every record of the run failed, so Lambda retries from its first.

A record that does not decode is a **poison record**: ``WireFormatError``, logged and counted.
Failures are reported with Powertools' partial batch response; Lambda checkpoints before the
first failed record and redelivers the rest, which are then duplicates. Records after a failed
record of the same symbol fail as gaps, so one symbol's events are never applied out of order.
"""

import base64
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamRecord,
)

from exchange.domain.errors import ExchangeError, WireFormatError
from exchange.domain.events import AnyEvent
from exchange.journal.epochs import EpochRefused, SeqReused
from exchange.observability import logger, metrics, tracer
from exchange.wire import JournalRecord, decode_record


class SequenceGap(ExchangeError):
    """A record starts after the next seq this consumer expects for its symbol."""

    code = "sequence_gap"

    def __init__(self, consumer: str, symbol: str, expected: int, first_seq: int) -> None:
        super().__init__(
            f"{consumer}: {symbol} record starts at seq {first_seq}, {expected} was due"
        )
        self.symbol = symbol
        self.expected = expected
        self.first_seq = first_seq


class JournalSink(ABC):
    """One consumer's effect of journal records.

    ``apply`` must be idempotent per event (a crash between its writes and the next call is
    followed by a replay of the same record), and must leave ``last_seq`` at the record's end.
    """

    name: str
    # Whether the batch may hand it a symbol's chaining records as one (``merge_runs``). Not a
    # sink whose unit of failure is the record as journaled: settlement quarantines a record
    # whole, and a merged one would hold back the good events beside a refused one.
    merges_records: bool = True

    @abstractmethod
    def last_seq(self, symbol: str) -> int:
        """The last seq applied for ``symbol`` (0 before its first event)."""

    @abstractmethod
    def apply(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        """Apply ``events`` (the record's events after seq ``after``, in order)."""

    def verify(self, record: JournalRecord, through: int) -> None:
        """Check the record's events up to seq ``through``, which this sink applied before: raise
        ``SeqReused`` if it applied them under another epoch or with other content. The default
        cannot tell, and passes (a duplicate is then skipped, as it always was)."""
        return

    def refuse(self, record: JournalRecord) -> None:
        """Remember that ``record``'s epoch reused seqs of its symbol, so its later records fail
        (``EpochRefused``). The default remembers nothing beyond the batch."""
        return


def count(name: str, value: int = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def consume(sink: JournalSink, record: JournalRecord, positions: dict[str, int]) -> int:
    """Apply one journal record; returns how many events were new.

    ``positions`` caches each symbol's last seq for the rest of one batch.
    """
    try:
        return _consume(sink, record, positions)
    except SeqReused as exc:
        positions.pop(record.symbol, None)
        reused(sink, record, exc)
        raise


def reused(sink: JournalSink, record: JournalRecord, exc: SeqReused) -> None:
    """Count and log a reused seq, and have the sink refuse the record's epoch from now on."""
    count("JournalSeqReused")
    logger.error(
        "journal seq reused",
        extra={"consumer": sink.name, "symbol": record.symbol, "first_seq": record.first_seq,
               "last_seq": record.last_seq, "epoch": record.epoch, "error": str(exc)},
    )  # fmt: skip
    if isinstance(exc, EpochRefused):
        return  # refused already
    try:
        sink.refuse(record)
    except Exception as error:  # noqa: BLE001 - the record fails anyway; the batch blocks it
        logger.error(
            "epoch refusal not stored",
            extra={"consumer": sink.name, "symbol": record.symbol, "epoch": record.epoch,
                   "error": f"{type(error).__name__}: {error}"},
        )  # fmt: skip


def _consume(sink: JournalSink, record: JournalRecord, positions: dict[str, int]) -> int:
    symbol = record.symbol
    last = positions.get(symbol)
    if last is None:
        last = sink.last_seq(symbol)
    if record.last_seq <= last:
        sink.verify(record, record.last_seq)
        positions[symbol] = last
        count("JournalDuplicateRecords")
        logger.debug(
            "duplicate journal record",
            extra={"symbol": symbol, "first_seq": record.first_seq, "applied": last},
        )
        return 0
    if record.first_seq > last + 1:
        positions.pop(symbol, None)
        count("JournalSequenceGaps")
        logger.error(
            "journal sequence gap",
            extra={"consumer": sink.name, "symbol": symbol, "expected": last + 1,
                   "first_seq": record.first_seq},
        )  # fmt: skip
        raise SequenceGap(sink.name, symbol, last + 1, record.first_seq)
    if record.first_seq <= last:
        sink.verify(record, last)
    fresh = record.events[last + 1 - record.first_seq :]
    # Forgotten until applied: after a failure the next record of the symbol re-reads the store.
    positions.pop(symbol, None)
    sink.apply(record, fresh, last)
    positions[symbol] = record.last_seq
    count("JournalEventsApplied", len(fresh))
    return len(fresh)


def decode(data: bytes, *, sequence_number: str = "") -> JournalRecord:
    try:
        return decode_record(data)
    except WireFormatError:
        count("JournalPoisonRecords")
        logger.error(
            "poison journal record", extra={"sequence_number": sequence_number, "size": len(data)}
        )
        raise


# The most events one merged run holds (the records it merges are whole: a run stops before the
# record that would take it past this).
MAX_RUN_EVENTS: Final = 1000


@dataclass(slots=True)
class _Run:
    """Consecutive chaining records applied as one: its record, and its outcome once applied."""

    record: JournalRecord
    members: list[str]  # the Kinesis sequence numbers, in order
    outcome: int | BaseException | None = None


def merge_runs(records: Sequence[tuple[str, bytes]]) -> dict[str, _Run]:
    """Kinesis sequence number -> its run, for records that merge with another: each record joins
    the run of the symbol's previous record in the batch when it chains on from it. A record
    that does not decode, or chains with nothing, is left out (applied on its own); so is one
    that does not decode, and a symbol's run ends at it."""
    runs: dict[str, _Run] = {}
    current: dict[str, _Run] = {}  # symbol -> its latest run
    for sequence_number, data in records:
        try:
            journal = decode_record(data)
        except WireFormatError:
            current.clear()  # nothing chains across a poison record
            continue
        run = current.get(journal.symbol)
        previous = run.record if run is not None else None
        if (
            run is not None
            and previous is not None
            and journal.epoch == previous.epoch
            and journal.first_seq == previous.last_seq + 1
            and len(previous.events) + len(journal.events) <= MAX_RUN_EVENTS
        ):
            run.record = JournalRecord(
                journal.symbol,
                previous.first_seq,
                journal.last_seq,
                previous.events + journal.events,
                journal.epoch,
            )
            run.members.append(sequence_number)
        else:
            run = current[journal.symbol] = _Run(journal, [sequence_number])
        runs[sequence_number] = run
    return {number: run for number, run in runs.items() if len(run.members) > 1}


class _BatchRun:
    def __init__(self, sink: JournalSink, runs: Mapping[str, _Run] | None = None) -> None:
        self._sink = sink
        self._positions: dict[str, int] = {}
        self._refused: set[tuple[str, int]] = set()  # (symbol, epoch) caught reusing seqs
        self._runs = dict(runs or {})

    def __call__(self, record: KinesisStreamRecord) -> int:
        sequence_number = record.kinesis.sequence_number
        run = self._runs.get(sequence_number)
        if run is None:
            journal = decode(record.kinesis.data_as_bytes(), sequence_number=sequence_number)
            return self._apply(journal)
        if run.outcome is None:  # the run's first record: the whole run is applied now
            try:
                run.outcome = self._apply(run.record)
            except Exception as exc:  # noqa: BLE001 - raised again for each record of the run
                run.outcome = exc
        if isinstance(run.outcome, BaseException):
            raise run.outcome  # every record of a failed run is reported failed
        return run.outcome if sequence_number == run.members[0] else 0

    def _apply(self, journal: JournalRecord) -> int:
        if (journal.symbol, journal.epoch) in self._refused:
            # Failed, whatever its seqs, like the records after a gap: whether or not the sink
            # stores refusals, nothing of that epoch passes the reuse in this batch.
            refused = EpochRefused(self._sink.name, journal.symbol, _seqs(journal), journal.epoch)
            reused(self._sink, journal, refused)
            raise refused
        try:
            return consume(self._sink, journal, self._positions)
        except SeqReused:
            self._refused.add((journal.symbol, journal.epoch))
            raise


def _seqs(record: JournalRecord) -> range:
    return range(record.first_seq, record.last_seq + 1)


def consume_batch(
    event: Mapping[str, Any],
    sink: JournalSink,
    *,
    context: Any = None,
    processor: BatchProcessor | None = None,
) -> PartialItemFailureResponse:
    """The body of a Kinesis-triggered handler: ``{"batchItemFailures": [...]}``."""
    runs = (
        merge_runs(
            [
                (item["kinesis"]["sequenceNumber"], base64.b64decode(item["kinesis"]["data"]))
                for item in event.get("Records", ())
            ]
        )
        if sink.merges_records
        else {}
    )
    return process_partial_response(
        event=dict(event),
        record_handler=_BatchRun(sink, runs),
        processor=processor or BatchProcessor(event_type=EventType.KinesisDataStreams),
        context=context,
    )


KinesisHandler = Callable[..., PartialItemFailureResponse]


def kinesis_handler(build: Callable[[], JournalSink]) -> KinesisHandler:
    """A Lambda handler for a Kinesis event source mapping that feeds ``build()``'s sink (built
    once, at the first invocation). Tests pass their own ``sink``."""
    default = cache(build)

    @logger.inject_lambda_context
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def handler(
        event: dict[str, Any], context: Any, sink: JournalSink | None = None
    ) -> PartialItemFailureResponse:
        response = consume_batch(event, sink or default(), context=context)
        # Last, so a batch always has a metric to publish (Powertools flushes every 100 values
        # on its own, which could otherwise leave the decorator's final flush empty).
        count("JournalBatches")
        return response

    return handler
