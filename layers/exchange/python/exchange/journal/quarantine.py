"""Journal records a consumer could not apply, kept so the symbol goes on and the record can be
redriven after a fix (the ``quarantine`` table).

A consumer whose own rules refuse an event (not an outage: that fails the record, so Lambda
retries) stores the whole record here, with the error, and moves its cursor past it. Kinesis keeps
the original only 24 hours, so the record's wire payload is kept; a record too large for one
DynamoDB item is kept as its gap-free parts that hold a refused event (``pieces``: the others'
events were all applied), one item each. An item is keyed by consumer and ``SYMBOL#<first seq>``,
so a symbol's items list in seq order; a record quarantined again replaces its earlier items (the
parts of a record depend only on its events, so a replay writes the same keys). A redrive (e.g.
``python -m exchange.ledger.redrive``) applies the payload again and marks the item
``redriven_ns``.
"""

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from exchange.tables import QuarantineRecord, quarantine_position
from exchange.wire import JournalRecord, decode_record, encode_record

# A DynamoDB item holds at most 400 KB, attribute names and values together (Amazon DynamoDB
# Developer Guide, "Constraints in Amazon DynamoDB", Items). A journal record may be 1 MB (Kinesis'
# limit), so a large one is kept in parts (``pieces``) of at most this many bytes each, and an
# item's error text is cut at ``MAX_ERROR_CHARS``.
MAX_PAYLOAD_BYTES: Final = 350_000
MAX_ERROR_CHARS: Final = 8_000


def cut(error: str) -> str:
    """``error`` cut to at most ``MAX_ERROR_CHARS`` characters (the last one an ellipsis)."""
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"


def pieces(
    record: JournalRecord, refused: Collection[int], max_bytes: int = MAX_PAYLOAD_BYTES
) -> list[JournalRecord]:
    """The parts of ``record`` to quarantine: ``record`` itself when it encodes to at most
    ``max_bytes``, else its gap-free halves (and theirs, ...) that hold a ``refused`` seq. The
    others' events were all applied, so a redrive of them would do nothing. A single event over
    ``max_bytes`` stays whole (an event is far smaller than any record limit)."""
    if len(record.events) == 1 or len(encode_record(record)) <= max_bytes:
        return [record] if any(record.first_seq <= s <= record.last_seq for s in refused) else []
    middle = len(record.events) // 2
    halves = (record.events[:middle], record.events[middle:])
    return [
        piece
        for half in halves
        for piece in pieces(JournalRecord.of(half, epoch=record.epoch), refused, max_bytes)
    ]


@dataclass(frozen=True, slots=True)
class Quarantined:
    consumer: str
    symbol: str
    first_seq: int
    last_seq: int
    payload: bytes  # the journal record in the wire format (``exchange.wire``)
    error: str
    quarantined_ns: int
    redriven_ns: int | None = None

    @classmethod
    def of(cls, consumer: str, record: JournalRecord, *, error: str, now_ns: int) -> "Quarantined":
        return cls(
            consumer=consumer,
            symbol=record.symbol,
            first_seq=record.first_seq,
            last_seq=record.last_seq,
            payload=encode_record(record),
            error=cut(error),
            quarantined_ns=now_ns,
        )

    def record(self) -> JournalRecord:
        """The journal record again; WireFormatError if the payload does not decode."""
        return decode_record(self.payload)


class QuarantineStore(ABC):
    @abstractmethod
    def put(self, item: Quarantined) -> None:
        """Keep ``item``, replacing an earlier item of the same consumer, symbol and first seq."""

    @abstractmethod
    def items(
        self, consumer: str, *, symbol: str | None = None, redriven: bool = False
    ) -> list[Quarantined]:
        """``consumer``'s items (of ``symbol``), by symbol and first seq; those not yet redriven
        unless ``redriven``."""

    @abstractmethod
    def mark_redriven(self, item: Quarantined, *, now_ns: int) -> None:
        """Record that ``item`` was applied again."""


class DynamoQuarantineStore(QuarantineStore):
    def put(self, item: Quarantined) -> None:
        QuarantineRecord(
            item.consumer,
            quarantine_position(item.symbol, item.first_seq),
            symbol=item.symbol,
            first_seq=item.first_seq,
            last_seq=item.last_seq,
            payload=item.payload,
            error=item.error,
            quarantined_ns=item.quarantined_ns,
            redriven_ns=item.redriven_ns,
        ).save()

    def items(
        self, consumer: str, *, symbol: str | None = None, redriven: bool = False
    ) -> list[Quarantined]:
        condition = None if symbol is None else QuarantineRecord.position.startswith(f"{symbol}#")
        rows = QuarantineRecord.query(consumer, condition, consistent_read=True)
        items = [_item(row) for row in rows]
        return [i for i in items if redriven or i.redriven_ns is None]

    def mark_redriven(self, item: Quarantined, *, now_ns: int) -> None:
        QuarantineRecord(item.consumer, quarantine_position(item.symbol, item.first_seq)).update(
            actions=[QuarantineRecord.redriven_ns.set(now_ns)],
            condition=QuarantineRecord.position.exists(),
        )


def _item(row: QuarantineRecord) -> Quarantined:
    return Quarantined(
        consumer=row.consumer,
        symbol=row.symbol,
        first_seq=int(row.first_seq),
        last_seq=int(row.last_seq),
        payload=bytes(row.payload),
        error=row.error,
        quarantined_ns=int(row.quarantined_ns),
        redriven_ns=None if row.redriven_ns is None else int(row.redriven_ns),
    )
