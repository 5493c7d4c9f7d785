"""Matching-engine benchmark: ``python -m bench.engine_bench [--messages N] [--runs R]``.

Measures the compiled core (``_ccore``, C via Cython; ``make build-engine``): throughput through
``Engine.apply_batch`` in chunks of 1,000 commands (how the service applies what the broker
delivers; the headline ``msgs_per_s``) and through per-command ``apply``, each the median of R
runs on one CPU core with every event (book deltas included) produced; per-command latency
percentiles through ``apply`` (a separate pass). In the same run: the pure-Python core's
throughput as the baseline, a check that both cores give byte-identical event streams
(``exchange.wire``), peak RSS, snapshot size and snapshot/restore time for a book of 100,000
resting orders, the wire format (msgspec vs stdlib json), and the same workload through installed
Python peers. Without the compiled core it measures the pure one, and says so. The last line
printed is one JSON object for machines, with ``targets_met`` for issue 21's targets.
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
from engine_service.core import Engine, cores
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
# Commands per apply_batch call: about what one broker delivery (prefetch) brings the service.
BATCH = 1_000
# Issue 21's targets: msgs/s through the batch path, times the best peer, p99 latency in us.
TARGETS = {"msgs_per_s": 1_000_000, "vs_best_peer": 3.0, "p99_us": 5.0}


def _engine(core: str) -> Engine:
    return Engine([INSTRUMENT], core=core)


def _feed_apply(engine: Engine, commands: list[Command], _chunks: list[list[Command]]) -> None:
    apply = engine.apply
    for command in commands:
        apply(command)


def _feed_batch(engine: Engine, _commands: list[Command], chunks: list[list[Command]]) -> None:
    apply_batch = engine.apply_batch
    for chunk in chunks:
        apply_batch(chunk)


Feed = Callable[[Engine, list[Command], list[list[Command]]], None]
Row = tuple[str, str]


def _throughput(core: str, feed: Feed, commands: list[Command], runs: int) -> float:
    """Median msgs/s over ``runs`` fresh engines on ``core``."""
    chunks = [commands[i : i + BATCH] for i in range(0, len(commands), BATCH)]
    rates = []
    for _ in range(runs):
        engine = _engine(core)
        gc.collect()
        started = time.perf_counter()
        feed(engine, commands, chunks)
        rates.append(len(commands) / (time.perf_counter() - started))
    return statistics.median(rates)


def _stream(commands: list[Command], native: bool) -> tuple[int, int]:
    """Events and traded quantity of the workload. With ``native``, the compiled core runs it
    through ``apply_batch`` and ``apply`` beside the pure core, and the first command whose events
    differ (as encoded on the wire) stops the benchmark."""
    pure = _engine(cores.PURE)
    batched, single = (_engine(cores.NATIVE), _engine(cores.NATIVE)) if native else (None, None)
    encode = wire.encode_event
    events = traded = 0
    for start in range(0, len(commands), BATCH):
        chunk = commands[start : start + BATCH]
        expected = [pure.apply(command) for command in chunk]
        for found in expected:
            events += len(found)
            traded += sum(event.qty for event in found if type(event) is Trade)
        if batched is None or single is None:
            continue
        for name, got in (
            ("apply_batch", batched.apply_batch(chunk)),
            ("apply", [single.apply(command) for command in chunk]),
        ):
            for i, (want, have) in enumerate(zip(expected, got, strict=True)):
                if [encode(e) for e in want] != [encode(e) for e in have]:
                    raise RuntimeError(
                        f"the native core's {name} differs from the pure core at command "
                        f"{start + i:,} ({chunk[i]!r}):\n  pure:   {[encode(e) for e in want]}"
                        f"\n  native: {[encode(e) for e in have]}"
                    )
    return events, traded


def _latencies(core: str, commands: list[Command]) -> dict[str, float]:
    engine = _engine(core)
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


def _deep_book(core: str, orders: int) -> Engine:
    """A book of ``orders`` resting orders over 2,000 levels, nothing crossing."""
    engine = _engine(core)
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


def _snapshot(core: str, orders: int) -> dict[str, float]:
    engine = _deep_book(core, orders)
    snap_s, data = _best_of(3, engine.snapshot)
    restore_s, restored = _best_of(3, lambda: Engine.restore(data, [INSTRUMENT], core=core))
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


def _targets(rate: float, vs_peer: float | None, p99_us: float) -> dict[str, bool]:
    return {
        "msgs_per_s": rate >= TARGETS["msgs_per_s"],
        "vs_best_peer": vs_peer is not None and vs_peer >= TARGETS["vs_best_peer"],
        "p99_us": p99_us <= TARGETS["p99_us"],
    }


def _peer_rows(peer_results: list[dict[str, Any]], rate: float, traded: int) -> list[Row]:
    rows: list[Row] = []
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
    return rows


def _targets_text(targets: dict[str, bool]) -> str:
    return (
        f"msgs/s >= {TARGETS['msgs_per_s']:,} {targets['msgs_per_s']}; "
        f"vs best peer >= {TARGETS['vs_best_peer']:g} {targets['vs_best_peer']}; "
        f"p99 <= {TARGETS['p99_us']:g} us {targets['p99_us']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--snapshot-orders", type=int, default=100_000)
    args = parser.parse_args()

    problem = cores.native_problem()
    core = cores.PURE if problem else cores.NATIVE
    native = core == cores.NATIVE
    ops = generate(SEED, args.messages)
    commands = to_commands(ops)
    peers = [peer for make in PEERS if (peer := make(ops)) is not None]
    gc.collect()
    gc.freeze()  # the prebuilt workload is long-lived: keep it out of every collection
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rate = _throughput(core, _feed_batch, commands, args.runs)
    apply_rate = _throughput(core, _feed_apply, commands, args.runs)
    latency = _latencies(core, commands)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    few = max(1, min(args.runs, 3))
    pure_rate = _throughput(cores.PURE, _feed_apply, commands, few) if native else apply_rate
    event_count, traded = _stream(commands, native)
    sample = commands[: min(len(commands), 100_000)]
    sample_engine = _engine(core)
    sample_events = [e for c in sample for e in sample_engine.apply(c)]
    wire_stats = _wire(sample, sample_events)
    snapshot = _snapshot(core, args.snapshot_orders)
    peer_results = [_peer(peer, few) for peer in peers]

    best_peer = max((p["msgs_per_s"] for p in peer_results), default=None)
    vs_peer = None if best_peer is None else rate / best_peer
    if native:
        print("engine core: native (compiled, C via Cython)")
    else:
        print(f"engine core: PURE PYTHON ONLY (the compiled core is unavailable: {problem})")
    print(f"  {args.messages:,} messages, seed {SEED}, median of {args.runs} runs, one CPU core")
    per_msg = f"{event_count / args.messages:.2f} events/msg, book deltas included"
    rows: list[Row] = [
        (f"throughput, apply_batch x{BATCH:,}", f"{rate:,.0f} msgs/s ({per_msg}): msgs_per_s"),
        ("throughput, apply per command", f"{apply_rate:,.0f} msgs/s"),
    ]
    if native:
        rows += [
            (
                "pure-Python core, apply",
                f"{pure_rate:,.0f} msgs/s; native apply_batch is {rate / pure_rate:.1f}x",
            ),
            ("events, native vs pure", f"{event_count:,} byte-identical (apply_batch and apply)"),
        ]
    rows += [
        ("latency p50 / p99 / p99.9", _latency_text(latency) + ", per apply"),
        ("peak RSS", f"{peak_rss:,.0f} MB (workload alone {baseline_rss:,.0f} MB)"),
        ("traded qty", f"{traded:,} lots"),
        (f"snapshot, {snapshot['orders']:,} orders", _snapshot_text(snapshot)),
        ("wire, commands enc+dec", _wire_text(wire_stats, "commands")),
        ("wire, events enc+dec", _wire_text(wire_stats, "events")),
        ("wire, json / msgspec time", f"{wire_stats['json_over_msgspec']:.1f}x"),
    ]
    rows += _peer_rows(peer_results, rate, traded)
    targets = _targets(rate, vs_peer, latency["p99_us"])
    rows.append(("targets", _targets_text(targets)))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    result = {
        "core": core,
        "msgs_per_s": round(rate),
        "apply_msgs_per_s": round(apply_rate),
        "pure_msgs_per_s": round(pure_rate),
        "p50_us": round(latency["p50_us"], 3),
        "p99_us": round(latency["p99_us"], 3),
        "p999_us": round(latency["p999_us"], 3),
        "vs_best_peer": None if vs_peer is None else round(vs_peer, 3),
        "targets_met": targets,
        "events_per_msg": round(event_count / args.messages, 3),
        "peak_rss_mb": round(peak_rss),
        "snapshot_bytes": snapshot["bytes"],
        "snapshot_ms": round(snapshot["snapshot_ms"], 1),
        "restore_ms": round(snapshot["restore_ms"], 1),
        "wire_json_over_msgspec": round(wire_stats["json_over_msgspec"], 2),
        "compiled": native,
        "cores_identical": True if native else None,
        "messages": args.messages,
        "batch": BATCH,
        "peers": {p["name"]: round(p["msgs_per_s"]) for p in peer_results},
        "peers_agree": all(p["traded_qty"] == traded for p in peer_results),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
