"""Installable Python matching engines run on the same workload, for comparison.

Each peer is optional: when its package is not installed the benchmark says so and skips it.
"""

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.engine_workload import Op


@dataclass
class PeerRun:
    """A peer ready to run: ``make()`` gives a fresh engine, ``feed`` applies all commands to it
    and returns the total traded quantity."""

    name: str
    version: str
    commands: list[Any]
    make: Callable[[], Any]
    feed: Callable[[Any, list[Any]], int]


def matching_engine(ops: list[Op]) -> PeerRun | None:
    """PyPI ``matching-engine`` (0.1.x): integer ids and accounts, price 0 for market orders.

    Its semantics match ours on this workload: price-time priority, fills at the maker's price,
    IOC and market remainders dropped, and CANCEL_TAKER self-trade prevention (our CANCEL_NEWEST).
    It emits no book deltas, so it does less work per message than our engine.
    """
    if importlib.util.find_spec("matching_engine") is None:
        return None
    import matching_engine as me  # noqa: PLC0415 - optional peer
    from matching_engine.engine import MatchingEngine  # noqa: PLC0415
    from matching_engine.events import Trade  # noqa: PLC0415

    commands: list[Any] = []
    for seq, op in enumerate(ops, start=1):
        command: Any
        if op.kind == "cancel":
            command = me.CancelOrder(op.order_id, op.account)
        else:
            command = me.NewOrder(
                op.order_id,
                op.account,
                me.Side.BUY if op.is_buy else me.Side.SELL,
                op.price,
                op.qty,
                me.OrderType.MARKET if op.kind == "market" else me.OrderType.LIMIT,
                me.TimeInForce.GTC if op.kind == "limit" else me.TimeInForce.IOC,
                False,
                me.SelfTradePrevention.CANCEL_TAKER,
            )
        commands.append(me.SequencedCommand(seq, seq, command))

    def feed(engine: Any, batch: list[Any]) -> int:
        traded = 0
        process = engine.process
        for command in batch:
            for event in process(command):
                if type(event) is Trade:
                    traded += event.qty
        return traded

    return PeerRun("matching-engine", me.__version__, commands, MatchingEngine, feed)


PEERS = [matching_engine]
