"""The disaster-recovery drill: ``python -m bench.dr_drill`` (``make dr-drill``).

Two regions on one machine, each with the real engine task's code (``engine_service``: the fence,
recovery, promotion and runtime), its own RabbitMQ virtual host as its broker, its own Kinesis
stream, events table, failover table and snapshot bucket (moto, one backend per region), its own
consumers (the recorder's events-table writes; settlement, the real ``Settlement`` sink over the
real ``PostgresLedger``) and its own PostgreSQL server, DR's a streaming standby of the primary's
(``bench.dr_pieces.PgPair``). The events table and the snapshots replicate with ``--lag-s``
(``bench.dr_pieces.Replicator``).

Load runs on the primary (orders reserved on the ledger, then published, as the orders API does)
and, at a random moment, the primary region dies: its engine is killed mid-stream, its consumers
and database stop, and replication is cut. The failover then runs the runbook's steps: the fence
moves to DR at epoch 1, the standby database is promoted, and DR's engine, which was waiting as a
standby, promotes (newest replicated snapshot plus the events table) and serves; DR's
settlement first catches up from the events table. Load moves to DR.

The last line is JSON:

- ``rpo_orders_lost``: orders the primary's engine accepted (journaled, acknowledged) that DR's
  history lacks; ``rpo_fills_lost`` the same for trades;
- ``rpo_s``: seconds of history lost (the primary's last journaled event's time minus that of the
  last event DR rebuilt);
- ``rto_s``: seconds from the kill to the first order placed after it being matched in DR;
- ``seq_reused``: seqs DR's consumers met again with other content (SeqReused), plus seqs the
  DR ledger holds with content other than DR's history;
- ``ledger_equals_fills``: the DR ledger's settled trades are exactly the trades of DR's history
  (the replicated copy through the rebuilt seq, then DR's journal), and no trade DR lost.

Primary-side settlement waits until the DR events copy holds a record before settling it
(``--gate``, on by default; ``exchange.journal.gate``): the ledger, replicated on its own, can
then never hold a trade that DR's books lack. ``--no-gate`` shows what happens without it.
"""

import argparse
import contextlib
import json
import os
import random
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pika
import psycopg
from moto import mock_aws

from bench.dr_pieces import BotoCursorStore, PgPair, Replicator
from bench.dr_region import (
    ACCOUNTS,
    AUDIT_TABLE,
    BUCKET,
    CURSORS_TABLE,
    DR,
    EVENTS_TABLE,
    FAILOVER_TABLE,
    PRICE,
    PRIMARY,
    SHARD,
    SYMBOL,
    Region,
    close_pools,
    ledger_for,
    log,
    measure,
    rabbit_vhost,
)
from engine_service.adapters.dynamo import DynamoReplicatedEvents
from engine_service.ports import JournalPosition
from engine_service.recovery import contiguous
from exchange import wire
from exchange.domain import (
    NewOrder,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)
from exchange.journal.batch import consume
from exchange.journal.epochs import SeqReused
from exchange.journal.gate import DynamoReplicaCopy, ReplicationGate
from exchange.ledger import KycStatus, migrations
from exchange.ledger.consumer import Settlement
from exchange.ledger.model import DepositNotice
from exchange.ledger.postgres import PostgresLedger
from exchange.messaging import CommandPublisher, ShardMap, declare


