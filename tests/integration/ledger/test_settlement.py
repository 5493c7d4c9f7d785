"""Settlement of engine events against the real PostgreSQL: trades, cancels, expiries, amends."""

from decimal import Decimal

import pytest
from psycopg_pool import ConnectionPool

from exchange.domain import (
    CancelReason,
    ExpireReason,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    RejectReason,
    Side,
)
from exchange.ledger import Balance, LedgerInconsistency, UnknownReservation
from exchange.ledger.postgres import PostgresLedger
from tests.unit.ledger.helpers import amend, next_seq, order, trade, verified_account


def balances(ledger: PostgresLedger, account_id: str) -> dict[str, tuple[Decimal, Decimal]]:
    return {b.asset: (b.available, b.held) for b in ledger.balances(account_id)}


def snapshot(pool: ConnectionPool) -> tuple[object, ...]:
    """Everything settlement writes: balances, holds and the journal's size."""
    with pool.connection() as conn:
        return (
            conn.execute(
                "SELECT account_id, asset, available, held FROM ledger.balances ORDER BY 1, 2"
            ).fetchall(),
            conn.execute(
                "SELECT order_id, open_lots, held, fee_charged FROM ledger.reservations ORDER BY 1"
            ).fetchall(),
            conn.execute("SELECT count(*) FROM ledger.journal_entries").fetchone(),
        )


def test_trade_at_a_better_price_moves_assets_charges_fees_and_releases_excess(
    ledger: PostgresLedger,
) -> None:
    # Given a resting sell of 0.5 BTC at 1,000.00 and a buy of 0.5 BTC up to 1,100.00
    seller = verified_account(ledger, BTC="1")
    buyer = verified_account(ledger, USD="1000")
    sell = order(seller, Side.SELL, qty=5000, price=100000)
    buy = order(buyer, Side.BUY, qty=5000, price=110000)
    ledger.reserve(sell)
    assert ledger.reserve(buy).held == Decimal("550.275")
    # When they trade in full at the maker's 1,000.00
    assert ledger.apply_event(trade(sell, buy, price=100000, qty=5000))
    # Then the buyer paid 500 + 0.25 taker fee and got the rest of the hold back
    assert balances(ledger, buyer) == {
        "BTC": (Decimal("0.5"), Decimal("0")),
        "USD": (Decimal("499.75"), Decimal("0")),
    }
    # And the seller got 500 less the 0.10 maker fee; the fee account has both fees
    assert balances(ledger, seller) == {
        "BTC": (Decimal("0.5"), Decimal("0")),
        "USD": (Decimal("499.9"), Decimal("0")),
    }
    assert ledger.balances(ledger.fee_account_id) == [Balance("USD", Decimal("0.35"), Decimal("0"))]


