"""The archive's delivery stream, locally: what Firehose does in AWS (read the journal stream,
call the transform, write Parquet by partition), done by a poller over moto's Kinesis.

Each shard is read with GetShardIterator/GetRecords from TRIM_HORIZON. Each batch goes through
the real transform (``exchange.archive.transform``) in Firehose's event shape, and its rows are
buffered by the partition keys the transform answered. A buffer is written as one file,
``<root>/events/symbol=<S>/date=<D>/<first seq>-<last seq>.parquet``, when it holds
``flush_rows`` rows, when ``flush_interval_s`` has passed since its first row, and on
``flush``/``drain``/``stop``. Seqs already on disk (a restart reads the stream again from its
start) are skipped, so the files hold each event once; the reader dedupes anyway, as it must for
Firehose's at-least-once delivery.

    poller = ArchivePoller(kinesis, "journal", data_dir / "archive")
    poller.start()
    ...
    poller.wake()    # the stream was written to (optional: it polls every idle_poll_s anyway)
    poller.drain()   # everything in the stream now is on disk (tests, POST /_local/archive/flush)
    poller.stop()
"""

import base64
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from exchange.archive.parquet import SUFFIX, write_partition
from exchange.archive.schema import EVENTS_PREFIX, Row
from exchange.archive.transform import decode_rows, transform
from exchange.observability import logger

type Transform = Callable[[Mapping[str, Any]], dict[str, list[dict[str, Any]]]]
type PartitionKey = tuple[str, str]  # (symbol, date)


@dataclass
class ArchiveStats:
    records: int = 0
    rows: int = 0
    files: int = 0
    failed_records: int = 0
    skipped_rows: int = 0  # already on disk


@dataclass
class ArchivePoller:
    kinesis: Any
    stream: str
    root: Path
    flush_rows: int = 5_000
    flush_interval_s: float = 2.0
    idle_poll_s: float = 0.5
    transform: Transform = transform
    clock: Callable[[], float] = time.monotonic
    stats: ArchiveStats = field(default_factory=ArchiveStats)
    _iterators: dict[str, str | None] = field(default_factory=dict)
    _buffers: dict[PartitionKey, list[Row]] = field(default_factory=lambda: defaultdict(list))
    _opened: dict[PartitionKey, float] = field(default_factory=dict)
    _last_seq: dict[str, int] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _woken: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._last_seq.update(archived_seqs(self.root))
        description = self.kinesis.describe_stream(StreamName=self.stream)["StreamDescription"]
        self._stream_arn: str = description["StreamARN"]
        for shard in description["Shards"]:
            self._iterators[shard["ShardId"]] = None

    # -- reading ---------------------------------------------------------------------------------
    def poll_once(self) -> int:
        """Read each shard once, archive what came; returns the number of records read."""
        with self._lock:
            read = sum(self._read(shard_id) for shard_id in list(self._iterators))
            self._flush(due_only=True)
            return read

    def _read(self, shard_id: str) -> int:
        iterator = (
            self._iterators[shard_id]
            or self.kinesis.get_shard_iterator(
                StreamName=self.stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        )
        try:
            response = self.kinesis.get_records(ShardIterator=iterator, Limit=1000)
        except (BotoCoreError, ClientError) as exc:
            logger.warning("archive: GetRecords failed", extra={"error": repr(exc)})
            return 0
        self._iterators[shard_id] = response.get("NextShardIterator")
        records = response["Records"]
        if records:
            self._archive(shard_id, records)
        return len(records)

    def _archive(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        answer = self.transform(self._firehose_event(shard_id, records))
        for output in answer["records"]:
            self.stats.records += 1
            if output["result"] != "Ok":
                self.stats.failed_records += 1
                logger.error("archive: record not transformed", extra={"id": output["recordId"]})
                continue
            keys = output["metadata"]["partitionKeys"]
            partition = (keys["symbol"], keys["date"])
            for row in decode_rows(base64.b64decode(output["data"])):
                if row["seq"] <= self._last_seq.get(row["symbol"], 0):
                    self.stats.skipped_rows += 1
                    continue
                self._last_seq[row["symbol"]] = row["seq"]
                self._opened.setdefault(partition, self.clock())
                self._buffers[partition].append(row)
                self.stats.rows += 1

    def _firehose_event(self, shard_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Firehose's transformation event for a Kinesis source (see exchange.archive.transform)."""
        return {
            "invocationId": f"local-{shard_id}-{records[0]['SequenceNumber']}",
            "sourceKinesisStreamArn": self._stream_arn,
            "deliveryStreamArn": "arn:aws:firehose:local:000000000000:deliverystream/archive",
            "region": "local",
            "records": [
                {
                    "recordId": record["SequenceNumber"],
                    "approximateArrivalTimestamp": _millis(record),
                    "data": base64.b64encode(record["Data"]).decode("ascii"),
                    "kinesisRecordMetadata": {
                        "shardId": shard_id,
                        "partitionKey": record["PartitionKey"],
                        "approximateArrivalTimestamp": _millis(record),
                        "sequenceNumber": record["SequenceNumber"],
                        "subsequenceNumber": 0,
                    },
                }
                for record in records
            ],
        }

    # -- writing ---------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write every buffered row now."""
        with self._lock:
            self._flush(due_only=False)

    def _flush(self, *, due_only: bool) -> None:
        now = self.clock()
        for partition, rows in list(self._buffers.items()):
            due = (
                len(rows) >= self.flush_rows
                or now - self._opened[partition] >= self.flush_interval_s
            )
            if rows and (due or not due_only):
                symbol, date = partition
                write_partition(self.root, {"symbol": symbol, "date": date}, rows)
                self.stats.files += 1
            if not due_only or due:
                del self._buffers[partition]
                self._opened.pop(partition, None)

    def drain(self, timeout_s: float = 30.0) -> None:
        """Read until every shard is caught up, then flush: what the stream held when this was
        called is then on disk. Raises ``TimeoutError`` past ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self.poll_once():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the archive of {self.stream} is not caught up")
            self.flush()

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="archive-poller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                read = self.poll_once()
            except (BotoCoreError, ClientError, OSError):  # Firehose retries; so does the poller
                logger.exception("archive poller failed; retrying")
                read = 0
            if not read:
                self._woken.wait(self.idle_poll_s)
                self._woken.clear()

    def wake(self) -> None:
        """The stream was written to: read it now rather than after the idle wait."""
        self._woken.set()

    def status(self) -> dict[str, Any]:
        """What ``/_local/status`` shows: counts, and the rows waiting to be written."""
        with self._lock:
            buffered = sum(len(rows) for rows in self._buffers.values())
        return {**self.stats.__dict__, "buffered_rows": buffered, "root": str(self.root)}

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread, then write what is buffered."""
        self._stop.set()
        self._woken.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.flush()


def archived_seqs(root: Path) -> dict[str, int]:
    """The last seq on disk per symbol, from the files' names (``<first>-<last>.parquet``)."""
    last: dict[str, int] = {}
    for path in (root / EVENTS_PREFIX).glob(f"symbol=*/date=*/*{SUFFIX}"):
        symbol = path.parent.parent.name.removeprefix("symbol=")
        first, _, final = path.name.removesuffix(SUFFIX).partition("-")
        if first.isdigit() and final.isdigit():
            last[symbol] = max(last.get(symbol, 0), int(final))
    return last


def _millis(record: Mapping[str, Any]) -> int:
    arrived = record.get("ApproximateArrivalTimestamp")
    return int(arrived.timestamp() * 1000) if arrived is not None else 0


__all__ = ["ArchivePoller", "ArchiveStats", "archived_seqs"]
