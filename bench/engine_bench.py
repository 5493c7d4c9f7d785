"""Matching-engine benchmark: ``python -m bench.engine_bench [--messages N] [--runs R]``.

Reports throughput (median of R runs), per-message latency percentiles (a separate pass), peak
RSS, snapshot size and snapshot/restore time for a book of 100,000 resting orders, the wire format
(msgspec vs stdlib json), and the same workload through installed Python peers. The last line
printed is one JSON object for machines.
"""

import argparse
import gc
import json
import resource
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any, get_args

import msgspec

from bench.engine_peers import PEERS, PeerRun
from bench.engine_workload import INSTRUMENT, SYMBOL, generate, to_commands
from engine_service.core import Engine
from engine_service.core import matcher as _matcher
from exchange import wire
from exchange.domain import (
    AnyEvent,
    Command,
    Event,
    NewOrder,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)

SEED = 20_261_122


def _throughput(commands: list[Command], runs: int) -> tuple[float, int, int]:
    """Median msgs/s over ``runs`` fresh engines; also events and traded quantity of one run."""
    rates = []
    events = traded = 0
    for _ in range(runs):
        engine = Engine([INSTRUMENT])
        apply = engine.apply
        gc.collect()
        started = time.perf_counter()
        for command in commands:
            apply(command)
        rates.append(len(commands) / (time.perf_counter() - started))
    engine = Engine([INSTRUMENT])
    for command in commands:
        for event in engine.apply(command):
            events += 1
            if type(event) is Trade:
                traded += event.qty
    return statistics.median(rates), events, traded


def _latencies(commands: list[Command]) -> dict[str, float]:
    engine = Engine([INSTRUMENT])
    apply = engine.apply
    clock = time.perf_counter_ns
    samples = [0] * len(commands)
    gc.collect()
    for i, command in enumerate(commands):
        started = clock()
        apply(command)
        samples[i] = clock() - started
    samples.sort()
    overhead = min(-(clock() - clock()) for _ in range(1000))

    def pct(p: float) -> float:
        return samples[min(len(samples) - 1, int(p * len(samples)))] / 1000

    return {
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "p999_us": pct(0.999),
        "max_us": samples[-1] / 1000,
        "timer_ns": overhead,
    }


