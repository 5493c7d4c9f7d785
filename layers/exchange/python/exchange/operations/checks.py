"""The comparisons, pure: what each party says in, drift and in-flight counts out.

**In flight, not drift.** The engine, the order store (the recorder) and the ledger (settlement)
see the same journal at different moments, so a difference is drift only when every party has
had the chance to agree. Precisely, for an order id open in one of them (engine snapshot at seq
``S`` of its symbol):

1. the symbol is *lagging* when the recorder or settlement has not applied the journal up to ``S``
   (``Progress``): then nothing on it can be judged yet (a persisting lag alarms on its own,
   as consumer lag);
2. the order changed after the snapshot: its store row's ``last_seq`` > ``S``, or an event after
   ``S`` changed its hold (a trade settled, a hold released or resized: ``changed_after``);
3. the order is younger than the grace, so it may not have reached the engine: placed (the store
   row's ``created_ns``, the API's clock) or held (the reservation's ``created_at``, the
   database's clock) at or after ``now - grace``.

Past these, each party's view of the order is as of ``S`` and they must agree exactly.

For a trade (``compare_trades``) the parties are the trades table (the recorder) and the ledger's
settled trades: a trade is in flight while settlement has not reached its seq or for the grace
after it happened (its event time ``ts_ns``); a settled trade, while the recorder has not reached
its seq or for the grace after it was settled (``settled_at``). The engine's snapshot is no party
to it: a consumer's own progress is the exact form of "after the snapshot's seq" here.
"""

from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from exchange.ledger.postgres.audit_reads import HoldRow
from exchange.operations.model import (
    EngineOrder,
    OrderDrift,
    OrderDriftKind,
    OrdersResult,
    Progress,
    StoreOrder,
    TradeDrift,
    TradeDriftKind,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ns(moment: datetime) -> int:
    """``moment`` in nanoseconds since the epoch, exactly (no float on the way).

    >>> epoch_ns(datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=UTC))
    1735689600000001000
    """
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1_000


@dataclass(frozen=True)
class OrderFacts:
    """What the three parties say about open orders, by order id."""

    engine: Mapping[str, EngineOrder]
    store_open: Mapping[str, StoreOrder]
    ledger_open: Mapping[str, HoldRow]
    seqs: Mapping[str, int]  # the snapshots' seq per symbol (absent: 0)
    progress: Mapping[str, Progress]
    changed_after: Set[str] = frozenset()  # order ids the ledger changed after the snapshot
    # Every row read, open or not (the open ones, and the others looked up by id), for the
    # in-flight rules: a closed row's last_seq, a released hold's created_at.
    store_rows: Mapping[str, StoreOrder] = field(default_factory=dict)
    ledger_rows: Mapping[str, HoldRow] = field(default_factory=dict)


def compare_orders(
    facts: OrderFacts, *, lots: Callable[[StoreOrder], int | None], cutoff: datetime
) -> OrdersResult:
    """Every order id open anywhere, compared by open lots (``lots`` converts a store row's open
    quantity; None: it cannot)."""
    cutoff_ns = epoch_ns(cutoff)
    lagging = {
        symbol: {"snapshot_seq": seq, "recorded_seq": done.recorded, "settled_seq": done.settled}
        for symbol, seq in facts.seqs.items()
        if (done := facts.progress.get(symbol)) is not None
        and min(done.recorded, done.settled) < seq
    }
    ids = sorted(set(facts.engine) | set(facts.store_open) | set(facts.ledger_open))
    in_flight = 0
    drifted: list[OrderDrift] = []
    for order_id in ids:
        engine = facts.engine.get(order_id)
        store = facts.store_open.get(order_id)
        hold = facts.ledger_open.get(order_id)
        if agrees(engine, store, hold, lots):
            continue
        engine_lots = None if engine is None else engine.open_lots
        store_lots = None if store is None else lots(store)
        ledger_lots = None if hold is None else hold.open_lots
        first = engine or store or hold
        assert first is not None  # noqa: S101 - the id came from one of them
        symbol = first.symbol
        if symbol in lagging or _changed_or_young(facts, order_id, symbol, cutoff, cutoff_ns):
            in_flight += 1
            continue
        detail = ""
        if store is not None and store_lots is None:
            detail = f"store open_qty {store.open_qty} is not whole lots of a known instrument"
        drifted.append(
            OrderDrift(
                kind=_order_kind(engine is not None, store is not None, hold is not None),
                order_id=order_id,
                account_id=first.account_id,
                symbol=symbol,
                engine_lots=engine_lots,
                store_lots=store_lots,
                ledger_lots=ledger_lots,
                detail=detail,
            )
        )
    return OrdersResult(
        compared=len(ids), in_flight=in_flight, drifted=tuple(drifted), lagging=lagging
    )


def agrees(
    engine: EngineOrder | None,
    store: StoreOrder | None,
    hold: HoldRow | None,
    lots: Callable[[StoreOrder], int | None],
) -> bool:
    """Open in all three, with the same open lots."""
    return (
        engine is not None
        and store is not None
        and hold is not None
        and engine.open_lots == lots(store) == hold.open_lots
    )


def _changed_or_young(
    facts: OrderFacts, order_id: str, symbol: str, cutoff: datetime, cutoff_ns: int
) -> bool:
    seq = facts.seqs.get(symbol, 0)
    row = facts.store_rows.get(order_id) or facts.store_open.get(order_id)
    hold = facts.ledger_rows.get(order_id) or facts.ledger_open.get(order_id)
    return (
        order_id in facts.changed_after
        or (row is not None and (row.last_seq > seq or row.created_ns >= cutoff_ns))
        or (hold is not None and hold.created_at >= cutoff)
    )


def _order_kind(in_engine: bool, in_store: bool, held: bool) -> OrderDriftKind:
    if not held:
        return OrderDriftKind.ORDER_WITHOUT_HOLD
    if not in_engine and not in_store:
        return OrderDriftKind.HOLD_WITHOUT_ORDER
    if not in_engine:
        return OrderDriftKind.NOT_IN_ENGINE
    if not in_store:
        return OrderDriftKind.NOT_IN_STORE
    return OrderDriftKind.OPEN_QTY_MISMATCH


@dataclass(frozen=True)
class TradeComparison:
    compared: int
    in_flight: int
    drifted: tuple[TradeDrift, ...]


def compare_trades(
    symbol: str,
    *,
    trades: Mapping[int, int],
    settled: Mapping[int, datetime],
    progress: Progress,
    cutoff: datetime,
    trade_exists: Callable[[int], bool],
) -> TradeComparison:
    """One symbol's trades (seq -> event time, ns) against its settled trades (seq -> settled
    at), both over the same window; ``trade_exists`` looks up, in the trades table, a settled
    trade the window lacks (it may be older than the window's first trade)."""
    cutoff_ns = epoch_ns(cutoff)
    in_flight = 0
    drifted: list[TradeDrift] = []
    for seq in sorted(set(trades) - set(settled)):
        if seq > progress.settled or trades[seq] >= cutoff_ns:
            in_flight += 1
        else:
            drifted.append(TradeDrift(TradeDriftKind.NOT_SETTLED, symbol, seq))
    for seq in sorted(set(settled) - set(trades)):
        if seq > progress.recorded or settled[seq] >= cutoff:
            in_flight += 1
        elif not trade_exists(seq):
            drifted.append(TradeDrift(TradeDriftKind.NO_TRADE, symbol, seq))
    return TradeComparison(len(set(trades) | set(settled)), in_flight, tuple(drifted))
