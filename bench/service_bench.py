"""``make bench-service``: the engine service against the broker's own ceiling.

Both measurements use the same client library (pika), the same quorum queue type and arguments,
the same prefetch and the same publisher process (no confirms, so the publisher is not the
bottleneck being measured):

* broker ceiling: publish -> consume -> cumulative ack, no engine;
* full path: publish -> engine runtime -> durable journal (Kinesis on a local moto server) -> ack,
  with the runtime's pipelined journal (``engine_service.journal_writer``, no linger).

Then each again at a fixed offered rate of half the ceiling, for latency from publish (the
command's ``ts``) to ack (ceiling) or to the journal write returning (full path). Each pair of
runs has the same offered rate, count and seed; which of the two goes first alternates from one
pair to the next, and the report gives medians over ``--runs``.

The targets: the full path at 90% of the ceiling or more, and at half the ceiling a p99 at most
one journal write (the writer's own p99 in the same runs) plus a millisecond above the broker's.

    python -m bench.service_bench [--messages 30000] [--seconds 5] [--runs 3]

Needs RabbitMQ on 127.0.0.1:5672 (or EXCHANGE_TEST_BROKER_URL). The last line is JSON.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence

import boto3
import msgspec
import pika

from engine_service.adapters.kinesis import KinesisJournal
from engine_service.adapters.memory import InMemorySnapshotStore
from engine_service.adapters.rabbitmq import RabbitIntake
from engine_service.demo import demo_stream
from engine_service.ports import JournalPosition
from engine_service.runtime import EngineRuntime, RuntimeConfig
from exchange import messaging, wire
from exchange.domain import InstrumentCatalog

BROKER_URL = os.environ.get("EXCHANGE_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
PREFETCH = 2_000
LINGER_S = 0.002  # the broker-only consumer's poll wait
VS_CEILING_TARGET = 0.9
ADDED_P99_SLACK_MS = 1.0  # p99 added at half rate <= journal write p99 + this
STALL_S = 60.0  # a run that takes nothing for this long fails


def publisher(shard: str, count: int, rate: float, seed: int) -> None:
    """Runs in its own process: publish ``count`` commands, paced at ``rate``/s (0 = flat out),
    each stamped with its publish time in ``ts``."""
    btc = InstrumentCatalog.demo().get("BTC-USD")
    commands = list(demo_stream(btc, count=count, seed=seed))
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    channel = connection.channel()
    started = time.perf_counter()
    for n, command in enumerate(commands):
        if rate:
            due = started + n / rate
            while time.perf_counter() < due:
                time.sleep(max(0.0, min(due - time.perf_counter(), 0.001)))
        stamped = msgspec.structs.replace(command, ts=time.time_ns())
        channel.basic_publish(messaging.COMMAND_EXCHANGE, shard, wire.encode_command(stamped))
    connection.close()


def start_publisher(shard: str, count: int, rate: float, seed: int) -> subprocess.Popen[bytes]:
    args = ["publish", shard, str(count), str(rate), str(seed)]
    return subprocess.Popen([sys.executable, "-m", "bench.service_bench", *args])  # noqa: S603


def declare(shard: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    messaging.declare(connection.channel(), shard)
    connection.close()


def delete(shard: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    channel = connection.channel()
    channel.queue_delete(messaging.command_queue(shard))
    channel.queue_delete(messaging.dead_letter_queue(shard))
    connection.close()


def broker_only(count: int, rate: float, seed: int) -> tuple[float, list[float]]:
    """Consume and ack with no engine. Returns (messages/s, latencies in ms)."""
    shard = f"bb{uuid.uuid4().hex[:8]}"
    declare(shard)
    intake = RabbitIntake(BROKER_URL, shard, prefetch=PREFETCH)
    intake.connect()
    process = start_publisher(shard, count, rate, seed)
    latencies: list[float] = []
    received = 0
    first: float | None = None
    progress = (0, time.monotonic())
    try:
        while received < count:
            batch = intake.poll(1_000, LINGER_S)
            progress = _stalled(progress, received, count, process)
            if not batch:
                continue
            first = first or time.perf_counter()
            intake.ack_through(batch[-1].tag)
            now = time.time_ns()
            received += len(batch)
            if rate:
                latencies += [(now - wire.decode_command(d.body).ts) / 1e6 for d in batch]
        elapsed = time.perf_counter() - (first or time.perf_counter())
    finally:
        process.wait()
        intake.close()
        delete(shard)
    return count / elapsed, latencies


class TimedJournal(KinesisJournal):
    """Records, for every command whose events it writes, publish-to-durable latency."""

    latencies: list[float]

    def append(self, records: Sequence[wire.JournalRecord]) -> JournalPosition:
        position = super().append(records)
        now = time.time_ns()
        stamps = {event.ts for record in records for event in record.events}
        self.latencies.extend((now - ts) / 1e6 for ts in stamps)
        return position


JOURNAL_MS: list[float] = []  # mean journal write per full-path run at full speed
BATCH_EVENTS: list[float] = []  # mean events per journal write per full-path run at full speed
WRITE_P99_MS: list[float] = []  # p99 of the writer's own write times, per half-rate run


def full_path(count: int, rate: float, seed: int, endpoint: str) -> tuple[float, list[float]]:
    shard = f"bf{uuid.uuid4().hex[:8]}"
    stream = f"bench-{shard}"
    kinesis = boto3.client("kinesis", region_name="us-east-1", endpoint_url=endpoint)
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream)
    declare(shard)
    journal = TimedJournal(kinesis, stream)
    journal.latencies = []
    runtime = EngineRuntime(
        config=RuntimeConfig(shard=shard, linger_s=0.0, snapshot_every_events=10**9),
        instruments=[InstrumentCatalog.demo().get("BTC-USD")],
        intake=RabbitIntake(BROKER_URL, shard, prefetch=PREFETCH),
        journal=journal,
        snapshots=InMemorySnapshotStore(),
    )
    runtime.recover()
    runtime.connect()
    process = start_publisher(shard, count, rate, seed)
    first: float | None = None
    progress = (0, time.monotonic())  # (commands taken, when that count was first seen)
    try:
        while runtime.counters.commands < count:
            if runtime.step() and first is None:
                first = time.perf_counter()
            progress = _stalled(progress, runtime.counters.commands, count, process)
        runtime.flush()
        elapsed = time.perf_counter() - (first or time.perf_counter())
    finally:
        process.wait()
        runtime.shutdown()
        delete(shard)
    counters = runtime.counters
    if rate:
        WRITE_P99_MS.append(pct(list(runtime.writer.write_ms), 99))
    else:
        JOURNAL_MS.append(counters.journal_ms / max(counters.flushes, 1))
        BATCH_EVENTS.append(counters.events / max(counters.flushes, 1))
    return count / elapsed, journal.latencies


Result = tuple[float, list[float]]


def pair(run: int, count: int, rate: float, *, seed: int, endpoint: str) -> tuple[Result, Result]:
    """The broker alone and the full path on the same count, rate and seed: the broker first on
    even runs, the full path first on odd ones."""
    if run % 2 == 0:
        broker = broker_only(count, rate, seed)
        return broker, full_path(count, rate, seed, endpoint)
    full = full_path(count, rate, seed, endpoint)
    return broker_only(count, rate, seed), full


def _stalled(
    progress: tuple[int, float], taken: int, count: int, process: subprocess.Popen[bytes]
) -> tuple[int, float]:
    """Raise, rather than wait for ever, when nothing has been taken for ``STALL_S`` (the
    publisher publishes without confirms, so a lost publish would leave the run one short)."""
    if taken != progress[0]:
        return taken, time.monotonic()
    if time.monotonic() - progress[1] > STALL_S:
        raise RuntimeError(
            f"stalled: {taken} of {count} commands taken, none for {STALL_S:g} s;"
            f" publisher exit status {process.poll()}"
        )
    return progress


def pct(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=1000)[int(q * 10) - 1] if len(values) > 1 else float("nan")
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(argv: list[str]) -> None:
    if argv[:1] == ["publish"]:
        shard, count, rate, seed = argv[1], int(argv[2]), float(argv[3]), int(argv[4])
        publisher(shard, count, rate, seed)
        return
    parser = argparse.ArgumentParser(description="engine service vs broker ceiling")
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each half-rate run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})
    moto = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        # Alternate the two, each run of a pair first in turn, so drift on this shared machine
        # (or in the moto server, which keeps every run's stream) hits both alike.
        ceilings, fulls = [], []
        for run in range(args.runs):
            alone, through = pair(run, args.messages, 0, seed=run, endpoint=endpoint)
            ceilings.append(alone[0])
            fulls.append(through[0])
        ceiling, full = statistics.median(ceilings), statistics.median(fulls)
        half = ceiling / 2
        offered = int(half * args.seconds)
        broker_lats, full_lats = [], []
        for run in range(args.runs):
            alone, through = pair(run, offered, half, seed=99 + run, endpoint=endpoint)
            broker_lats.append(alone[1])
            full_lats.append(through[1])
    finally:
        moto.terminate()
        moto.wait()

    def median_pct(runs: list[list[float]], q: float) -> float:
        return statistics.median(pct(latencies, q) for latencies in runs)

    p99, broker_p99 = median_pct(full_lats, 99), median_pct(broker_lats, 99)
    write_p99 = statistics.median(WRITE_P99_MS)
    added_limit = write_p99 + ADDED_P99_SLACK_MS
    result = {
        "orders_per_s": round(full),
        "broker_ceiling_per_s": round(ceiling),
        "vs_broker_ceiling": round(full / ceiling, 3),
        "offered_rate_per_s": round(half),
        "p50_ms_at_half": round(median_pct(full_lats, 50), 2),
        "p99_ms_at_half": round(p99, 2),
        "broker_p50_ms_at_half": round(median_pct(broker_lats, 50), 2),
        "broker_p99_ms_at_half": round(broker_p99, 2),
        "p99_added_ms": round(p99 - broker_p99, 2),
        "journal_write_p99_ms": round(write_p99, 2),
        "p99_added_limit_ms": round(added_limit, 2),
        "journal_write_ms": round(statistics.median(JOURNAL_MS), 2),
        "events_per_journal_write": round(statistics.median(BATCH_EVENTS), 1),
        "targets_met": full / ceiling >= VS_CEILING_TARGET and p99 - broker_p99 <= added_limit,
        "messages": args.messages,
        "runs": args.runs,
    }
    at = f"{half:,.0f}/s"
    runs = ", ".join(f"{c:,.0f}" for c in ceilings), ", ".join(f"{f:,.0f}" for f in fulls)
    p99s = (", ".join(f"{pct(lat, 99):.1f}" for lat in lats) for lats in (broker_lats, full_lats))
    rows = [
        ("throughput (msgs/s, median)", f"{ceiling:,.0f}", f"{full:,.0f}"),
        ("  each run", *runs),
        (f"p50 ms at {at} (median)", result["broker_p50_ms_at_half"], result["p50_ms_at_half"]),
        (f"p99 ms at {at} (median)", result["broker_p99_ms_at_half"], result["p99_ms_at_half"]),
        ("  each run", *p99s),
        (f"journal write p99 ms at {at}", "", result["journal_write_p99_ms"]),
        ("journal write ms (mean, full speed)", "", result["journal_write_ms"]),
        ("events per journal write (full speed)", "", result["events_per_journal_write"]),
    ]
    print(f"{'':38}{'broker only':>20}{'full path':>20}")
    for label, broker, engine in rows:
        print(f"{label:38}{broker!s:>20}{engine!s:>20}")
    print(
        f"full path / ceiling: {full / ceiling:.1%} (target >= {VS_CEILING_TARGET:.0%}); "
        f"p99 added at half: {result['p99_added_ms']} ms (target <= journal write p99 "
        f"{result['journal_write_p99_ms']} + {ADDED_P99_SLACK_MS:g} = {added_limit:.2f} ms); "
        f"{'targets met' if result['targets_met'] else 'TARGETS MISSED'}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
