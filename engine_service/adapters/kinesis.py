"""The journal on Kinesis: partition key = symbol, many events per record.

Order per symbol is what consumers rely on. ``PutRecords`` can fail part of a request, and a
retried record lands after the ones that succeeded, so a flush is written in rounds: round *i*
holds the *i*-th record of each symbol, and a round is retried until whole before the next starts.
A symbol therefore never has two records in flight at once.
"""

import time
from collections.abc import Iterator, Sequence
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from engine_service.ports import JournalPosition, JournalUnavailable
from exchange.domain.events import Event
from exchange.observability import logger
from exchange.wire import JournalRecord, decode_record, encode_record

# Kinesis takes 1 MiB per record (data plus partition key) and 5 MiB / 500 records per request.
MAX_RECORD_BYTES: Final = 1_000_000
MAX_REQUEST_RECORDS: Final = 500
MAX_REQUEST_BYTES: Final = 5_000_000


def pack(
    events: Sequence[Event], max_bytes: int = MAX_RECORD_BYTES, *, epoch: int = 0
) -> list[JournalRecord]:
    """Group events by symbol, in order, into records of at most ``max_bytes`` encoded, each
    stamped with the engine's failover ``epoch``."""
    by_symbol: dict[str, list[Event]] = {}
    for event in events:
        by_symbol.setdefault(event.symbol, []).append(event)
    records: list[JournalRecord] = []
    for run in by_symbol.values():
        records.extend(_split(run, max_bytes, epoch))
    return records


def _split(run: list[Event], max_bytes: int, epoch: int) -> list[JournalRecord]:
    record = JournalRecord.of(run, epoch=epoch)
    if len(run) == 1 or len(encode_record(record)) <= max_bytes:
        return [record]
    middle = len(run) // 2
    return _split(run[:middle], max_bytes, epoch) + _split(run[middle:], max_bytes, epoch)


class KinesisJournal:
    def __init__(
        self,
        client: Any,
        stream_name: str,
        *,
        max_attempts: int = 10,
        backoff_s: float = 0.05,
    ) -> None:
        self._client = client
        self._stream = stream_name
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s

    def append(self, records: Sequence[JournalRecord]) -> JournalPosition:
        rounds: list[list[JournalRecord]] = []
        depth: dict[str, int] = {}
        for record in records:
            index = depth.get(record.symbol, 0)
            depth[record.symbol] = index + 1
            if index == len(rounds):
                rounds.append([])
            rounds[index].append(record)
        position = JournalPosition()
        for round_records in rounds:
            entries = [
                {"Data": encode_record(record), "PartitionKey": record.symbol}
                for record in round_records
            ]
            for request in _requests(entries):
                position = position.advanced(self._put(request))
        return position

    def _put(self, entries: list[dict[str, Any]]) -> JournalPosition:
        latest: dict[str, str] = {}
        pending = entries
        for attempt in range(1, self._max_attempts + 1):
            try:
                response = self._client.put_records(StreamName=self._stream, Records=pending)
            except (BotoCoreError, ClientError) as exc:
                error: str = repr(exc)
                results: list[dict[str, Any]] = []
            else:
                results = response["Records"]
                error = ""
            retry = []
            for entry, result in zip(pending, results or [{}] * len(pending), strict=True):
                if "SequenceNumber" in result:
                    shard = result["ShardId"]
                    if int(result["SequenceNumber"]) > int(latest.get(shard, "-1")):
                        latest[shard] = result["SequenceNumber"]
                else:
                    retry.append(entry)
            if not retry:
                return JournalPosition(latest)
            logger.warning(
                "journal write incomplete; retrying",
                extra={"failed": len(retry), "attempt": attempt, "error": error or results[0:1]},
            )
            pending = retry
            time.sleep(min(self._backoff_s * 2 ** (attempt - 1), 2.0))
        raise JournalUnavailable(
            f"{len(pending)} records not written to {self._stream}"
            f" after {self._max_attempts} attempts"
        )

    def read_after(
        self, position: JournalPosition
    ) -> Iterator[tuple[JournalRecord, JournalPosition]]:
        shards = self._client.list_shards(StreamName=self._stream)["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            after = position.sequence_numbers.get(shard_id)
            kwargs: dict[str, Any] = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": after}
                if after
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = self._client.get_shard_iterator(
                StreamName=self._stream, ShardId=shard_id, **kwargs
            )["ShardIterator"]
            while iterator:
                response = self._client.get_records(ShardIterator=iterator, Limit=10_000)
                for item in response["Records"]:
                    yield (
                        decode_record(item["Data"]),
                        JournalPosition({shard_id: item["SequenceNumber"]}),
                    )
                if not response["Records"] and response.get("MillisBehindLatest", 0) == 0:
                    break
                iterator = response.get("NextShardIterator")


def _requests(entries: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        entry_size = len(entry["Data"]) + len(entry["PartitionKey"])
        if batch and (len(batch) == MAX_REQUEST_RECORDS or size + entry_size > MAX_REQUEST_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry_size
    if batch:
        yield batch
