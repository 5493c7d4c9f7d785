"""What each party says (the engine's snapshot, the order store), what differs, and the report.

The ledger's own rows (``HoldRow``, ``AssetTotals``) come from ``exchange.ledger.postgres
.audit_reads``, which reads them.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from exchange.domain.enums import InstrumentStatus, OrderStatus
from exchange.domain.numbers import plain
from exchange.ledger.postgres.audit_reads import AssetTotals


class Check(StrEnum):
    """The reconciliation's checks: the ``check`` dimension of ``ReconciliationDrift``."""

    # Each shard's newest snapshot was read and verified: one that no store could give (a store
    # failed, or its copy did not verify) leaves open_orders blind on that shard.
    SNAPSHOTS = "snapshots"
    OPEN_ORDERS = "open_orders"  # engine vs order store vs ledger holds, by order id
    SOLVENCY = "solvency"  # per asset: balances vs deposits minus withdrawals
    SETTLEMENT = "settlement"  # trades table vs the ledger's settled trades, by (symbol, seq)


@dataclass(frozen=True, slots=True)
class EngineOrder:
    """An order open in the engine (resting, or a held stop), as its snapshot says."""

    order_id: str
    account_id: str
    symbol: str
    open_lots: int


@dataclass(frozen=True)
class ShardBooks:
    """One shard as its newest trustworthy snapshot says. ``source`` None: no store had one (its
    symbols then count as empty books at seq 0)."""

    shard: str
    source: str | None
    seqs: Mapping[str, int] = field(default_factory=dict)
    orders: tuple[EngineOrder, ...] = ()
    statuses: Mapping[str, InstrumentStatus] = field(default_factory=dict)
    lot_sizes: Mapping[str, Decimal] = field(default_factory=dict)  # of the instruments it carries
    taken: datetime | None = None  # when it was taken, when the store says
    problems: tuple[str, ...] = ()  # why a store's copy was not used (unavailable, refused)


@dataclass(frozen=True, slots=True)
class StoreOrder:
    """An order row of the orders table (open, or looked up by key whatever its status)."""

    order_id: str
    account_id: str
    symbol: str
    status: str
    open_qty: Decimal  # in the base asset, as the row writes it
    created_ns: int  # when the API recorded it (wall clock)
    last_seq: int  # the engine seq of the last event the recorder applied to it (0: none)

    @property
    def is_open(self) -> bool:
        return OrderStatus(self.status).is_open


@dataclass(frozen=True, slots=True)
class Progress:
    """How far each journal consumer has applied a symbol: the order store (the recorder's audit
    chain head) and the ledger (settlement's cursor)."""

    recorded: int
    settled: int


class OrderDriftKind(StrEnum):
    HOLD_WITHOUT_ORDER = (
        "hold_without_order"  # held in the ledger; open in neither engine nor store
    )
    ORDER_WITHOUT_HOLD = "order_without_hold"  # open in the engine or the store; nothing held
    NOT_IN_ENGINE = "not_in_engine"  # open in the store and held, but not in the engine
    NOT_IN_STORE = "not_in_store"  # open in the engine and held, but not open in the store
    OPEN_QTY_MISMATCH = "open_qty_mismatch"  # open in all three; the open lots differ


@dataclass(frozen=True, slots=True)
class OrderDrift:
    """One order the three parties disagree on; each side's open lots (None: not open there)."""

    kind: OrderDriftKind
    order_id: str
    account_id: str
    symbol: str
    engine_lots: int | None
    store_lots: int | None
    ledger_lots: int | None
    detail: str = ""


class TradeDriftKind(StrEnum):
    NOT_SETTLED = "trade_not_settled"  # a fill in the trades table the ledger never settled
    NO_TRADE = "settled_without_trade"  # a settled trade the trades table lacks


@dataclass(frozen=True, slots=True)
class TradeDrift:
    kind: TradeDriftKind
    symbol: str
    seq: int


@dataclass(frozen=True)
class OrdersResult:
    compared: int = 0  # order ids open anywhere
    in_flight: int = 0  # of those, differences not (yet) drift
    drifted: tuple[OrderDrift, ...] = ()
    # Symbols a consumer has not caught up with the snapshot on: their differences are in flight.
    lagging: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class SettlementResult:
    compared: int = 0  # distinct (symbol, seq) in the window
    in_flight: int = 0
    drifted: tuple[TradeDrift, ...] = ()
    window_from: Mapping[str, int | None] = field(default_factory=dict)  # per symbol: first seq


