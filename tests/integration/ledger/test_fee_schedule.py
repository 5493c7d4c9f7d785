"""Fees exact across a change, on the real PostgreSQL: settlement records each listing's fees at
its seq, charges a trade the fees in force at the trade's seq whatever the catalog says when it
settles, and caps each side at what its order was reserved for.

ETH-USD is this module's alone: no other test lists it, so its schedule is only what is here.
"""

from decimal import Decimal

import pytest
from psycopg_pool import ConnectionPool

from exchange.domain import Instrument, InstrumentCatalog, Side
from exchange.domain.events import InstrumentListed
from exchange.instruments.live import LiveCatalog
from exchange.instruments.store import InMemoryInstrumentStore
from exchange.ledger import LedgerInconsistency, UnknownAsset
from exchange.ledger.postgres import PostgresLedger
from exchange.messaging import ShardMap
from tests.integration.ledger.conftest import ledger_as
from tests.integration.ledger.test_conservation import check_books
from tests.unit.ledger.helpers import BTC, order, trade, verified_account

ETH = Instrument(
    symbol="ETH-USD",
    base="ETH",
    quote="USD",
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.001"),
    min_qty=Decimal("0.001"),
    max_qty=Decimal("1000"),
    price_band_pct=Decimal("10"),
    maker_fee_bps=2,
    taker_fee_bps=5,
)
PRICE = 200_000  # 2,000.00
ONE_ETH = 1_000  # lots: a notional of 2,000.00, so 1 bp is 0.20


def with_fees(maker: int, taker: int) -> Instrument:
    return ETH.model_copy(update={"maker_fee_bps": maker, "taker_fee_bps": taker})


def catalog(eth: Instrument) -> InstrumentCatalog:
    return InstrumentCatalog([BTC, eth])


def listed(seq: int, eth: Instrument, version: int, symbol: str = "ETH-USD") -> InstrumentListed:
    return InstrumentListed(
        symbol=symbol,
        ts=1,
        seq=seq,
        command_id=f"list:ETH-USD:{version}",
        instrument=eth.model_dump_json(),
        version=version,
        actor="op-alice",
    )


def fees_of(pool: ConnectionPool, seq: int) -> tuple[Decimal, Decimal]:
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT maker_fee, taker_fee FROM ledger.settled_trades "
            "WHERE symbol = 'ETH-USD' AND seq = %s",
            (seq,),
        ).fetchone()
    assert row is not None
    maker, taker = row
    assert isinstance(maker, Decimal)
    assert isinstance(taker, Decimal)
    return maker.normalize(), taker.normalize()


