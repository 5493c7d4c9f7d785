"""The archive on moto: the reader over S3 (the layout Firehose writes, duplicates included), and
the local poller from the Kinesis journal stream to Parquet files.

AWS behaviour relied on:
- ListObjectsV2 returns at most 1,000 keys a page and a continuation token for the rest
  (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html), so the reader pages
  with boto3's paginator: the test puts the archive's files after the first 1,000 keys;
- Firehose's dynamic partitioning writes objects under the prefix the partition keys expand to,
  ``events/symbol=!{partitionKeyFromLambda:symbol}/date=!{partitionKeyFromLambda:date}/``
  (https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning-s3bucketprefix.html),
  its error output elsewhere (the reader skips any other key);
- GetRecords from a TRIM_HORIZON iterator returns a shard's records in order
  (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetShardIterator.html).
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from exchange.archive.parquet import partition_dir, to_bytes
from exchange.archive.reader import read_events
from exchange.archive.schema import to_row
from exchange.archive.transform import partition_of
from exchange.domain import BookDelta, Event, Side
from exchange.wire import JournalRecord, encode_record
from local.archive import ArchivePoller
from tests.unit.archive.history import history

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def delta(symbol: str, seq: int) -> BookDelta:
    return BookDelta(symbol=symbol, ts=seq, seq=seq, side=Side.SELL, price=7, qty=1, orders=1)


def upload(s3: Any, bucket: str, prefix: str, events: list[Event], name: str) -> None:
    record = JournalRecord.of(events)
    key = f"{prefix}{partition_dir(partition_of(record))}/{name}"
    s3.put_object(Bucket=bucket, Key=key, Body=to_bytes([to_row(e) for e in record.events]))


def test_the_reader_reads_firehose_layout_from_s3_each_event_once(aws: None) -> None:
    # Given a bucket whose first 1,000 keys are not archive files (so the archive's are on the
    # listing's second page), ETH-USD delivered twice (at least once: a retried batch), BTC-USD's
    # history, and Firehose's error output
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="archive")
    for n in range(1000):
        s3.put_object(Bucket="archive", Key=f"events/_stray/{n:04}", Body=b"")
    for seq in range(1, 11, 2):
        record = JournalRecord.of([delta("ETH-USD", seq), delta("ETH-USD", seq + 1)])
        body = to_bytes([to_row(e) for e in record.events])
        for copy in ("a", "b"):
            key = f"{partition_dir(partition_of(record))}/{copy}{seq}"
            s3.put_object(Bucket="archive", Key=key, Body=body)
    events, _engine = history()
    upload(s3, "archive", "", events, "archive-1-2024-05-01-00-00-00-uuid")
    s3.put_object(Bucket="archive", Key="errors/processing-failed/x", Body=b"not parquet")
    s3.put_object(Bucket="archive", Key="events/stray-object", Body=b"not parquet")
    # When the archive is read from S3
    read = list(read_events("s3://archive", s3=s3))
    # Then each (symbol, seq) comes once, BTC-USD first, in seq order
    assert read[: len(events)] == events
    assert [(e.symbol, e.seq) for e in read[len(events) :]] == [
        ("ETH-USD", seq) for seq in range(1, 11)
    ]
    assert [e.symbol for e in read_events("s3://archive", symbols={"BTC-USD"}, s3=s3)] == [
        "BTC-USD"
    ] * len(events)


def test_the_reader_takes_a_prefix_under_the_bucket(aws: None) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="archive")
    upload(s3, "archive", "prod/", [delta("SOL-USD", 1)], "f")
    upload(s3, "archive", "", [delta("SOL-USD", 1), delta("SOL-USD", 2)], "other-root")
    assert [e.seq for e in read_events("s3://archive/prod", s3=s3)] == [1]


def test_the_local_poller_archives_the_journal_stream_once(aws: None, tmp_path: Path) -> None:
    # Given the journal stream with the history in records of 3 events, and an ETH-USD record
    kinesis = boto3.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName="journal", ShardCount=2)
    events, _engine = history()
    records = [JournalRecord.of(events[i : i + 3]) for i in range(0, len(events), 3)]
    records.append(JournalRecord.of([delta("ETH-USD", 1)]))
    for record in records:
        kinesis.put_record(
            StreamName="journal", Data=encode_record(record), PartitionKey=record.symbol
        )
    # When the poller drains the stream
    poller = ArchivePoller(kinesis, "journal", tmp_path)
    poller.drain()
    # Then the files hold each event once, in the partition layout
    assert list(read_events(tmp_path, symbols={"BTC-USD"})) == events
    assert poller.stats.rows == len(events) + 1
    assert poller.stats.failed_records == 0
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet"))
    assert files == [
        f"events/symbol=BTC-USD/date=1970-01-01/1-{len(events)}.parquet",
        "events/symbol=ETH-USD/date=1970-01-01/1-1.parquet",
    ]
    # And a poller started again (a restart reads the stream from its start) adds nothing
    again = ArchivePoller(kinesis, "journal", tmp_path)
    again.drain()
    assert (again.stats.rows, again.stats.skipped_rows) == (0, len(events) + 1)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet")) == files


def test_a_poison_record_is_counted_and_the_rest_archived(aws: None, tmp_path: Path) -> None:
    kinesis = boto3.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName="journal", ShardCount=1)
    kinesis.put_record(StreamName="journal", Data=b"\x01garbage", PartitionKey="X")
    good = JournalRecord.of([delta("ETH-USD", 1)])
    kinesis.put_record(StreamName="journal", Data=encode_record(good), PartitionKey="ETH-USD")
    poller = ArchivePoller(kinesis, "journal", tmp_path)
    poller.start()
    poller.drain()
    poller.stop()
    assert poller.stats.failed_records == 1
    assert [e.seq for e in read_events(tmp_path)] == [1]