class Drill:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.pg = PgPair(Path(args.scratch), primary_port=5434, standby_port=5435, lag_s=args.lag_s)
        self.placed: dict[str, float] = {}  # order id -> monotonic time placed
        self.killed_at: float | None = None
        self.first_dr_match_at: float | None = None
        self.seq_reused_raised = 0
        self.current: Region | None = None
        self.failed_placements = 0
        self.primary_rate = 0.0  # orders/s achieved on the primary (the offered rate is --rate)

    # -- set-up -----------------------------------------------------------------------------------
    def setup(self) -> tuple[Region, Region]:
        log("starting PostgreSQL primary and streaming standby")
        self.pg.start()
        url = self.pg.url(self.pg.primary_port)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE ledger")
        ledger_url = self.pg.url(self.pg.primary_port, "ledger")
        with psycopg.connect(ledger_url) as conn:
            migrations.upgrade(conn)
        primary = Region(
            PRIMARY,
            broker_url=rabbit_vhost("exchange-drill-primary"),
            redis_db=11,
            database_url=ledger_url,
        )
        dr = Region(
            DR,
            broker_url=rabbit_vhost("exchange-drill-dr"),
            redis_db=12,
            database_url=self.pg.url(self.pg.standby_port, "ledger"),
        )
        for region in (primary, dr):
            region.create()
            with pika.BlockingConnection(pika.URLParameters(region.broker_url)) as connection:
                declare(connection.channel(), SHARD)
        ledger, pool = ledger_for(ledger_url)
        ledger.bootstrap()
        for index in range(ACCOUNTS):
            account = f"acct-{index}"
            ledger.open_account(account, kyc_status=KycStatus.VERIFIED)
            for asset, amount in (("USD", "1000000000"), ("BTC", "100000")):
                ref = f"dep-{account}-{asset}"
                ledger.credit_deposit(
                    DepositNotice(ref, ref, account, asset, Decimal(amount), "CREDITED", 0)
                )
        pool.close()
        return primary, dr

    # -- load --------------------------------------------------------------------------------------
    def order(self, index: int) -> NewOrder:
        side = Side.BUY if index % 2 else Side.SELL
        offset = self.rng.randint(-5, 5) * 100
        order_id = f"o-{index}"
        return NewOrder(
            symbol=SYMBOL,
            ts=time.time_ns(),
            order_id=order_id,
            account_id=f"acct-{self.rng.randrange(ACCOUNTS)}",
            client_order_id=order_id,
            side=side,
            order_type=OrderType.LIMIT,
            tif=TimeInForce.GTC,
            qty=self.rng.randint(1, 20),
            price=PRICE + offset,
        )

    def load(self, stop: threading.Event) -> None:
        """Orders at ``--rate`` to the current region, each reserved on its ledger and then
        published (as the orders API does); a failure (the region down, its database not yet
        promoted) is retried after 0.1 s on a fresh broker connection (one pool per region)."""
        index = 0
        region: Region | None = None
        publisher: CommandPublisher | None = None
        connection: Any = None
        ledgers: dict[str, PostgresLedger] = {}
        interval = 1 / self.args.rate
        next_at = time.monotonic()
        while not stop.is_set():
            if region is not self.current:
                region, publisher = self.current, None
            if region is None:
                time.sleep(0.05)
                continue
            now = time.monotonic()
            if now < next_at:
                time.sleep(next_at - now)
            next_at += interval
            try:
                if publisher is None:
                    connection = pika.BlockingConnection(pika.URLParameters(region.broker_url))
                    publisher = CommandPublisher(connection.channel(), ShardMap({SHARD: [SYMBOL]}))
                if region.name not in ledgers:
                    ledgers[region.name] = ledger_for(region.database_url)[0]
                order = self.order(index)
                ledgers[region.name].reserve(order)
                publisher.publish(order)
                self.placed[order.order_id] = time.monotonic()
                index += 1
            except Exception as exc:  # noqa: BLE001 - the region is down or not yet promoted
                self.failed_placements += 1
                if self.failed_placements % 50 == 1:
                    log(f"placing in {region.name} failed ({exc!r}); retrying")
                if connection is not None and connection.is_open:
                    with contextlib.suppress(Exception):
                        connection.close()
                publisher = None
                time.sleep(0.1)
                next_at = time.monotonic()

    # -- consumers ---------------------------------------------------------------------------------
    def start_consumers(self, region: Region, *, gate_on: Region | None) -> Settlement:
        ledger, _pool = ledger_for(region.database_url)
        settlement = Settlement(ledger, BotoCursorStore(region.dynamodb, CURSORS_TABLE))
        sink: Any = settlement
        if gate_on is not None:
            copy = DynamoReplicaCopy(gate_on.dynamodb, EVENTS_TABLE)
            sink = ReplicationGate(settlement, copy, timeout_s=30.0, stop=region.stop.is_set)
        positions: dict[str, int] = {}

        def settle(record: wire.JournalRecord) -> None:
            try:
                consume(sink, record, positions)
            except SeqReused:
                self.seq_reused_raised += 1
                raise

        def on_record(record: wire.JournalRecord) -> None:
            region.record_events(record)
            if region.name == DR and self.first_dr_match_at is None and self.killed_at:
                for event in record.events:
                    if isinstance(event, Trade) and (
                        self.placed.get(event.taker_order_id, 0) > self.killed_at
                    ):
                        self.first_dr_match_at = time.monotonic()

        region.spawn(lambda: region.tail_journal(on_record), "recorder")
        region.sink = sink  # type: ignore[attr-defined]
        region.settle = settle  # type: ignore[attr-defined]
        return settlement

    def start_settlement(self, region: Region) -> None:
        region.spawn(lambda: region.tail_journal(region.settle), "settlement")  # type: ignore[attr-defined]

    # -- the drill ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        primary, dr = self.setup()
        replicator = Replicator(
            source={"dynamodb": primary.dynamodb, "s3": primary.s3},
            target={"dynamodb": dr.dynamodb, "s3": dr.s3},
            events_table=EVENTS_TABLE,
            audit_table=AUDIT_TABLE,
            cursors_table=CURSORS_TABLE,
            seed=self.args.seed,
            buckets=(f"{BUCKET}-{PRIMARY}", f"{BUCKET}-{DR}"),
            symbols=[SYMBOL],
            lag_s=self.args.lag_s,
            cursor_lag_s=self.args.cursor_lag_s,
        ).start()
        primary.spawn(primary.serve_engine, "engine")
        dr.spawn(dr.serve_engine, "engine")  # a warm standby: waits at the fence
        while primary.ready_at is None:
            time.sleep(0.05)
        self.start_consumers(primary, gate_on=dr if self.args.gate else None)
        self.start_settlement(primary)
        dr_settlement = self.start_consumers(dr, gate_on=None)  # its cursor: the replicated one
        stop_load = threading.Event()
        loader = threading.Thread(target=self.load, args=(stop_load,), name="load", daemon=True)
        self.current = primary
        loader.start()
        run_for = self.rng.uniform(self.args.kill_after_min_s, self.args.kill_after_max_s)
        log(f"load on the primary at {self.args.rate}/s; the primary dies in {run_for:.1f} s")
        time.sleep(run_for)

        # The primary region dies.
        self.killed_at = time.monotonic()
        self.current = dr
        primary._killed = True  # type: ignore[attr-defined]
        primary.stop.set()  # its engine thread abandons at its next step (a kill: no drain)
        for thread in primary.threads:
            if thread.name.endswith("-engine"):
                thread.join(timeout=5)
        replicator.cut()
        self.pg.kill_primary()
        self.primary_rate = len(self.placed) / run_for
        log(f"primary killed; {len(self.placed)} orders placed so far; failing over")

        # The failover: fence DR at epoch 1, promote the database; DR's engine promotes itself.
        dr.dynamodb.update_item(
            TableName=FAILOVER_TABLE,
            Key={"scope": {"S": "exchange"}},
            UpdateExpression=(
                "SET active_region = :dr, epoch = if_not_exists(epoch, :zero) + :one, "
                "updated_ns = :now, reason = :why"
            ),
            ConditionExpression="attribute_not_exists(active_region) OR active_region = :primary",
            ExpressionAttributeValues={
                ":dr": {"S": DR},
                ":primary": {"S": PRIMARY},
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
                ":now": {"N": str(time.time_ns())},
                ":why": {"S": "dr drill"},
            },
        )
        self.pg.promote()
        log(f"standby database promoted after {time.monotonic() - self.killed_at:.2f} s")
        while dr.ready_at is None and not dr.errors:
            time.sleep(0.02)
        promoted_to = dr.promoted_to or 0
        # DR's settlement follows DR's journal, which promotion began with the primary's last
        # events that settlement (its replicated cursor) had not reached.
        self.start_settlement(dr)
        deadline = time.monotonic() + self.args.dr_run_s + 60
        while self.first_dr_match_at is None and time.monotonic() < deadline and not dr.errors:
            time.sleep(0.05)
        time.sleep(self.args.dr_run_s)
        stop_load.set()
        loader.join()
        time.sleep(1.0)
        # Let DR's consumers drain its journal, then stop.
        dr_journal = [r for r, _ in dr.journal().read_after(JournalPosition())]
        dr_tail = dr_journal[-1].last_seq if dr_journal else promoted_to
        for _ in range(600):
            if dr_settlement.last_seq(SYMBOL) >= dr_tail:
                break
            time.sleep(0.05)
        dr.stop.set()
        copy = DynamoReplicatedEvents(dr.dynamodb, EVENTS_TABLE)
        copied = [e for e in contiguous(copy.events_after(SYMBOL, 0), 0) if e.seq <= promoted_to]
        return measure(
            self, primary, dr, promoted_to=promoted_to, copied=copied, dr_journal=dr_journal
        )


