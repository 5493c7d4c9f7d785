"""``make bench-e2e``: orders over HTTP to the local stack at a fixed offered rate, while a
WebSocket subscriber measures the latency from HTTP-in to fill-out.

Set-up: the stack starts as a user starts it (``python -m local``); a maker rests one large sell
of BTC-USD, then a taker sends IOC buys of one lot at a price that crosses it, on a fixed
schedule (open loop: a late answer does not delay the next send; at most ``--max-in-flight``
requests are outstanding, and a send that finds them all busy is counted as not sent). Each
taker order's latency is from just before its ``POST /v1/orders`` to the moment its TAKER fill
arrives on the taker's private ``orders`` WebSocket channel.

Each phase prints progress every second, then the achieved rate (accepted orders/s) and
p50/p99/p99.9. At the end, the time each Lambda spent per invocation (from the stack's own
counters) shows where the time goes. The last line is JSON.

    python -m bench.e2e_bench [--rates 1000,100] [--seconds 10]
"""

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import aiohttp

from exchange_client import (
    ApiError,
    ClientConfig,
    ExchangeClient,
    ExchangeClientError,
    MarketStream,
)
from local.accounts import signed_deposit
from local.process import running_stack

SYMBOL = "BTC-USD"
LOT = Decimal("0.0001")
MAKER_PRICE, TAKER_PRICE = Decimal("65000.00"), Decimal("65010.00")
PASSWORD = "Bench-password-1"  # noqa: S105 - a throwaway local user's


@dataclass
class Phase:
    offered: float
    seconds: float
    sent: dict[str, float] = field(default_factory=dict)  # order id -> send time (perf_counter)
    not_sent: int = 0
    started: float = 0.0
    refused: int = 0
    accepted_at: list[float] = field(default_factory=list)
    filled: dict[str, float] = field(default_factory=dict)  # order id -> fill receive time

    def latencies_ms(self) -> list[float]:
        return sorted(
            (self.filled[oid] - sent) * 1000
            for oid, sent in self.sent.items()
            if oid in self.filled
        )


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


async def user(api_url: str, config: ClientConfig, email: str) -> tuple[ExchangeClient, str]:
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{api_url}/_local/users", json={"email": email, "password": PASSWORD}
        )
        created = await response.json()
    client = ExchangeClient(config)
    await client.sign_in(email, PASSWORD)
    return client, str(created["account_id"])


async def fund(api_url: str, secret: str, account_id: str, asset: str, amount: Decimal) -> None:
    body, headers = signed_deposit(secret, account_id, asset, amount)
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{api_url}/v1/webhooks/deposits", data=body, headers=headers)
        response.raise_for_status()


async def listen(stream: MarketStream, phases: list[Phase]) -> None:
    async for event in stream:
        if event.kind != "orders":
            continue
        now = time.perf_counter()
        for item in event.data.get("events", []):
            if item.get("event") == "fill" and item.get("role") == "TAKER":
                for phase in phases:
                    phase.filled.setdefault(item["order_id"], now)


async def run_phase(taker: ExchangeClient, phase: Phase, max_in_flight: int) -> None:
    slots = asyncio.Semaphore(max_in_flight)
    tasks: set[asyncio.Task[None]] = set()

    async def send() -> None:
        started = time.perf_counter()
        try:
            accepted = await taker.place_order(SYMBOL, "buy", LOT, TAKER_PRICE, tif="IOC")
        except (ApiError, ExchangeClientError):  # refused, or timed out after retries
            phase.refused += 1
        else:
            phase.sent[accepted.order_id] = started
            phase.accepted_at.append(time.perf_counter())
        finally:
            slots.release()

    total = int(phase.offered * phase.seconds)
    begin = phase.started = time.perf_counter()
    last_report = begin
    for n in range(total):
        await asyncio.sleep(max(0.0, begin + n / phase.offered - time.perf_counter()))
        if slots.locked():
            phase.not_sent += 1
        else:
            await slots.acquire()
            task = asyncio.create_task(send())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if time.perf_counter() - last_report >= 1.0:
            last_report = time.perf_counter()
            lat = phase.latencies_ms()
            print(
                f"  t={last_report - begin:5.1f}s sent {n + 1 - phase.not_sent:6d}"
                f" accepted {len(phase.sent):6d} filled {len(lat):6d}"
                f" in-flight {max_in_flight - slots._value:4d}"
                f" p50 {percentile(lat, 0.5):8.1f} ms",
                flush=True,
            )
    await asyncio.gather(*tasks)
    deadline = time.perf_counter() + 30
    while len(phase.filled.keys() & phase.sent.keys()) < len(phase.sent):
        if time.perf_counter() > deadline:
            break
        await asyncio.sleep(0.2)