def _deep_book(orders: int) -> Engine:
    """A book of ``orders`` resting orders over 2,000 levels, nothing crossing."""
    engine = Engine([INSTRUMENT])
    for i in range(orders):
        buy = i % 2 == 0
        offset = 1 + (i // 2) % 1_000
        engine.apply(
            NewOrder(
                symbol=SYMBOL,
                ts=i + 1,
                order_id=f"d{i}",
                account_id=f"a{i % 200}",
                client_order_id=f"c{i}",
                side=Side.BUY if buy else Side.SELL,
                order_type=OrderType.LIMIT,
                tif=TimeInForce.GTC,
                qty=1 + i % 20,
                price=1_000_000 - offset if buy else 1_000_000 + offset,
            )
        )
    return engine


def _best_of(repeat: int, action: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return best, result


def _snapshot(orders: int) -> dict[str, float]:
    engine = _deep_book(orders)
    snap_s, data = _best_of(3, engine.snapshot)
    restore_s, restored = _best_of(3, lambda: Engine.restore(data, [INSTRUMENT]))
    if restored.snapshot() != data:
        raise RuntimeError("restore(snapshot) does not give the same snapshot back")
    return {
        "orders": orders,
        "bytes": len(data),
        "snapshot_ms": snap_s * 1e3,
        "restore_ms": restore_s * 1e3,
    }


def _json_encode(message: msgspec.Struct) -> str:
    """What a stdlib-only wire format would do: a dict of the fields, tagged, as JSON."""
    fields = {name: getattr(message, name) for name in message.__struct_fields__}
    return json.dumps({"type": message.__struct_config__.tag, **fields})


def _each(action: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    return [action(item) for item in items]


def _wire(commands: list[Command], events: list[Event]) -> dict[str, float]:
    """Seconds per message to encode and decode, msgspec (exchange.wire) against stdlib json."""
    kinds = (*get_args(Command), *get_args(AnyEvent))
    by_tag = {kind.__struct_config__.tag: kind for kind in kinds}

    def json_decode(payload: str) -> Any:
        raw = json.loads(payload)
        return by_tag[raw.pop("type")](**raw)

    out: dict[str, float] = {}
    for name, messages, encode, decode in (
        ("commands", commands, wire.encode_command, wire.decode_command),
        ("events", events, wire.encode_event, wire.decode_event),
    ):
        count = len(messages)
        enc_s, payloads = _best_of(3, partial(_each, encode, messages))
        dec_s, _ = _best_of(3, partial(_each, decode, payloads))
        jenc_s, texts = _best_of(3, partial(_each, _json_encode, messages))
        jdec_s, back = _best_of(3, partial(_each, json_decode, texts))
        if back != messages:
            raise RuntimeError(f"json round trip of {name} changed them")
        out[f"{name}_msgspec_ns"] = (enc_s + dec_s) / count * 1e9
        out[f"{name}_json_ns"] = (jenc_s + jdec_s) / count * 1e9
        out[f"{name}_msgspec_bytes"] = sum(map(len, payloads)) / count
        out[f"{name}_json_bytes"] = sum(map(len, texts)) / count
    total_msgspec = out["commands_msgspec_ns"] + out["events_msgspec_ns"]
    out["json_over_msgspec"] = (out["commands_json_ns"] + out["events_json_ns"]) / total_msgspec
    return out


def _peer(peer: PeerRun, runs: int) -> dict[str, Any]:
    rates = []
    traded = 0
    for _ in range(runs):
        engine = peer.make()
        gc.collect()
        started = time.perf_counter()
        traded = peer.feed(engine, peer.commands)
        rates.append(len(peer.commands) / (time.perf_counter() - started))
    return {
        "name": peer.name,
        "version": peer.version,
        "msgs_per_s": statistics.median(rates),
        "traded_qty": traded,
    }


def _latency_text(latency: dict[str, float]) -> str:
    return (
        f"{latency['p50_us']:.2f} / {latency['p99_us']:.2f} / {latency['p999_us']:.2f} us "
        f"(max {latency['max_us']:.0f} us; timer overhead {latency['timer_ns']:.0f} ns included)"
    )


def _snapshot_text(snapshot: dict[str, float]) -> str:
    return (
        f"{snapshot['bytes'] / 1e6:.2f} MB, snapshot {snapshot['snapshot_ms']:.0f} ms, "
        f"restore {snapshot['restore_ms']:.0f} ms"
    )


def _wire_text(stats: dict[str, float], name: str) -> str:
    return (
        f"msgspec {stats[f'{name}_msgspec_ns']:.0f} ns, json {stats[f'{name}_json_ns']:.0f} ns; "
        f"{stats[f'{name}_msgspec_bytes']:.0f} vs {stats[f'{name}_json_bytes']:.0f} bytes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--snapshot-orders", type=int, default=100_000)
    args = parser.parse_args()

    compiled = not _matcher.__file__.endswith(".py") if _matcher.__file__ else False
    ops = generate(SEED, args.messages)
    commands = to_commands(ops)
    peers = [peer for make in PEERS if (peer := make(ops)) is not None]
    gc.collect()
    gc.freeze()  # the prebuilt workload is long-lived: keep it out of every collection
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rate, event_count, traded = _throughput(commands, args.runs)
    latency = _latencies(commands)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sample = commands[: min(len(commands), 100_000)]
    sample_engine = Engine([INSTRUMENT])
    sample_events = [e for c in sample for e in sample_engine.apply(c)]
    wire_stats = _wire(sample, sample_events)
    snapshot = _snapshot(args.snapshot_orders)
    peer_results = [_peer(peer, max(1, min(args.runs, 3))) for peer in peers]

    best_peer = max((p["msgs_per_s"] for p in peer_results), default=None)
    mode = "mypyc-compiled" if compiled else "pure Python"
    print(f"engine core ({mode}), {args.messages:,} messages, seed {SEED}, {args.runs} runs")
    rows = [
        ("throughput", f"{rate:,.0f} msgs/s ({event_count / args.messages:.2f} events/msg)"),
        ("latency p50 / p99 / p99.9", _latency_text(latency)),
        ("peak RSS", f"{peak_rss:,.0f} MB (workload alone {baseline_rss:,.0f} MB)"),
        ("traded qty", f"{traded:,} lots"),
        (f"snapshot, {snapshot['orders']:,} orders", _snapshot_text(snapshot)),
        ("wire, commands enc+dec", _wire_text(wire_stats, "commands")),
        ("wire, events enc+dec", _wire_text(wire_stats, "events")),
        ("wire, json / msgspec time", f"{wire_stats['json_over_msgspec']:.1f}x"),
    ]
    for result in peer_results:
        same = result["traded_qty"] == traded
        agree = "agrees" if same else f"DIFFERS: {result['traded_qty']:,}"
        ratio = rate / result["msgs_per_s"]
        rows.append(
            (
                f"peer {result['name']} {result['version']}",
                f"{result['msgs_per_s']:,.0f} msgs/s; traded qty {agree}; ours is {ratio:.2f}x",
            )
        )
    if not peer_results:
        rows.append(("peers", "none installed (pip install matching-engine==0.1.1)"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    result = {
        "msgs_per_s": round(rate),
        "p50_us": round(latency["p50_us"], 3),
        "p99_us": round(latency["p99_us"], 3),
        "p999_us": round(latency["p999_us"], 3),
        "vs_best_peer": None if best_peer is None else round(rate / best_peer, 3),
        "peak_rss_mb": round(peak_rss),
        "snapshot_bytes": snapshot["bytes"],
        "snapshot_ms": round(snapshot["snapshot_ms"], 1),
        "restore_ms": round(snapshot["restore_ms"], 1),
        "wire_json_over_msgspec": round(wire_stats["json_over_msgspec"], 2),
        "compiled": compiled,
        "messages": args.messages,
        "peers": {p["name"]: round(p["msgs_per_s"]) for p in peer_results},
        "peers_agree": all(p["traded_qty"] == traded for p in peer_results),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
