"""The Firehose transform against the event Firehose documents, and its answer against the
documented response format.

- Input (a Kinesis stream as source):
  docs.aws.amazon.com/firehose/latest/dev/data-transformation.html
  (``invocationId``, ``sourceKinesisStreamArn``, ``deliveryStreamArn``, ``region``, ``records[]``
  with ``recordId``, ``approximateArrivalTimestamp``, base64 ``data``, ``kinesisRecordMetadata``).
- Output: docs.aws.amazon.com/firehose/latest/dev/data-transformation-status-model.html (one
  record per ``recordId``, ``result`` Ok | Dropped | ProcessingFailed, base64 ``data``).
- Partition keys:
  docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning-partitioning-keys.html
  (``metadata.partitionKeys``, one set per output record).
- Several JSON documents in one record: docs.aws.amazon.com/firehose/latest/dev/
  record-format-conversion.html (``{"a":1}{"a":2}`` valid, an array not) and
  dynamic-partitioning-multirecord-deaggergation.html (deaggregation runs before the Lambda, so
  the Lambda's answer gives one partition per journal record).
"""

import base64
import json
import subprocess
import sys
from typing import Any

from exchange.archive.schema import from_row
from exchange.archive.transform import decode_rows, partition_of, transform
from exchange.domain import BookDelta, Event, OrderAccepted, OrderType, Side, TimeInForce, Trade
from exchange.testing.lambda_events import LambdaContextStub
from exchange.wire import JournalRecord, encode_record
from lambdas.archive_transform import handler as function

DAY_NS = 86_400 * 10**9
MIDNIGHT = 19_676 * DAY_NS  # 2023-11-15T00:00:00Z


def events(symbol: str, first_seq: int, first_ts: int) -> list[Event]:
    accepted = OrderAccepted(
        symbol=symbol, ts=first_ts, seq=first_seq, order_id="o1", account_id="a1",
        client_order_id="c1", side=Side.BUY, order_type=OrderType.LIMIT,
        tif=TimeInForce.GTC, qty=3, price=100,
    )  # fmt: skip
    delta = BookDelta(
        symbol=symbol, ts=first_ts, seq=first_seq + 1, side=Side.BUY, price=100, qty=3, orders=1
    )
    trade = Trade(
        symbol=symbol, ts=first_ts + 2, seq=first_seq + 2, maker_order_id="o1",
        taker_order_id="o2", maker_account_id="a1", taker_account_id="a2", price=100, qty=1,
        aggressor_side=Side.SELL,
    )  # fmt: skip
    return [accepted, delta, trade]


def firehose_record(
    record_id: str, data: bytes, shard: str = "shardId-000000000000"
) -> dict[str, Any]:
    return {
        "recordId": record_id,
        "approximateArrivalTimestamp": 1507217624302,
        "data": base64.b64encode(data).decode(),
        "kinesisRecordMetadata": {
            "shardId": shard,
            "partitionKey": "BTC-USD",
            "approximateArrivalTimestamp": 1507217624302,
            "sequenceNumber": "49546986683135544286507457936321625675700192471156785154",
            "subsequenceNumber": 0,
        },
    }


def firehose_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {
        "invocationId": "2b4d1ad9-2f48-94bd-a088-767c317e994a",
        "sourceKinesisStreamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/journal",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/archive",
        "region": "us-east-1",
        "records": list(records),
    }


def test_each_journal_record_becomes_one_record_of_json_rows_with_its_partition() -> None:
    # Given two journal records of two symbols
    btc, eth = events("BTC-USD", 1, MIDNIGHT + 5), events("ETH-USD", 40, MIDNIGHT + 9)
    event = firehose_event(
        firehose_record("r1", encode_record(JournalRecord.of(btc))),
        firehose_record("r2", encode_record(JournalRecord.of(eth)), "shardId-000000000001"),
    )
    # When Firehose invokes the transform
    answer = transform(event)
    # Then: one output record per recordId, Ok, its rows newline-separated JSON objects (no array)
    assert [record["recordId"] for record in answer["records"]] == ["r1", "r2"]
    for record, expected in zip(answer["records"], (btc, eth), strict=True):
        assert set(record) == {"recordId", "result", "data", "metadata"}
        assert record["result"] == "Ok"
        payload = base64.b64decode(record["data"], validate=True)
        lines = payload.decode().splitlines()
        assert all(isinstance(json.loads(line), dict) for line in lines)
        assert [from_row(row) for row in decode_rows(payload)] == expected
        assert record["metadata"] == {
            "partitionKeys": {"symbol": expected[0].symbol, "date": "2023-11-15"}
        }
    json.dumps(answer)  # the answer is plain JSON


def test_a_record_straddling_midnight_is_filed_under_its_first_events_date() -> None:
    # Given a record whose last event is after midnight UTC
    straddling = events("BTC-USD", 7, MIDNIGHT - 1)  # 23:59:59.999999999, then 00:00:00.000000001
    record = JournalRecord.of(straddling)
    # Then the record keeps one partition, the day it began; each row keeps its own ts_ns
    assert partition_of(record) == {"symbol": "BTC-USD", "date": "2023-11-14"}
    (output,) = transform(firehose_event(firehose_record("r", encode_record(record))))["records"]
    rows = decode_rows(base64.b64decode(output["data"]))
    assert output["metadata"]["partitionKeys"]["date"] == "2023-11-14"
    assert [row["date"] for row in rows] == ["2023-11-14", "2023-11-14", "2023-11-15"]
    assert rows[-1]["ts_ns"] == MIDNIGHT + 1


def test_a_record_that_does_not_decode_fails_alone_with_its_data_unchanged() -> None:
    good = encode_record(JournalRecord.of(events("BTC-USD", 1, MIDNIGHT)))
    poison = base64.b64encode(b"\x02not a journal record").decode()
    bad = {**firehose_record("bad", b""), "data": poison}
    answer = transform(firehose_event(bad, firehose_record("good", good)))
    assert [(r["recordId"], r["result"]) for r in answer["records"]] == [
        ("bad", "ProcessingFailed"),
        ("good", "Ok"),
    ]
    assert answer["records"][0]["data"] == poison


def test_the_handler_answers_firehose_and_imports_no_pyarrow() -> None:
    record = encode_record(JournalRecord.of(events("BTC-USD", 1, MIDNIGHT)))
    answer = function.handler(firehose_event(firehose_record("r1", record)), LambdaContextStub())
    assert answer["records"][0]["result"] == "Ok"
    # pyarrow is not in the Lambda layer: importing the function must not need it.
    probe = "import sys, lambdas.archive_transform.handler; print('pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