def test_replaying_a_settlement_changes_nothing(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    # Given a settled partial fill
    seller = verified_account(ledger, BTC="1")
    buyer = verified_account(ledger, USD="1000")
    sell = order(seller, Side.SELL, qty=5000, price=100000)
    buy = order(buyer, Side.BUY, qty=2000, price=100000)
    ledger.reserve(sell)
    ledger.reserve(buy)
    fill = trade(sell, buy, price=100000, qty=1000)
    assert ledger.apply_event(fill) is True
    before = snapshot(pool)
    # When the same event is delivered twice more
    replays = [ledger.apply_event(fill), ledger.apply_event(fill)]
    # Then nothing changes
    assert replays == [False, False]
    assert snapshot(pool) == before


def test_cancel_and_expiry_release_the_remaining_hold(ledger: PostgresLedger) -> None:
    # Given a buy of 0.3 BTC at 100.00 with 0.1 filled
    seller = verified_account(ledger, BTC="1")
    buyer = verified_account(ledger, USD="100")
    sell = order(seller, Side.SELL, qty=1000, price=10000)
    buy = order(buyer, Side.BUY, qty=3000, price=10000)
    ledger.reserve(sell)
    ledger.reserve(buy)
    ledger.apply_event(trade(sell, buy, price=10000, qty=1000))
    # When the buy's remainder expires and the sell's is cancelled (twice delivered)
    expired = OrderExpired(
        symbol="BTC-USD",
        ts=1,
        seq=next_seq(),
        order_id=buy.order_id,
        account_id=buyer,
        expired_qty=2000,
        reason=ExpireReason.IOC_REMAINDER,
    )
    assert ledger.apply_event(expired)
    assert not ledger.apply_event(expired)
    # Then the buyer holds nothing, and paid exactly 10 + ceil(5 bps of 10) = 10.005
    assert balances(ledger, buyer) == {
        "BTC": (Decimal("0.1"), Decimal("0")),
        "USD": (Decimal("89.995"), Decimal("0")),
    }
    # And cancelling more than is open is an inconsistency, which writes nothing
    cancel = OrderCancelled(
        symbol="BTC-USD",
        ts=1,
        seq=next_seq(),
        order_id=buy.order_id,
        account_id=buyer,
        cancelled_qty=1,
        reason=CancelReason.USER_REQUESTED,
    )
    with pytest.raises(LedgerInconsistency, match="open quantity would be -1"):
        ledger.apply_event(cancel)


def test_amend_up_is_paid_from_its_reserved_increase_and_amend_down_releases(
    ledger: PostgresLedger,
) -> None:
    # Given a buy of 1 BTC at 100.00 (hold 100.05)
    buyer = verified_account(ledger, USD="500")
    buy = order(buyer, Side.BUY, qty=10_000, price=10000)
    ledger.reserve(buy)

    def amended(command_id: str, price: int, qty: int) -> OrderAmended:
        return OrderAmended(
            symbol="BTC-USD",
            ts=1,
            seq=next_seq(),
            order_id=buy.order_id,
            account_id=buyer,
            command_id=command_id,
            price=price,
            qty=qty,
            open_qty=qty,
        )

    # When it is amended to 2 BTC at 150.00 (its increase reserved first), then down to 0.5 BTC
    assert ledger.reserve_amend(amend(buy, "up", price=15000, qty=20_000)) == Decimal("200.1")
    ledger.apply_event(amended("up", 15000, 20_000))
    after_up = balances(ledger, buyer)["USD"]
    assert ledger.reserve_amend(amend(buy, "down", qty=5000)) == 0
    ledger.apply_event(amended("down", 15000, 5000))
    # Then the hold followed: 300.15, then 75.0375
    assert after_up == (Decimal("199.85"), Decimal("300.15"))
    assert balances(ledger, buyer)["USD"] == (Decimal("424.9625"), Decimal("75.0375"))


def test_amend_up_that_reserved_nothing_is_refused_and_takes_nothing(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    # Given a buy of 1 BTC at 100.00, and an amend to 2 BTC the API never reserved (an old
    # client path, or a bug): settlement must not pay for it out of available
    buyer = verified_account(ledger, USD="500")
    buy = order(buyer, Side.BUY, qty=10_000, price=10000)
    ledger.reserve(buy)
    before = snapshot(pool)
    unreserved = OrderAmended(
        symbol="BTC-USD",
        ts=1,
        seq=next_seq(),
        order_id=buy.order_id,
        account_id=buyer,
        command_id="never-reserved",
        price=10000,
        qty=20_000,
        open_qty=20_000,
    )
    # When the engine's OrderAmended is settled, Then it is an inconsistency and nothing moved
    with pytest.raises(
        LedgerInconsistency, match=r"20000 open lots need 200\.1 USD, 100\.05 is held"
    ):
        ledger.apply_event(unreserved)
    assert snapshot(pool) == before


def test_fill_above_the_protection_price_is_refused_and_moves_nothing(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    # Given a market buy held at its protection price of 1,000.00 and a sell resting at 1,000.01
    seller = verified_account(ledger, BTC="1")
    buyer = verified_account(ledger, USD="1000")
    sell = order(seller, Side.SELL, qty=100, price=100_001)
    buy = order(buyer, Side.BUY, qty=100, protection_price=100_000)
    ledger.reserve(sell)
    ledger.reserve(buy)
    before = snapshot(pool)
    # When a trade above the protection price arrives (the engine must never make one)
    with pytest.raises(LedgerInconsistency, match=r"needs 0\.00010005 USD more than held"):
        ledger.apply_event(trade(sell, buy, price=100_001, qty=100))
    # Then nothing was taken from the buyer's available balance, or anywhere
    assert snapshot(pool) == before
    assert balances(ledger, buyer)["USD"] == (Decimal("989.995"), Decimal("10.005"))


def test_a_rejected_new_order_releases_its_hold(ledger: PostgresLedger) -> None:
    seller = verified_account(ledger, BTC="1")
    sell = order(seller, Side.SELL, qty=5000, price=100000)
    ledger.reserve(sell)
    rejected = OrderRejected(
        symbol="BTC-USD",
        ts=1,
        seq=next_seq(),
        order_id=sell.order_id,
        account_id=seller,
        reason=RejectReason.PRICE_OUT_OF_BAND,
    )
    assert ledger.apply_event(rejected)
    assert balances(ledger, seller) == {"BTC": (Decimal("1"), Decimal("0"))}


def test_trade_for_an_order_without_a_hold_is_refused_and_writes_nothing(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    seller = verified_account(ledger, BTC="1")
    buyer = verified_account(ledger, USD="1000")
    sell = order(seller, Side.SELL, qty=10, price=100000)
    buy = order(buyer, Side.BUY, qty=10, price=100000)
    ledger.reserve(sell)
    before = snapshot(pool)
    fill = trade(sell, buy, price=100000, qty=10)
    with pytest.raises(UnknownReservation, match=buy.order_id):
        ledger.apply_event(fill)
    assert snapshot(pool) == before
    # And once the buy is reserved, the same event settles (it was not marked as applied)
    ledger.reserve(buy)
    assert ledger.apply_event(fill)


def test_maker_rebate_is_paid_by_the_fee_account(ledger: PostgresLedger) -> None:
    # Given SOL-USD: maker -1 bps (rebate), taker 7 bps; a resting buy, an incoming sell
    buyer = verified_account(ledger, USD="1000")
    seller = verified_account(ledger, SOL="100")
    buy = order(buyer, Side.BUY, qty=1000, price=50_000, symbol="SOL-USD")  # 10 SOL at 50.000
    sell = order(seller, Side.SELL, qty=1000, price=50_000, symbol="SOL-USD")
    ledger.reserve(buy)
    ledger.reserve(sell)
    # When they trade: notional 500; taker fee 0.35; maker rebate 0.05
    ledger.apply_event(trade(buy, sell, price=50_000, qty=1000))
    # Then the buyer paid 499.95, the seller got 499.65, the fee account kept 0.30
    assert balances(ledger, buyer)["USD"] == (Decimal("500.05"), Decimal("0"))
    assert balances(ledger, seller)["USD"] == (Decimal("499.65"), Decimal("0"))
    assert ledger.balances(ledger.fee_account_id) == [Balance("USD", Decimal("0.3"), Decimal("0"))]


def test_positions_have_average_cost_and_realized_pnl(ledger: PostgresLedger) -> None:
    # Given a trader who buys 2 BTC at 100.00 then 2 at 200.00, and sells 1 at 300.00 (taker)
    trader = verified_account(ledger, USD="1000")
    other = verified_account(ledger, USD="1000", BTC="10")
    for price, qty, side in ((10000, 20_000, Side.BUY), (20000, 20_000, Side.BUY)):
        maker = order(other, side.opposite, qty=qty, price=price)
        taker = order(trader, side, qty=qty, price=price)
        ledger.reserve(maker)
        ledger.reserve(taker)
        ledger.apply_event(trade(maker, taker, price=price, qty=qty))
    maker = order(other, Side.BUY, qty=10_000, price=30000)
    taker = order(trader, Side.SELL, qty=10_000, price=30000)
    ledger.reserve(maker)
    ledger.reserve(taker)
    ledger.apply_event(trade(maker, taker, price=30000, qty=10_000))
    # When positions are read
    positions = ledger.positions(trader)
    # Then cost includes taker fees: (200.1 + 400.2) / 4 = 150.075; the sale nets 299.85
    (pnl,) = positions.pnl
    assert pnl.quantity == Decimal("3")
    assert pnl.average_cost == Decimal("150.075")
    assert pnl.realized_pnl == Decimal("149.775")
    holdings = {b.asset: b.total for b in positions.holdings}
    assert holdings == {"BTC": Decimal("3"), "USD": Decimal("699.55")}


def test_a_batch_is_applied_in_one_transaction_all_or_nothing(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    # Given two reserved pairs, and a batch of two fills where the second overfills its order
    seller = verified_account(ledger, BTC="1")
    buyer = verified_account(ledger, USD="1000")
    sells = [order(seller, Side.SELL, qty=100, price=100000) for _ in range(2)]
    buys = [order(buyer, Side.BUY, qty=100, price=100000) for _ in range(2)]
    for o in (*sells, *buys):
        ledger.reserve(o)
    good = trade(sells[0], buys[0], price=100000, qty=100)
    bad = trade(sells[1], buys[1], price=100000, qty=101)
    before = snapshot(pool)
    # When the batch is applied, Then it fails and nothing of it is written
    with pytest.raises(LedgerInconsistency, match="fill of 101 lots, open 100"):
        ledger.apply_events([good, bad])
    assert snapshot(pool) == before
    # And a good batch (with a replay and an event that moves no money) applies once
    fixed = trade(sells[1], buys[1], price=100000, qty=100)
    rejected_cancel = OrderRejected(
        symbol="BTC-USD",
        ts=1,
        seq=next_seq(),
        order_id=buys[0].order_id,
        account_id=buyer,
        reason=RejectReason.UNKNOWN_ORDER,
        command_id="cancel-1",
    )
    assert ledger.apply_events([good, fixed, good, rejected_cancel]) == [True, True, False, False]
    assert balances(ledger, buyer)["BTC"] == (Decimal("0.02"), Decimal("0"))


def test_a_cancel_the_engine_answers_unknown_order_releases_a_never_taken_orders_hold(
    ledger: PostgresLedger,
) -> None:
    # Given an order whose publish was ambiguous: it holds funds, the engine never took it, and
    # the API (or the reconciler) published a cancel for its id
    alice = verified_account(ledger, USD="1000")
    placed = order(alice, Side.BUY, qty=1_000, price=10_000)  # 0.1 BTC at 100.00
    ledger.reserve(placed)
    assert balances(ledger, alice)["USD"][1] > 0
    answer = OrderRejected(
        symbol=placed.symbol,
        ts=2,
        seq=next_seq(),
        order_id=placed.order_id,
        account_id=alice,
        reason=RejectReason.UNKNOWN_ORDER,
        command_id="cancel-1",
    )
    # When settlement meets the engine's answer to that cancel (twice: a replay)
    assert ledger.apply_event(answer) is True
    assert ledger.apply_event(answer) is False
    # Then the whole hold is back in available, once
    assert balances(ledger, alice) == {"USD": (Decimal("1000"), Decimal(0))}


def test_unknown_order_answer_for_a_closed_order_moves_nothing(ledger: PostgresLedger) -> None:
    # Given an order the engine filled completely and settlement settled
    alice = verified_account(ledger, USD="1000")
    bob = verified_account(ledger, BTC="1")
    buy = order(alice, Side.BUY, qty=1_000, price=10_000)
    sell = order(bob, Side.SELL, qty=1_000, price=10_000)
    ledger.reserve(buy)
    ledger.reserve(sell)
    ledger.apply_event(trade(sell, buy, price=10_000, qty=1_000))
    before = balances(ledger, alice)
    # When a late cancel of it is answered UNKNOWN_ORDER
    late = OrderRejected(
        symbol=buy.symbol,
        ts=3,
        seq=next_seq(),
        order_id=buy.order_id,
        account_id=alice,
        reason=RejectReason.UNKNOWN_ORDER,
        command_id="cancel-late",
    )
    ledger.apply_event(late)
    # Then nothing moves
    assert balances(ledger, alice) == before
