"""One region of the DR drill (``bench.dr_drill``): its broker (a RabbitMQ virtual host), its
AWS services (moto, one backend per region), its engine task as ``python -m engine_service run``
runs it (the fence, recovery and promotion, the runtime), and the recorder's events-table writes.
"""

import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import boto3
import psycopg

from engine_service.adapters.kinesis import KinesisJournal
from engine_service.composition import build_runtime, fence_source, promote_consumers
from engine_service.fence import Fenced, wait_until_active
from engine_service.ports import JournalPosition
from engine_service.runtime import EngineRuntime
from exchange import wire
from exchange.domain import InstrumentCatalog, OrderAccepted, Trade
from exchange.ledger.connection import open_pool
from exchange.ledger.postgres import PostgresLedger
from exchange.settings import EngineSettings
from exchange.tables import TABLE_SPECS

PRIMARY, DR = "us-east-1", "us-west-2"
SHARD = "drill"
SYMBOL = "BTC-USD"
CATALOG = InstrumentCatalog.demo()
SCALES = {"USD": 8, "BTC": 8, "ETH": 8, "SOL": 8}
ACCOUNTS = 20
PRICE = 6_500_000
CURSORS_TABLE, AUDIT_TABLE = "drill-cursors", "drill-audit"
STREAM, EVENTS_TABLE, FAILOVER_TABLE, BUCKET = (
    "drill-journal",
    "drill-events",
    "drill-failover",
    "drill-snapshots",
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rabbit_vhost(name: str) -> str:
    """A fresh RabbitMQ virtual host: each region's broker."""
    for command in (
        ["delete_vhost", name],
        ["add_vhost", name],
        ["set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
    ):
        subprocess.run(  # noqa: S603 - our own arguments
            ["rabbitmqctl", "-q", *command],  # noqa: S607 - found on PATH, as an operator would
            capture_output=True,
            check=command[0] != "delete_vhost",
            timeout=60,
        )
    return f"amqp://guest:guest@127.0.0.1:5672/{name}"


class Region:
    def __init__(self, name: str, *, broker_url: str, redis_db: int, database_url: str) -> None:
        self.name = name
        self.broker_url = broker_url
        self.database_url = database_url
        self.dynamodb = boto3.client("dynamodb", region_name=name)
        self.kinesis = boto3.client("kinesis", region_name=name)
        self.s3 = boto3.client("s3", region_name=name)
        self.settings = EngineSettings(
            AWS_REGION=name,
            shard_id=SHARD,
            symbols=[SYMBOL],
            broker_url=broker_url,
            redis_url=f"redis://127.0.0.1:6379/{redis_db}",
            journal_stream=STREAM,
            snapshot_bucket=f"{BUCKET}-{name}",  # bucket names are global
            events_table=EVENTS_TABLE,
            failover_table=FAILOVER_TABLE,
            cursors_table=CURSORS_TABLE,
            audit_table=AUDIT_TABLE,
            fence=True,
            primary_region=PRIMARY,
            snapshot_every_events=2_000,
            snapshot_every_seconds=2,
            linger_ms=2,
            fence_ttl_ms=200,
            promotion_quiet_ms=1_500,
            promotion_consumers=("settlement",),  # the drill runs no fan-out or candles
        )
        self.stop = threading.Event()
        self.runtime: EngineRuntime | None = None
        self.ready_at: float | None = None
        self.promoted_to: int | None = None  # the engine's seq after promotion (DR)
        self.errors: list[str] = []
        self.threads: list[threading.Thread] = []

    def create(self) -> None:
        self.kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        self.s3.create_bucket(
            Bucket=f"{BUCKET}-{self.name}",
            **(
                {}
                if self.name == "us-east-1"
                else {"CreateBucketConfiguration": {"LocationConstraint": self.name}}
            ),
        )
        for spec in TABLE_SPECS:
            names = {"events": EVENTS_TABLE, "failover": FAILOVER_TABLE, "cursors": CURSORS_TABLE,
                     "audit": AUDIT_TABLE}  # fmt: skip
            if spec.logical_name in names:
                self.dynamodb.create_table(**spec.create_table_kwargs(names[spec.logical_name]))

    def journal(self) -> KinesisJournal:
        return KinesisJournal(self.kinesis, STREAM)

    def spawn(self, target: Callable[[], None], name: str) -> None:
        def guarded() -> None:
            try:
                target()
            except Exception as exc:  # noqa: BLE001 - the drill reports it
                if killed(self):
                    return  # the region died under it: expected
                self.errors.append(f"{name}: {exc!r}")
                traceback.print_exc()

        thread = threading.Thread(target=guarded, name=f"{self.name}-{name}", daemon=True)
        thread.start()
        self.threads.append(thread)

    # -- the engine task, as ``python -m engine_service run`` runs it ------------------------------
    def serve_engine(self) -> None:
        fence = fence_source(self.settings)
        assert fence is not None  # noqa: S101 - fence=True
        held = wait_until_active(fence, self.name, poll_s=0.1, stop=self.stop.is_set)
        if held is None:
            return
        runtime = build_runtime(self.settings, fence=fence, held=held)
        runtime.recover()
        promote_consumers(self.settings, runtime)
        self.promoted_to = runtime.engine.seq(SYMBOL)
        runtime.connect()
        self.runtime = runtime
        self.ready_at = time.monotonic()
        log(f"{self.name} engine ready at epoch {held.epoch}, seq {self.promoted_to}")
        try:
            while not self.stop.is_set():
                runtime.step()
        except Fenced:
            return
        if killed(self):
            runtime.abandon()  # on its own thread: pika's connection is not thread-safe
        else:
            runtime.shutdown()

    # -- consumers -------------------------------------------------------------------------------
    def tail_journal(self, handle: Callable[[wire.JournalRecord], None]) -> None:
        journal, position = self.journal(), JournalPosition()
        while not self.stop.is_set():
            moved = False
            for record, after in journal.read_after(position):
                if self.stop.is_set():
                    return
                handle(record)
                position = position.advanced(after)
                moved = True
            if not moved:
                time.sleep(0.02)

    def record_events(self, record: wire.JournalRecord) -> None:
        """The recorder's events-table and audit-log writes (``EventRecord``'s attributes)."""
        for start in range(0, len(record.events), 25):
            requests = [
                {
                    "PutRequest": {
                        "Item": {
                            "symbol": {"S": e.symbol},
                            "seq": {"N": str(e.seq)},
                            "kind": {"S": type(e).__name__},
                            "payload": {"B": wire.encode_event(e)},
                            "ts_ns": {"N": str(e.ts)},
                        }
                    }
                }
                for e in record.events[start : start + 25]
            ]
            # The audit log's entries (the recorder's position: its head), payloads alike.
            audit = [{"PutRequest": {"Item": dict(r["PutRequest"]["Item"])}} for r in requests]
            # One table per request: moto refuses the same key in two tables of one request.
            for table, items in ((EVENTS_TABLE, requests), (AUDIT_TABLE, audit)):
                pending: dict[str, Any] = {table: items}
                while pending:
                    pending = self.dynamodb.batch_write_item(RequestItems=pending)[
                        "UnprocessedItems"
                    ]


def killed(region: Region) -> bool:
    return getattr(region, "_killed", False)


POOLS: list[Any] = []  # closed at the end (the dead primary's too)


def ledger_for(url: str) -> tuple[PostgresLedger, Any]:
    pool = open_pool(lambda: url, min_size=1, max_size=4)
    POOLS.append(pool)
    return PostgresLedger(pool, instruments=CATALOG, asset_scales=SCALES), pool


def close_pools() -> None:
    for pool in POOLS:
        pool.close(timeout=1.0)
    POOLS.clear()


def measure(
    drill: Any,
    primary: Region,
    dr: Region,
    *,
    promoted_to: int,
    copied: list[Any],
    dr_journal: list[wire.JournalRecord],
) -> dict[str, Any]:
    """The drill's figures (``bench.dr_drill``'s docstring says what each one is)."""
    primary_events = [
        e for r, _ in primary.journal().read_after(JournalPosition()) for e in r.events
    ]
    dr_events = [e for r in dr_journal for e in r.events]
    history = {e.seq: e for e in copied} | {e.seq: e for e in dr_events}
    lost = [e for e in primary_events if e.seq > promoted_to]
    lost_orders = [e for e in lost if isinstance(e, OrderAccepted)]
    lost_fills = [e for e in lost if isinstance(e, Trade)]
    last_primary = primary_events[-1] if primary_events else None
    last_rebuilt = history.get(promoted_to)
    rpo_s = (
        (last_primary.ts - last_rebuilt.ts) / 1e9
        if last_primary is not None and last_rebuilt is not None
        else (0.0 if last_primary is None else None)
    )
    differs = sum(
        1
        for e in primary_events
        if e.seq <= promoted_to
        and (e.seq not in history or wire.encode_event(history[e.seq]) != wire.encode_event(e))
    )
    expected = {
        (e.seq, e.maker_order_id, e.taker_order_id, e.price, e.qty)
        for e in history.values()
        if isinstance(e, Trade)
    }
    with psycopg.connect(dr.database_url) as conn:
        rows = conn.execute(
            "SELECT seq, maker_order_id, taker_order_id FROM ledger.settled_trades "
            "WHERE symbol = %s",
            (SYMBOL,),
        ).fetchall()
    ledger_trades = {(int(r[0]), str(r[1]), str(r[2])) for r in rows}
    expected_keys = {(seq, maker, taker) for seq, maker, taker, _, _ in expected}
    ledger_mismatch = len(ledger_trades ^ expected_keys)
    rto_s = (
        drill.first_dr_match_at - drill.killed_at
        if drill.first_dr_match_at is not None and drill.killed_at is not None
        else None
    )
    return {
        "rpo_orders_lost": len(lost_orders),
        "rpo_fills_lost": len(lost_fills),
        "rpo_events_lost": len(lost),
        "rpo_s": round(rpo_s, 3) if rpo_s is not None else None,
        "rto_s": round(rto_s, 3) if rto_s is not None else None,
        "seq_reused": drill.seq_reused_raised + differs,
        "ledger_equals_fills": ledger_mismatch == 0 and not dr.errors,
        "ledger_trades": len(ledger_trades),
        "fills_in_dr_history": len(expected),
        "ledger_mismatched_trades": ledger_mismatch,
        "primary_events": len(primary_events),
        "rebuilt_through_seq": promoted_to,
        "dr_events": len(dr_events),
        "orders_placed": len(drill.placed),
        "primary_orders_per_s": round(drill.primary_rate, 1),
        "placements_retried": drill.failed_placements,
        "lag_s": drill.args.lag_s,
        "gate": drill.args.gate,
        "errors": primary.errors + dr.errors,
    }