def test_a_trade_pays_the_fees_in_force_at_its_seq_capped_at_its_reservation(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    fee_account = ledger.fee_account_id
    before = ledger_as(pool, fee_account, catalog(ETH))  # the catalog as orders were placed
    seller = verified_account(before, ETH="10")
    buyer = verified_account(before, USD="100000")

    def cross(placed_by: PostgresLedger, settled_by: PostgresLedger, seq: int) -> None:
        """A resting sell (maker) and a buy that takes it (taker), 1 ETH at 2,000.00."""
        sell = order(seller, Side.SELL, qty=ONE_ETH, price=PRICE, symbol="ETH-USD")
        buy = order(buyer, Side.BUY, qty=ONE_ETH, price=PRICE, symbol="ETH-USD")
        placed_by.reserve(sell)
        placed_by.reserve(buy)
        assert settled_by.apply_event(trade(sell, buy, price=PRICE, qty=ONE_ETH, seq=seq))

    # Given a trade before any listing: the catalog's fees (maker 2, taker 5 bps)
    cross(before, before, 100)
    # When an operator lists v2 (maker 2, taker 5) at seq 200 and v3 (maker 1, taker 10) at 300
    new = with_fees(1, 10)
    after = ledger_as(pool, fee_account, catalog(new))  # the catalog once it changed
    assert after.apply_events([listed(200, ETH, 2), listed(300, new, 3)]) == [True, True]
    assert after.apply_event(listed(300, new, 3)) is False  # a replay records nothing
    # Then a trade between them, settled after both and with the new catalog, pays v2's fees
    cross(before, after, 250)
    # And one after v3 pays v3's maker fee, but its taker (reserved for 5 bps) pays 5, not 10
    cross(before, after, 350)
    # And orders placed under v3 pay v3's fees in full
    cross(after, after, 400)
    assert [fees_of(pool, seq) for seq in (100, 250, 350, 400)] == [
        (Decimal("0.4"), Decimal("1")),
        (Decimal("0.4"), Decimal("1")),
        (Decimal("0.2"), Decimal("1")),
        (Decimal("0.2"), Decimal("2")),
    ]
    # And the fee account has exactly those fees; the books balance
    assert [(b.asset, b.available) for b in ledger.balances(fee_account)] == [
        ("USD", Decimal("6.2"))
    ]
    check_books(pool)


def test_a_trade_before_any_journaled_listing_pays_the_fees_first_listed(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    """The store may already hold an operator's fee change (version 2) before the engine
    journals it: a trade from before that listing, settled by a process whose live catalog has
    refreshed, still pays the static file's fees (version 0), not the change's."""
    fee_account = ledger.fee_account_id
    placed = ledger_as(pool, fee_account, catalog(ETH))
    seller = verified_account(placed, ETH="10")
    buyer = verified_account(placed, USD="100000")
    shards = ShardMap({"s1": ["BTC-USD", "ETH-USD"]})
    store = InMemoryInstrumentStore()
    store.seed(catalog(ETH), shards, now_ns=1)
    store.put(with_fees(1, 10), shard="s1", version=2, actor="op-alice", reason="fee change")
    live = LiveCatalog(store, catalog(ETH), shards=shards)
    assert live.get("ETH-USD").taker_fee_bps == 10  # the change is in force in the catalog
    settled_by = ledger_as(pool, fee_account, live)
    sell = order(seller, Side.SELL, qty=ONE_ETH, price=PRICE, symbol="ETH-USD")
    buy = order(buyer, Side.BUY, qty=ONE_ETH, price=PRICE, symbol="ETH-USD")
    placed.reserve(sell)
    placed.reserve(buy)
    # seq 50: before every listing this module journals (200, 300), so no schedule row applies
    assert settled_by.apply_event(trade(sell, buy, price=PRICE, qty=ONE_ETH, seq=50))
    assert fees_of(pool, 50) == (Decimal("0.4"), Decimal("1"))  # maker 2 bps, taker 5 bps
    check_books(pool)


def test_an_uncapped_fee_rise_would_need_more_than_the_buyer_holds(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    """What the cap prevents: without it, v3's 10 bps on an order held for 5 bps is refused."""
    placed = ledger_as(pool, ledger.fee_account_id, catalog(ETH))
    seller = verified_account(placed, ETH="1")
    buyer = verified_account(placed, USD="2001")  # exactly 2,000.00 + 5 bps
    sell = order(seller, Side.SELL, qty=ONE_ETH, price=PRICE, symbol="ETH-USD")
    buy = order(buyer, Side.BUY, qty=ONE_ETH, price=PRICE, symbol="ETH-USD")
    placed.reserve(sell)
    assert placed.reserve(buy).held == Decimal("2001")
    assert placed.reserve(buy).max_fee_bps == 5
    # The schedule (test above) has v3, 10 bps taker, from seq 300: the cap keeps it at 5
    settlement = ledger_as(pool, ledger.fee_account_id, catalog(with_fees(1, 10)))
    assert settlement.apply_event(trade(sell, buy, price=PRICE, qty=ONE_ETH, seq=500))
    assert [(b.asset, b.available, b.held) for b in ledger.balances(buyer)] == [
        ("ETH", Decimal(1), Decimal(0)),
        ("USD", Decimal(0), Decimal(0)),
    ]
    check_books(pool)


def test_a_listing_the_ledger_cannot_hold_is_refused(ledger: PostgresLedger) -> None:
    odd = ETH.model_copy(update={"symbol": "ETH-XYZ", "quote": "XYZ"})
    with pytest.raises(UnknownAsset, match="XYZ"):
        ledger.apply_event(listed(1, odd, 1, symbol="ETH-XYZ"))
    mismatched = listed(600, BTC.model_copy(), 2)
    with pytest.raises(LedgerInconsistency, match="lists instrument BTC-USD"):
        ledger.apply_event(mismatched)