@dataclass(frozen=True)
class ReconciliationReport:
    run_at: datetime
    duration_ms: float
    grace_seconds: int
    snapshots: tuple[ShardBooks, ...]
    orders: OrdersResult
    assets: tuple[AssetTotals, ...]
    settlement: SettlementResult
    location: str | None = None  # where the report was written (s3://bucket/key)

    @property
    def insolvent(self) -> tuple[AssetTotals, ...]:
        return tuple(totals for totals in self.assets if totals.difference != 0)

    @property
    def unreadable(self) -> tuple[ShardBooks, ...]:
        """The shards whose snapshot could not be used because a store failed or refused it (a
        shard that never snapshotted, no store failing, has nothing open to compare: not these).
        Their open orders were compared with empty books, so drift there went unseen."""
        return tuple(books for books in self.snapshots if books.source is None and books.problems)

    def drift(self) -> dict[Check, int]:
        """Drifted items per check (0 when clean)."""
        return {
            Check.SNAPSHOTS: len(self.unreadable),
            Check.OPEN_ORDERS: len(self.orders.drifted),
            Check.SOLVENCY: len(self.insolvent),
            Check.SETTLEMENT: len(self.settlement.drifted),
        }

    @property
    def clean(self) -> bool:
        return not any(self.drift().values())

    def summary(self) -> dict[str, Any]:
        """What the scheduled function returns: the counts and where the report is."""
        return {
            "clean": self.clean,
            "drift": {check.value: count for check, count in self.drift().items()},
            "report": self.location,
        }

    def as_dict(self) -> dict[str, Any]:
        """The JSON report; amounts as exact decimal strings, times as ISO-8601 UTC."""
        return {
            "run_at": self.run_at.isoformat(),
            "duration_ms": round(self.duration_ms, 1),
            "grace_seconds": self.grace_seconds,
            "clean": self.clean,
            "drift": {check.value: count for check, count in self.drift().items()},
            "snapshots": [_shard(books) for books in self.snapshots],
            "checks": {
                Check.SNAPSHOTS.value: {
                    "read": sum(1 for books in self.snapshots if books.source is not None),
                    "drifted": [
                        {"shard": books.shard, "problems": list(books.problems)}
                        for books in self.unreadable
                    ],
                },
                Check.OPEN_ORDERS.value: {
                    "compared": self.orders.compared,
                    "in_flight": self.orders.in_flight,
                    "lagging": {s: dict(p) for s, p in self.orders.lagging.items()},
                    "drifted": [_order(drift) for drift in self.orders.drifted],
                },
                Check.SOLVENCY.value: {
                    "assets": [_asset(totals) for totals in self.assets],
                    "drifted": [_asset(totals) for totals in self.insolvent],
                },
                Check.SETTLEMENT.value: {
                    "compared": self.settlement.compared,
                    "in_flight": self.settlement.in_flight,
                    "window_from_seq": dict(self.settlement.window_from),
                    "drifted": [
                        {"kind": d.kind.value, "symbol": d.symbol, "seq": d.seq}
                        for d in self.settlement.drifted
                    ],
                },
            },
        }


def _shard(books: ShardBooks) -> dict[str, Any]:
    return {
        "shard": books.shard,
        "source": books.source,
        "taken_at": None if books.taken is None else books.taken.isoformat(),
        "seqs": dict(books.seqs),
        "open_orders": len(books.orders),
        "statuses": {symbol: status.value for symbol, status in books.statuses.items()},
        "problems": list(books.problems),
    }


def _order(drift: OrderDrift) -> dict[str, Any]:
    return {
        "kind": drift.kind.value,
        "order_id": drift.order_id,
        "account_id": drift.account_id,
        "symbol": drift.symbol,
        "engine_lots": drift.engine_lots,
        "store_lots": drift.store_lots,
        "ledger_lots": drift.ledger_lots,
        **({"detail": drift.detail} if drift.detail else {}),
    }


def _asset(totals: AssetTotals) -> dict[str, str]:
    return {
        "asset": totals.asset,
        "balances": _amount(totals.balances),
        "deposits": _amount(totals.deposits),
        "withdrawals": _amount(totals.withdrawals),
        "expected": _amount(totals.expected),
        "difference": _amount(totals.difference),
    }


def _amount(value: Decimal) -> str:
    """Exact, without NUMERIC(38,18)'s trailing zeros: ``100.500000000000000000`` -> ``100.5``."""
    return plain(value.normalize())
