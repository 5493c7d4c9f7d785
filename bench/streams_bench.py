"""Stream consumers benchmark: ``python -m bench.streams_bench [--commands N] [--runs R]``.

Journal events per second through the recorder and fan-out Lambda handlers, in-process: the real
handler (Powertools decorators, base64, ``BatchProcessor``, wire decoding, the gap check) and the
real logic, over in-memory stores and an in-memory WebSocket sender, so only our code is timed.
The events come from the real matching engine running the seeded engine-benchmark workload,
packed 100 to a Kinesis record and 100 records to a Lambda batch, as the event source mapping
would deliver them. A baseline in the same run is the same handler path with a sink that does
nothing (decode, batch and gap bookkeeping only). ``--moto-commands`` adds the recorder over
DynamoDB on moto in-process (its own figure; moto is far slower than DynamoDB).

Fan-out posts to 200 accounts' private ``orders`` connections, 50 ``book.BTC-USD`` and 50
``trades.BTC-USD`` subscribers. Prints a table; the last line is one JSON object. Medians of R
runs.
"""

import argparse
import contextlib
import io
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import boto3
from moto import mock_aws

from bench.engine_workload import generate, to_commands
from engine_service.core import Engine
from exchange.domain import AnyEvent, InstrumentCatalog
from exchange.journal.batch import JournalSink, kinesis_handler
from exchange.orders.recorder import Recorder
from exchange.orders.recorder_dynamo import DynamoRecorderStore
from exchange.realtime.fanout import Broadcaster, Fanout
from exchange.realtime.session import open_connection
from exchange.settings import DEFAULT_ASSET_SCALES, ConsumerSettings
from exchange.tables import TABLE_SPECS, bind_tables
from exchange.testing.lambda_events import kinesis_event
from exchange.testing.stores import (
    InMemoryBookStore,
    InMemoryConnectionStore,
    InMemoryCursorStore,
    InMemoryRecorderStore,
    InMemorySender,
)
from exchange.wire import JournalRecord, encode_record

CATALOG = InstrumentCatalog.demo()
EVENTS_PER_RECORD = 100
RECORDS_PER_BATCH = 100


class Context:
    function_name = "bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:bench"
    aws_request_id = "bench"