def summary(phase: Phase) -> dict[str, Any]:
    lat = phase.latencies_ms()
    window = (max(phase.accepted_at) - min(phase.accepted_at)) if len(phase.accepted_at) > 1 else 0
    # Sustained: orders filled (HTTP accepted and the fill out on the WebSocket), from the
    # phase's first send to its last fill; not more than were accepted per second.
    fills = [phase.filled[oid] for oid in phase.sent if oid in phase.filled]
    span = max(fills) - phase.started if fills else 0.0
    accepted_per_s = len(phase.accepted_at) / max(window, phase.seconds)
    filled_per_s = len(fills) / max(span, phase.seconds) if fills else 0.0
    return {
        "offered_per_s": phase.offered,
        "orders_per_s": round(min(accepted_per_s, filled_per_s), 1),
        "accepted_per_s": round(accepted_per_s, 1),
        "sent": len(phase.sent) + phase.refused,
        "not_sent_in_flight_full": phase.not_sent,
        "refused": phase.refused,
        "filled": len(lat),
        "p50_ms": round(percentile(lat, 0.5), 1),
        "p99_ms": round(percentile(lat, 0.99), 1),
        "p999_ms": round(percentile(lat, 0.999), 1),
        "mean_ms": round(statistics.fmean(lat), 1) if lat else None,
    }


async def main(
    rates: list[float], seconds: float, max_in_flight: int, state: dict[str, Any]
) -> None:
    config = ClientConfig.from_state(state)
    api = state["api_url"]
    maker, maker_id = await user(api, config, "bench-maker@example.com")
    taker, taker_id = await user(api, config, "bench-taker@example.com")
    total_lots = int(sum(rate * seconds for rate in rates) * 1.2) + 10
    await fund(api, state["webhook_secret"], maker_id, "BTC", total_lots * LOT)
    await fund(api, state["webhook_secret"], taker_id, "USD", Decimal(10) ** 8)
    await asyncio.sleep(1)
    resting = await maker.place_order(SYMBOL, "sell", total_lots * LOT, MAKER_PRICE)
    while (await maker.get_order(resting.order_id)).status != "NEW":
        await asyncio.sleep(0.2)
    phases = [Phase(offered=rate, seconds=seconds) for rate in rates]
    costs: list[dict[str, Any]] = []
    async with MarketStream(config.ws_url, token=taker.auth.access_token) as stream:
        await stream.wait_connected()
        await stream.subscribe("orders")
        listener = asyncio.create_task(listen(stream, phases))
        # Warm-up: cold starts of every function on the path, outside the measurement.
        warm = Phase(offered=5, seconds=2)
        phases.append(warm)
        await run_phase(taker, warm, max_in_flight)
        results = []
        for phase in phases[:-1]:
            print(
                f"\nphase: {phase.offered:g} orders/s offered for {phase.seconds:g} s", flush=True
            )
            before = await local_status(api)
            await run_phase(taker, phase, max_in_flight)
            costs.append(cost_per_order(before, await local_status(api), len(phase.sent)))
            results.append(summary(phase))
            print("  " + json.dumps(results[-1]), flush=True)
        listener.cancel()
    status = await local_status(api)
    await maker.close()
    await taker.close()
    report(results, costs, status, state)


