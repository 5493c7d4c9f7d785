"""The admin service over in-memory ports: the instruments store (seeded with the demo file)
behind a live catalog, the ledger, the command sink and the audit chains, all writing to one
timeline so a test can tell the order things happened in; a fixed clock and numbered ids."""

import itertools
from dataclasses import dataclass

import pytest

from exchange.admin.audit import AdminAction
from exchange.admin.auth import Operator
from exchange.admin.service import AdminService
from exchange.domain.instruments import InstrumentCatalog
from exchange.instruments.live import LiveCatalog
from exchange.instruments.store import InMemoryInstrumentStore
from exchange.messaging import ShardMap
from exchange.settings import DEFAULT_ASSET_SCALES
from tests.unit.admin.fakes import InMemoryAuditChains, TimedLedger, TimedSink, open_accounts

NOW_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
OLGA = Operator(username="olga", sub="6f1c2a9e-0000-4000-8000-000000000001")
DEMO_SYMBOLS = ["BTC-USD", "ETH-USD", "SOL-USD"]
ACME = {
    "base": "ACME",
    "quote": "USD",
    "tick_size": "0.01",
    "lot_size": "1",
    "min_qty": "1",
    "max_qty": "10000",
    "price_band_pct": "10",
    "reference_price": "25.00",
    "asset_class": "EQUITY",
}


@dataclass
class Admin:
    timeline: list[str]
    store: InMemoryInstrumentStore
    catalog: LiveCatalog
    ledger: TimedLedger
    sink: TimedSink
    audit: InMemoryAuditChains
    service: AdminService

    @staticmethod
    def action(reason: str = "incident 42: erroneous prints") -> AdminAction:
        return AdminAction(OLGA, reason, "req-1")


def make_admin() -> Admin:
    timeline: list[str] = []
    seed = InstrumentCatalog.demo()
    shards = ShardMap({"s1": DEMO_SYMBOLS, "s2": []})
    store = InMemoryInstrumentStore(clock=lambda: NOW_NS)
    store.seed(seed, shards, now_ns=NOW_NS)
    catalog = LiveCatalog(store, seed, shards=shards)
    ledger = TimedLedger(catalog)
    ledger.timeline = timeline
    open_accounts(ledger, "alice", "bob")
    sink = TimedSink(timeline)
    audit = InMemoryAuditChains(timeline)
    ids = itertools.count(1)
    service = AdminService(
        sink=sink,
        ledger=ledger,
        store=store,
        catalog=catalog,
        audit=audit,
        asset_scales=DEFAULT_ASSET_SCALES,
        shard_ids=["s1", "s2"],
        clock_ns=lambda: NOW_NS,
        new_id=lambda: f"adm_{next(ids):04d}",
    )
    return Admin(timeline, store, catalog, ledger, sink, audit, service)


@pytest.fixture
def admin() -> Admin:
    return make_admin()
