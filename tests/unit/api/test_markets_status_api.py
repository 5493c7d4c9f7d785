"""GET /v1/markets: each symbol's trading status and listing version, from the live catalog; a
symbol an operator lists at run time appears without a deployment."""

from decimal import Decimal

import pytest

from exchange.domain import AssetClass, InstrumentCatalog, InstrumentStatus
from exchange.instruments.live import LiveCatalog
from exchange.instruments.store import InMemoryInstrumentStore
from exchange.messaging import ShardMap
from tests.unit.api.conftest import Exchange, make_exchange

DEMO = InstrumentCatalog.demo()
ACME = DEMO.get("BTC-USD").model_copy(
    update={"symbol": "ACME-USD", "base": "ACME", "tick_size": Decimal("0.01"),
            "lot_size": Decimal("1"), "min_qty": Decimal("1"), "max_qty": Decimal("100000"),
            "reference_price": Decimal("50"), "band_min_qty": None, "max_price": Decimal("5000"),
            "asset_class": AssetClass.EQUITY, "status": InstrumentStatus.HALTED}
)  # fmt: skip


@pytest.fixture
def store() -> InMemoryInstrumentStore:
    store = InMemoryInstrumentStore(clock=lambda: 1)
    store.seed(DEMO, ShardMap.demo(), now_ns=1)
    return store


@pytest.fixture
def live(store: InMemoryInstrumentStore) -> Exchange:
    return make_exchange(catalog=LiveCatalog(store, DEMO, shards=ShardMap.demo(), ttl_s=0))


def markets(exchange: Exchange) -> dict[str, dict[str, object]]:
    reply = exchange.call("GET", "/v1/markets")
    assert reply.status == 200
    symbols = [item["symbol"] for item in reply.body["markets"]]
    assert symbols == sorted(symbols)
    return {item["symbol"]: item for item in reply.body["markets"]}


def test_each_market_shows_its_status_version_and_asset_class(
    live: Exchange, store: InMemoryInstrumentStore
) -> None:
    # Given the engine halted SOL-USD (the recorder wrote it to the store)
    store.set_status("SOL-USD", InstrumentStatus.HALTED, 17)
    # When anyone lists the markets
    shown = markets(live)
    # Then each carries its status and its listing's version (the seed is version 1)
    assert {s: (m["status"], m["version"]) for s, m in shown.items()} == {
        "BTC-USD": ("TRADING", 1),
        "ETH-USD": ("TRADING", 1),
        "SOL-USD": ("HALTED", 1),
    }
    assert shown["BTC-USD"]["asset_class"] == "CRYPTO"


def test_a_market_listed_or_changed_at_run_time_is_served_at_once(
    live: Exchange, store: InMemoryInstrumentStore
) -> None:
    # Given an operator listed ACME-USD (an equity, first status HALTED) and raised BTC's fee
    store.put(ACME, shard="s1", version=1, actor="olga", reason="IPO")
    store.put(DEMO.get("BTC-USD").model_copy(update={"taker_fee_bps": 8}), shard="s1",
              version=2, actor="olga", reason="fees")  # fmt: skip
    # When anyone lists the markets
    shown = markets(live)
    # Then the new market is there, and the change shows its version and terms
    acme = shown["ACME-USD"]
    assert (acme["status"], acme["version"], acme["asset_class"]) == ("HALTED", 1, "EQUITY")
    assert (acme["lot_size"], acme["tick_size"]) == ("1", "0.01")
    assert (shown["BTC-USD"]["version"], shown["BTC-USD"]["taker_fee_bps"]) == (2, 8)
    # And its other reads know it, and its base asset is listed with it
    assert live.call("GET", "/v1/markets/ACME-USD/trades").status == 200
    assets = {a["asset"]: a for a in live.call("GET", "/v1/assets").body["assets"]}
    assert assets["ACME"]["markets"] == ["ACME-USD"]


def test_a_static_catalog_serves_version_0_at_the_files_status() -> None:
    shown = markets(make_exchange())
    assert {(m["status"], m["version"]) for m in shown.values()} == {("TRADING", 0)}