async def local_status(api: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        status: dict[str, Any] = await (await http.get(f"{api}/_local/status")).json()
        return status


# The X-Amz-Target prefixes moto sees, by the service's name in IAM.
_SERVICES: Final = {
    "DynamoDB_20120810": "dynamodb",
    "Kinesis_20131202": "kinesis",
    "AmazonSQS": "sqs",
    "AWSCognitoIdentityProviderService": "cognito-idp",
    "secretsmanager": "secretsmanager",
    "TrentService": "kms",
    "Firehose_20150804": "firehose",
    "AWSEvents": "events",
    "GraniteServiceVersion20100801": "cloudwatch",
}
# What Lambda's event source mappings call to feed the functions (GetRecords on the stream, the
# queues' receives and deletes): the service's own work in AWS, not the functions' calls, and
# paced by polling, not by orders. Reported apart.
_POLLING: Final = frozenset(
    {
        "kinesis.GetRecords",
        "kinesis.GetShardIterator",
        "kinesis.ListShards",
        "kinesis.DescribeStream",
        "kinesis.DescribeStreamSummary",
        "sqs.ReceiveMessage",
        "sqs.DeleteMessage",
        "sqs.DeleteMessageBatch",
        "sqs.ChangeMessageVisibility",
        "sqs.ChangeMessageVisibilityBatch",
        "sqs.GetQueueAttributes",
    }
)


def operation_name(target: str) -> str:
    """``DynamoDB_20120810.PutItem`` -> ``dynamodb.PutItem``; others (REST protocols) as seen."""
    prefix, dot, action = target.partition(".")
    if dot and prefix in _SERVICES:
        return f"{_SERVICES[prefix]}.{action}"
    return target


def cost_per_order(before: dict[str, Any], after: dict[str, Any], orders: int) -> dict[str, Any]:
    """AWS calls and DynamoDB write units between two status snapshots, per order sent."""
    per = max(orders, 1)
    calls: dict[str, int] = {}
    for target, timing in after["moto"].items():
        n = timing["calls"] - before["moto"].get(target, {"calls": 0})["calls"]
        if n:
            name = operation_name(target)
            calls[name] = calls.get(name, 0) + n
    posted = after["websocket"]["posted"] - before["websocket"]["posted"]
    if posted:  # the Management API (the fan-out's PostToConnection): served by the gateway
        calls["execute-api.PostToConnection"] = posted
    code = {name: n for name, n in calls.items() if name not in _POLLING}
    polling = {name: n for name, n in calls.items() if name in _POLLING}
    units_before = before.get("dynamodb_write_units") or {}
    units_after = after.get("dynamodb_write_units") or {}

    def delta(kind: str) -> dict[str, float]:
        old = units_before.get(kind, {})
        return {
            name: round((n - old.get(name, 0)) / per, 2)
            for name, n in units_after.get(kind, {}).items()
            if n - old.get(name, 0)
        }

    tables, indexes = delta("tables"), delta("indexes")
    return {
        "orders": orders,
        "aws_calls_per_order": {
            "total": round(sum(code.values()) / per, 2),
            "by_operation": {
                name: round(n / per, 2) for name, n in sorted(code.items(), key=lambda kv: -kv[1])
            },
            "event_source_mapping_polls": round(sum(polling.values()) / per, 2),
        },
        "dynamodb_write_units_per_order": {
            "total": round(sum(tables.values()) + sum(indexes.values()), 2),
            "tables": tables,
            "indexes": indexes,
        },
    }


def report(
    results: list[dict[str, Any]],
    costs: list[dict[str, Any]],
    status: dict[str, Any],
    state: dict[str, Any],
) -> None:
    print("\nwhere the time goes (per invocation, in the stack's Lambda host):")
    per_function = {}
    for name, counters in status["functions"].items():
        if counters["invocations"]:
            per_function[name] = round(counters["busy_ms"] / counters["invocations"], 2)
            print(f"  {name:<15} {counters['invocations']:7d} invocations"
                  f"  {per_function[name]:8.2f} ms each")  # fmt: skip
    print("\nmoto (AWS APIs), the busiest operations:")
    for operation, timing in list(status["moto"].items())[:10]:
        print(f"  {operation:<40} {timing['calls']:7d} calls  {timing['ms_each']:7.2f} ms each"
              f"  {timing['ms_total']:8d} ms total")  # fmt: skip
    calls = sum(timing["calls"] for timing in status["moto"].values())
    moto_ms = sum(timing["ms_total"] for timing in status["moto"].values())
    orders = status["functions"]["orders"]["invocations"] or 1
    print(f"  over the whole run, per order placed: {calls / orders:.1f} moto calls,"
          f" {moto_ms / orders:.1f} ms")  # fmt: skip
    print(f"services: {json.dumps(state['services'])}")
    print(f"\n{'offered/s':>10} {'achieved/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9}")
    for r in results:
        print(f"{r['offered_per_s']:>10g} {r['orders_per_s']:>11} {r['p50_ms']:>8} "
              f"{r['p99_ms']:>8} {r['p999_ms']:>9}")  # fmt: skip
    # The cost per order at the steadiest phase: the one at 100/s offered, else the slowest.
    steady = min(
        range(len(results)),
        key=lambda i: (results[i]["offered_per_s"] != 100, results[i]["offered_per_s"]),
    )
    cost = costs[steady]
    print(
        f"\nper order, at {results[steady]['offered_per_s']:g}/s offered ({cost['orders']} orders):"
    )
    calls = cost["aws_calls_per_order"]
    print(f"  AWS calls: {calls['total']} (+ {calls['event_source_mapping_polls']} event source"
          " mapping polls)")  # fmt: skip
    for name, n in calls["by_operation"].items():
        print(f"    {name:<40} {n:6.2f}")
    units = cost["dynamodb_write_units_per_order"]
    print(f"  DynamoDB write units: {units['total']}")
    for name, n in {**units["tables"], **units["indexes"]}.items():
        print(f"    {name:<40} {n:6.2f}")
    at_100 = [r for r in results if r["offered_per_s"] == 100]
    print(
        json.dumps(
            {
                "orders_per_s": max(r["orders_per_s"] for r in results),
                "p99_ms_at_100": at_100[0]["p99_ms"] if at_100 else None,
                "aws_calls_per_order": calls,
                "dynamodb_write_units_per_order": units,
                "phases": results,
                "ms_per_invocation": per_function,
            }
        )
    )


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e_bench")
    parser.add_argument("--rates", default="1000,100", help="offered orders/s per phase")
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase")
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument("--embedded", action="store_true", help="embedded services only")
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    print("starting the local stack ...", flush=True)
    # Its own archive folder: the default one (what `make backtest` reads) is the developer's.
    stack_args = (
        "--no-seed",
        "--archive-dir",
        str(folder / "archive"),
        *(("--embedded",) if args.embedded else ()),
    )
    try:
        with running_stack(folder / "stack.json", folder / "stack.log", args=stack_args) as state:
            asyncio.run(main(rates, args.seconds, args.max_in_flight, state))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    cli()
