"""Ledger benchmark: ``python -m bench.ledger_bench [--ops N] [--runs R] [--threads T]``.

Against the local PostgreSQL (``EXCHANGE_TEST_DATABASE_URL``, default
``postgresql://postgres@127.0.0.1:5432/test``), in a fresh database ``ledger_bench_<random>``
that is dropped afterwards. Measures, as the median of R runs:

- reservations/s: buy-limit holds, each its own transaction, spread over 50 accounts;
- settlements/s: trades between reserved makers and takers, each its own transaction (fees,
  price improvement, journal, idempotency row), then in batches of 100 per transaction
  (``apply_events``, as a stream consumer would apply a Kinesis batch).

Each is run on one connection in one thread (a Lambda container, a stream consumer), then on a
small pool shared by T threads. Prints a table; the last line is one JSON object.
"""

import argparse
import json
import os
import secrets
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import partial

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from exchange.domain import (
    InstrumentCatalog,
    NewOrder,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)
from exchange.ledger import KycStatus, migrations
from exchange.ledger.connection import open_pool
from exchange.ledger.model import DepositNotice
from exchange.ledger.postgres import PostgresLedger

ADMIN_URL = os.environ.get(
    "EXCHANGE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
INSTRUMENT = InstrumentCatalog.demo().get("BTC-USD")  # tick 0.01, lot 0.0001, fees 2/5 bps
SCALES = {"USD": 8, "BTC": 8}
ACCOUNTS = 50
PRICE = 6_500_000  # 65,000.00
BATCH = 100  # events per transaction in the batched variant (a Kinesis record or two)


class Counter:
    def __init__(self) -> None:
        self.n = 0

    def next(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n}"


IDS = Counter()


def _order(account: str, side: Side, price: int, qty: int) -> NewOrder:
    order_id = IDS.next("o")
    return NewOrder(
        symbol="BTC-USD",
        ts=1,
        order_id=order_id,
        account_id=account,
        client_order_id=order_id,
        side=side,
        order_type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        qty=qty,
        price=price,
    )


def _setup(ledger: PostgresLedger) -> list[str]:
    accounts = [IDS.next("acct") for _ in range(ACCOUNTS)]
    for account in accounts:
        ledger.open_account(account, kyc_status=KycStatus.VERIFIED)
        for asset, amount in (("USD", "100000000"), ("BTC", "10000")):
            dep = IDS.next("dep")
            ledger.credit_deposit(
                DepositNotice(dep, dep, account, asset, Decimal(amount), "CREDITED", 0)
            )
    return accounts


def _timed(work: Sequence[Callable[[], object]], threads: int) -> float:
    """Operations per second of running ``work`` on ``threads`` threads."""
    start = time.perf_counter()
    if threads == 1:
        for item in work:
            item()
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(lambda item: item(), work))
    return len(work) / (time.perf_counter() - start)


def _reservations(ledger: PostgresLedger, accounts: list[str], ops: int, threads: int) -> float:
    orders = [_order(accounts[i % ACCOUNTS], Side.BUY, PRICE, 10) for i in range(ops)]
    return _timed([partial(ledger.reserve, o) for o in orders], threads)


def _settlements(
    ledger: PostgresLedger, accounts: list[str], ops: int, *, threads: int, seq0: int, batch: int
) -> float:
    trades: list[Trade] = []
    for i in range(ops):
        maker = _order(accounts[i % ACCOUNTS], Side.SELL, PRICE, 20)
        taker = _order(accounts[(i + 1) % ACCOUNTS], Side.BUY, PRICE + 100, 20)
        ledger.reserve(maker)
        ledger.reserve(taker)
        trades.append(
            Trade(
                symbol="BTC-USD",
                ts=1,
                seq=seq0 + i,
                maker_order_id=maker.order_id,
                taker_order_id=taker.order_id,
                maker_account_id=maker.account_id,
                taker_account_id=taker.account_id,
                price=PRICE,
                qty=10,
                aggressor_side=Side.BUY,
            )
        )
    if batch == 1:
        return _timed([partial(ledger.apply_event, t) for t in trades], threads)
    batches = [trades[i : i + batch] for i in range(0, len(trades), batch)]
    return _timed([partial(ledger.apply_events, b) for b in batches], threads) * batch


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger_bench")
    parser.add_argument("--ops", type=int, default=1000, help="operations per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4, help="threads of the pool variant")
    args = parser.parse_args()

    name = f"ledger_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(ADMIN_URL, dbname=name)
    results: dict[str, float] = {}
    try:
        with psycopg.connect(url) as conn:
            migrations.upgrade(conn)
        seq = 1
        for variant, size, threads in (("single", 1, 1), ("pool", args.threads, args.threads)):
            with open_pool(lambda: url, min_size=size, max_size=size) as pool:
                ledger = PostgresLedger(
                    pool,
                    instruments=InstrumentCatalog([INSTRUMENT]),
                    asset_scales=SCALES,
                    fee_account_id="fees",
                )
                ledger.bootstrap()
                accounts = _setup(ledger)
                runs: dict[str, list[float]] = {
                    "reservations": [],
                    "settlements": [],
                    "batched": [],
                }
                for _ in range(args.runs):
                    runs["reservations"].append(_reservations(ledger, accounts, args.ops, threads))
                    for key, batch in (("settlements", 1), ("batched", BATCH)):
                        runs[key].append(
                            _settlements(
                                ledger, accounts, args.ops, threads=threads, seq0=seq, batch=batch
                            )
                        )
                        seq += args.ops
                results[f"reservations_per_s_{variant}"] = statistics.median(runs["reservations"])
                results[f"settlements_per_s_{variant}"] = statistics.median(runs["settlements"])
                results[f"batched_settlements_per_s_{variant}"] = statistics.median(runs["batched"])
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    with psycopg.connect(ADMIN_URL) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    server = str(row[0]) if row else "?"
    print(
        f"ledger on PostgreSQL {server} (local), {args.ops:,} ops per run, "
        f"median of {args.runs} runs, {os.cpu_count()} CPUs"
    )
    print(f"  {'operation':<34} {'1 connection':>14} {f'pool of {args.threads}':>14}")
    for op, label in (
        ("reservations", "reservations/s"),
        ("settlements", "settlements/s"),
        ("batched_settlements", f"settlements/s, batches of {BATCH}"),
    ):
        single = results[f"{op}_per_s_single"]
        pooled = results[f"{op}_per_s_pool"]
        print(f"  {label:<34} {single:>14,.0f} {pooled:>14,.0f}")
    print(
        json.dumps(
            {
                "bench": "ledger",
                "ops_per_run": args.ops,
                "runs": args.runs,
                "pool_threads": args.threads,
                **{key: round(value, 1) for key, value in results.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
