"""The Firehose transform of the archive: journal records in, flat JSON rows out.

Firehose reads the journal stream and hands the function its records, each one base64 journal
record (``records[].recordId``, ``data``, ``approximateArrivalTimestamp`` and, with a Kinesis
source, ``kinesisRecordMetadata``). Firehose wants back exactly one record per ``recordId``
(docs.aws.amazon.com/firehose/latest/dev/data-transformation-status-model.html), so each journal
record becomes one output record holding one JSON row per event, newline-separated: record format
conversion reads several JSON documents in one record as several rows
(docs.aws.amazon.com/firehose/latest/dev/record-format-conversion.html: ``{"a":1}{"a":2}`` is
valid input, an array is not).

Dynamic partitioning takes the partition keys from the function's answer,
``metadata.partitionKeys``, one set per output record: Firehose deaggregates *before* the
transform and partitions *after* it (docs.aws.amazon.com/firehose/latest/dev/
dynamic-partitioning-multirecord-deaggergation.html), so all the rows of one journal record share
one partition. A journal record is a few milliseconds of one symbol's events, so it is filed under
its symbol and the UTC date of its **first** event: the rare record that straddles midnight puts
its post-midnight events under the day before (their ``ts_ns`` still says when they happened; a
query for day D reads partitions D-1 and D and filters on ``ts_ns``). The local archive poller
files records the same way (``partition_of``), so both layouts agree.

A record that does not decode is answered ``ProcessingFailed`` with its data unchanged: Firehose
writes it under the error prefix for an operator, and the rest of the batch goes on.
"""

import base64
import binascii
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final, Literal

import msgspec

from exchange.archive.schema import Row, to_row, utc_date
from exchange.domain.errors import WireFormatError
from exchange.observability import logger
from exchange.wire import JournalRecord, decode_record

type Result = Literal["Ok", "Dropped", "ProcessingFailed"]
ROW_SEPARATOR: Final = b"\n"
_json = msgspec.json.Encoder()


def partition_of(record: JournalRecord) -> dict[str, str]:
    """The partition keys of a journal record: its symbol and its first event's UTC date."""
    return {"symbol": record.symbol, "date": utc_date(record.events[0].ts)}


def rows_of(record: JournalRecord) -> list[Row]:
    """One archive row per event of the record, in seq order."""
    return [to_row(event) for event in record.events]


def encode_rows(rows: Iterable[Row]) -> bytes:
    """JSON rows, each followed by a newline: the payload record format conversion reads."""
    return b"".join(_json.encode(row) + ROW_SEPARATOR for row in rows)


def decode_rows(payload: bytes) -> list[Row]:
    """Inverse of ``encode_rows`` (tests, and readers of Firehose's error output)."""
    decoder = msgspec.json.Decoder(dict[str, Any])
    return [decoder.decode(line) for line in payload.split(ROW_SEPARATOR) if line.strip()]


def transform_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """One Firehose input record (``recordId``, base64 ``data``) to its output record."""
    record_id = record["recordId"]
    try:
        journal = decode_record(base64.b64decode(record["data"], validate=True))
    except (WireFormatError, binascii.Error) as exc:
        logger.warning(
            "journal record not archived", extra={"record_id": record_id, "error": str(exc)}
        )
        return {"recordId": record_id, "result": "ProcessingFailed", "data": record["data"]}
    return {
        "recordId": record_id,
        "result": "Ok",
        "data": base64.b64encode(encode_rows(rows_of(journal))).decode("ascii"),
        "metadata": {"partitionKeys": partition_of(journal)},
    }


def transform(event: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Firehose's transformation event to its answer: ``{"records": [...]}``, one per input."""
    return {"records": [transform_record(record) for record in event.get("records", ())]}


def results(answer: Mapping[str, Any]) -> Iterator[Result]:
    """Each output record's ``result`` (metrics and tests)."""
    for record in answer["records"]:
        yield record["result"]


__all__ = [
    "ROW_SEPARATOR",
    "decode_rows",
    "encode_rows",
    "partition_of",
    "rows_of",
    "transform",
    "transform_record",
]