def serialize_moto() -> None:
    """One AWS call at a time: moto's in-process backends are not thread-safe (a Kinesis read
    beside a write failed with "OrderedDict mutated during iteration"), and the drill runs both
    regions' engines and consumers as threads of one process."""
    from moto.core.botocore_stubber import BotocoreStubber  # noqa: PLC0415

    lock = threading.RLock()
    process = BotocoreStubber.process_request

    def serialized(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return process(self, request)

    BotocoreStubber.process_request = serialized  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lag-s", type=float, default=1.0, help="emulated replication lag")
    parser.add_argument(
        "--cursor-lag-s", type=float, default=None,
        help="the consumers' cursors' own replication lag (default: --lag-s); one longer than the "
        "run has DR promote with no cursor of settlement's replicated",
    )  # fmt: skip
    parser.add_argument("--rate", type=float, default=100.0, help="orders per second offered")
    parser.add_argument("--kill-after-min-s", type=float, default=5.0)
    parser.add_argument("--kill-after-max-s", type=float, default=10.0)
    parser.add_argument(
        "--dr-run-s", type=float, default=3.0, help="load on DR after its first match"
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--gate", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--scratch", default="/tmp/exchange-dr-drill")  # noqa: S108
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    for name, value in (("AWS_ACCESS_KEY_ID", "drill"), ("AWS_SECRET_ACCESS_KEY", "drill")):
        os.environ.setdefault(name, value)
    serialize_moto()
    drill = Drill(args)
    try:
        with mock_aws():
            result = drill.run()
    finally:
        close_pools()
        drill.pg.stop()
    result["seed"] = args.seed
    targets = {
        "rpo_s": result["rpo_s"] is not None and result["rpo_s"] <= 2,
        "rto_s": result["rto_s"] is not None and result["rto_s"] <= 60,
        "seq_reused": result["seq_reused"] == 0,
        "ledger_equals_fills": result["ledger_equals_fills"],
    }
    result["targets_met"] = targets
    print(json.dumps(result))


if __name__ == "__main__":
    main()