class NullSink(JournalSink):
    """The baseline: positions kept, nothing applied."""

    name = "null"

    def __init__(self) -> None:
        self.positions: dict[str, int] = {}

    def last_seq(self, symbol: str) -> int:
        return self.positions.get(symbol, 0)

    def apply(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        self.positions[record.symbol] = record.last_seq


# The handler under test; its sink is passed per call, so the factory is never used.
HANDLER = kinesis_handler(NullSink)


def journal(commands: int, seed: int = 7) -> tuple[list[AnyEvent], list[dict[str, Any]]]:
    engine = Engine(list(CATALOG))
    events: list[AnyEvent] = []
    for command in to_commands(generate(seed, commands)):
        events.extend(engine.apply(command))  # type: ignore[arg-type]
    payloads = [
        {
            "Data": encode_record(JournalRecord.of(events[i : i + EVENTS_PER_RECORD])),
            "PartitionKey": "BTC-USD",
            "SequenceNumber": str(i),
        }
        for i in range(0, len(events), EVENTS_PER_RECORD)
    ]
    batches = [
        kinesis_event(payloads[i : i + RECORDS_PER_BATCH], stream="journal")
        for i in range(0, len(payloads), RECORDS_PER_BATCH)
    ]
    return events, batches


def timed(batches: list[dict[str, Any]], sink: JournalSink) -> float:
    context = Context()
    # EMF metrics are printed per invocation; the bench's own output stays readable.
    with contextlib.redirect_stdout(io.StringIO()):
        started = time.perf_counter()
        for batch in batches:
            response = HANDLER(batch, context, sink=sink)
            assert not response["batchItemFailures"], response  # noqa: S101
        return time.perf_counter() - started


def recorder_sink() -> Recorder:
    return Recorder(InMemoryRecorderStore(), catalog=CATALOG, asset_scales=DEFAULT_ASSET_SCALES)


def fanout_sink(sender: InMemorySender | None = None) -> Fanout:
    with contextlib.redirect_stdout(io.StringIO()):  # the connects' EMF metrics
        return _fanout_sink(sender)


def _fanout_sink(sender: InMemorySender | None) -> Fanout:
    connections = InMemoryConnectionStore()
    for account in range(200):
        connection = open_connection(connections, f"p{account}", f"a{account}", now_ns=0)
        connections.subscribe(connection, f"orders.a{account}")
    for n in range(50):
        for channel in ("book.BTC-USD", "trades.BTC-USD"):
            connection = open_connection(connections, f"{channel}-{n}", None, now_ns=0)
            connections.subscribe(connection, channel)
    broadcaster = Broadcaster(connections, sender or InMemorySender())
    return Fanout(broadcaster, InMemoryBookStore(), InMemoryCursorStore(), catalog=CATALOG)


def median_rate(runs: int, count: int, run: Callable[[], float]) -> float:
    return statistics.median(count / run() for _ in range(runs))


def moto_recorder(commands: int, runs: int) -> tuple[int, float]:
    events, batches = journal(commands, seed=11)
    rates = []
    for _ in range(runs):
        with mock_aws():
            settings = ConsumerSettings()
            client = boto3.client("dynamodb", region_name="us-east-1")
            for spec in TABLE_SPECS:
                client.create_table(
                    **spec.create_table_kwargs(getattr(settings, spec.settings_field))
                )
            bind_tables(settings)
            sink = Recorder(
                DynamoRecorderStore(CATALOG), catalog=CATALOG, asset_scales=DEFAULT_ASSET_SCALES
            )
            rates.append(len(events) / timed(batches, sink))
    return len(events), statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.streams_bench")
    parser.add_argument("--commands", type=int, default=20_000, help="engine commands per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--moto-commands", type=int, default=0, help="also run the recorder on moto (slow)"
    )
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bench")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")

    events, batches = journal(args.commands)
    count = len(events)
    baseline = median_rate(args.runs, count, lambda: timed(batches, NullSink()))
    recorder = median_rate(args.runs, count, lambda: timed(batches, recorder_sink()))
    sender = InMemorySender()
    fanout = median_rate(args.runs, count, lambda: timed(batches, fanout_sink(sender)))
    frames = len(sender.sent) / args.runs
    results: dict[str, float] = {
        "events": count,
        "baseline_events_per_s": baseline,
        "recorder_events_per_s": recorder,
        "fanout_events_per_s": fanout,
        "fanout_frames_per_run": frames,
    }
    if args.moto_commands:
        moto_events, moto_rate = moto_recorder(args.moto_commands, max(1, args.runs // 2))
        results["moto_recorder_events"] = moto_events
        results["moto_recorder_events_per_s"] = moto_rate

    print(
        f"stream consumers in-process, {count:,} events from {args.commands:,} engine commands "
        f"({EVENTS_PER_RECORD} per record, {RECORDS_PER_BATCH} records per batch), "
        f"median of {args.runs} runs, {os.cpu_count()} CPUs"
    )
    print(f"  {'handler':<44} {'events/s':>12} {'vs baseline':>12}")
    for label, rate in (
        ("baseline (decode, batch, gap check only)", baseline),
        ("recorder (in-memory tables)", recorder),
        (f"fanout ({frames:,.0f} frames per run, in-memory)", fanout),
    ):
        print(f"  {label:<44} {rate:>12,.0f} {rate / baseline:>11.2f}x")
    if args.moto_commands:
        label = f"recorder on moto DynamoDB ({results['moto_recorder_events']:,.0f} events)"
        print(f"  {label:<44} {results['moto_recorder_events_per_s']:>12,.0f}")
    print(
        json.dumps(
            {
                "bench": "streams",
                "runs": args.runs,
                **{key: round(value, 1) for key, value in results.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
