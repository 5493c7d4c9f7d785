"""The local Kinesis event source mapping: batches, partial batch failure, bisection, poison."""

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.functions import FunctionError
from local.pollers import MappingConfig, Pollers, ShardPoller

STREAM = "journal"


@pytest.fixture
def kinesis() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("kinesis", region_name="us-east-1")
        client.create_stream(StreamName=STREAM, ShardCount=1)
        yield client


def put(kinesis: Any, *payloads: str) -> None:
    for payload in payloads:
        kinesis.put_record(StreamName=STREAM, Data=payload.encode(), PartitionKey="BTC-USD")


class Consumer:
    """A stream function that records what it applied and fails on chosen payloads."""

    def __init__(self, *, poison: frozenset[str] = frozenset(), raises: bool = False) -> None:
        self.poison = set(poison)
        self.raises = raises
        self.applied: list[str] = []
        self.batches: list[list[str]] = []

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        records = event["Records"]
        self.batches.append([base64.b64decode(r["kinesis"]["data"]).decode() for r in records])
        for record in records:
            payload = base64.b64decode(record["kinesis"]["data"]).decode()
            if payload in self.poison:
                if self.raises:
                    raise FunctionError("consumer", ValueError(payload))
                return {
                    "batchItemFailures": [{"itemIdentifier": record["kinesis"]["sequenceNumber"]}]
                }
            self.applied.append(payload)
        return {"batchItemFailures": []}


def poller(kinesis: Any, consumer: Consumer, **config: Any) -> ShardPoller:
    pollers = Pollers.for_functions(
        kinesis, STREAM, {"consumer": consumer}, config=MappingConfig(retry_backoff_s=0, **config)
    )
    (only,) = pollers.pollers
    only.sleep = lambda _s: None
    return only


def test_records_arrive_in_aws_event_shape_and_in_order(kinesis: Any) -> None:
    # Given five records on the shard
    put(kinesis, *[f"e{i}" for i in range(5)])
    seen: list[dict[str, Any]] = []

    def consumer(event: dict[str, Any]) -> None:
        seen.extend(event["Records"])

    # When the poller runs with batches of two
    (mapping,) = Pollers.for_functions(
        kinesis, STREAM, {"f": consumer}, config=MappingConfig(batch_size=2)
    ).pollers
    mapping.poll_once()
    # Then every record came once, in order, shaped as Lambda's Kinesis event
    assert [base64.b64decode(r["kinesis"]["data"]) for r in seen] == [
        b"e0",
        b"e1",
        b"e2",
        b"e3",
        b"e4",
    ]
    first = seen[0]
    assert first["eventSource"] == "aws:kinesis"
    assert first["kinesis"]["partitionKey"] == "BTC-USD"
    assert first["eventID"] == f"shardId-000000000000:{first['kinesis']['sequenceNumber']}"
    assert first["eventSourceARN"].endswith(f":stream/{STREAM}")
    assert mapping.stats.invocations == 3


def test_partial_failure_resumes_from_the_failed_record_and_skips_poison_after_retries(
    kinesis: Any,
) -> None:
    # Given a poison record in the middle of a batch
    put(kinesis, "a", "b", "POISON", "c", "d")
    consumer = Consumer(poison=frozenset({"POISON"}))
    mapping = poller(kinesis, consumer, batch_size=10, max_retry_attempts=2)
    # When the shard is polled
    mapping.poll_once()
    # Then the records before it were applied once, it was retried alone, then skipped, and the
    # records after it were applied once, in order
    assert consumer.applied == ["a", "b", "c", "d"]
    assert consumer.batches[0] == ["a", "b", "POISON", "c", "d"]
    assert consumer.batches[1:4] == [["POISON", "c", "d"], ["POISON"], ["POISON"]]
    assert mapping.stats.skipped == 1
    (failure,) = mapping.failures
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["KinesisBatchInfo"]["batchSize"] == 1


def test_function_error_bisects_the_batch_until_the_bad_record_is_alone(kinesis: Any) -> None:
    # Given a consumer that raises on one record (a function error, no partial report)
    put(kinesis, *[f"r{i}" for i in range(8)], "BAD")
    consumer = Consumer(poison=frozenset({"BAD"}), raises=True)
    mapping = poller(kinesis, consumer, batch_size=9, max_retry_attempts=1)
    # When the shard is polled
    mapping.poll_once()
    # Then halving isolated the bad record and every good record was applied (at least once: a
    # function error redelivers the batch, as in AWS, which is why consumers are idempotent)
    assert set(consumer.applied) == {f"r{i}" for i in range(8)}
    assert consumer.batches[-1] == ["BAD"]
    assert mapping.stats.skipped == 1
    assert [len(batch) for batch in consumer.batches][:2] == [9, 4]


def test_a_bad_item_identifier_fails_the_whole_batch(kinesis: Any) -> None:
    # Given a consumer that reports an identifier not in its batch, once
    put(kinesis, "x", "y")
    calls: list[int] = []

    def consumer(event: dict[str, Any]) -> dict[str, Any]:
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            return {"batchItemFailures": [{"itemIdentifier": "not-a-sequence-number"}]}
        return {}

    (mapping,) = Pollers.for_functions(
        kinesis, STREAM, {"f": consumer}, config=MappingConfig(bisect_on_error=False)
    ).pollers
    mapping.sleep = lambda _s: None
    # When polled
    mapping.poll_once()
    # Then the whole batch was retried (AWS's rule), and then it succeeded
    assert calls == [2, 2]
    assert mapping.stats.records == 2
