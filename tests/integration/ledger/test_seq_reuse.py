"""A seq is never reused silently, on the real PostgreSQL: the ledger is idempotent on
``(symbol, seq)``, and a claim that finds the seq taken by another event (a failover's DR engine
reusing seqs the primary's events had taken) raises ``SeqReused`` and changes nothing, where it
used to be skipped as a replay. A replay of the very event stays a silent no-op."""

from decimal import Decimal

import msgspec
import pytest
from psycopg_pool import ConnectionPool

from exchange.domain import CancelReason, OrderCancelled, Side
from exchange.journal.batch import consume
from exchange.journal.cursors import Cursor
from exchange.journal.epochs import SeqReused
from exchange.ledger.consumer import REFUSED, Settlement
from exchange.ledger.postgres import PostgresLedger
from exchange.testing.stores import InMemoryCursorStore, InMemoryQuarantineStore
from exchange.wire import JournalRecord
from tests.integration.ledger.test_settlement import snapshot
from tests.unit.ledger.helpers import next_seq, order, trade, verified_account


def settled(pool: ConnectionPool, symbol: str, seq: int) -> list[tuple[object, ...]]:
    """What the ledger holds at (symbol, seq), in each of its claim tables."""
    with pool.connection() as conn:
        return conn.execute(
            "SELECT 'trade', maker_order_id, taker_order_id, price_ticks, qty_lots "
            "FROM ledger.settled_trades WHERE symbol = %(s)s AND seq = %(q)s UNION ALL "
            "SELECT 'event', kind, order_id, NULL, NULL FROM ledger.applied_events "
            "WHERE symbol = %(s)s AND seq = %(q)s",
            {"s": symbol, "q": seq},
        ).fetchall()


def cancel(account_id: str, order_id: str, seq: int, qty: int) -> OrderCancelled:
    return OrderCancelled(
        symbol="BTC-USD",
        ts=1,
        seq=seq,
        order_id=order_id,
        account_id=account_id,
        cancelled_qty=qty,
        reason=CancelReason.USER_REQUESTED,
    )


def test_another_trade_at_a_settled_seq_raises_and_the_same_trade_is_a_no_op(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    # Given resting orders, and a trade settled at (BTC-USD, s) (s is this test's "seq 7": the
    # session's database is shared, so each test takes fresh seqs)
    seller = verified_account(ledger, BTC="1")
    buyer = verified_account(ledger, USD="1000")
    sell = order(seller, Side.SELL, qty=5000, price=100000)
    buy = order(buyer, Side.BUY, qty=5000, price=100000)
    ledger.reserve(sell)
    ledger.reserve(buy)
    seq = next_seq()
    first = trade(sell, buy, price=100000, qty=1000, seq=seq)
    assert ledger.apply_event(first) is True
    before, held = snapshot(pool), settled(pool, "BTC-USD", seq)
    # When the DR engine's different trade at the same seq comes (another quantity, and
    # another price)
    for other in (
        msgspec.structs.replace(first, qty=2000),
        msgspec.structs.replace(first, price=99000),
        trade(buy, sell, price=100000, qty=1000, seq=seq),  # maker and taker swapped
    ):
        with pytest.raises(SeqReused) as raised:
            ledger.apply_event(other)
        # Then it is refused, naming the seq, and nothing changed
        assert (raised.value.symbol, raised.value.seqs) == ("BTC-USD", (seq,))
        assert snapshot(pool) == before
        assert settled(pool, "BTC-USD", seq) == held
    # When the same trade comes again (a replay), Then it is a silent no-op
    assert ledger.apply_event(first) is False
    assert ledger.apply_events([first]) == [False]
    assert snapshot(pool) == before


def test_a_seq_taken_by_one_kind_of_event_is_refused_to_another(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    # Given a trade settled at seq t and a cancel applied at seq c
    seller = verified_account(ledger, BTC="1")
    buyer = verified_account(ledger, USD="1000")
    sell = order(seller, Side.SELL, qty=5000, price=100000)
    buy = order(buyer, Side.BUY, qty=5000, price=100000)
    ledger.reserve(sell)
    ledger.reserve(buy)
    fill = trade(sell, buy, price=100000, qty=1000)
    cancelled = cancel(seller, sell.order_id, next_seq(), 1000)
    assert ledger.apply_events([fill, cancelled]) == [True, True]
    before = snapshot(pool)
    # When a cancel comes at the trade's seq, a trade at the cancel's, or a cancel of another
    # order at the cancel's
    for other in (
        cancel(buyer, buy.order_id, fill.seq, 1000),
        msgspec.structs.replace(fill, seq=cancelled.seq),
        cancel(buyer, buy.order_id, cancelled.seq, 1000),
    ):
        # Then each is a reuse, and nothing changed
        with pytest.raises(SeqReused):
            ledger.apply_event(other)
    assert snapshot(pool) == before
    assert settled(pool, "BTC-USD", fill.seq)[0][0] == "trade"
    assert settled(pool, "BTC-USD", cancelled.seq) == [
        ("event", "CANCEL", sell.order_id, None, None)
    ]
    # And the cancel itself, again, is a replay
    assert ledger.apply_event(cancelled) is False


def test_a_reuse_fails_the_whole_record_and_settlement_quarantines_none_of_it(
    ledger: PostgresLedger, pool: ConnectionPool
) -> None:
    # Given a trade settled at seq s, and a settlement cursor that did not replicate that far
    seller = verified_account(ledger, BTC="1")
    buyer = verified_account(ledger, USD="1000")
    sell = order(seller, Side.SELL, qty=5000, price=100000)
    buy = order(buyer, Side.BUY, qty=5000, price=100000)
    ledger.reserve(sell)
    ledger.reserve(buy)
    first = trade(sell, buy, price=100000, qty=1000)
    fresh = trade(sell, buy, price=100000, qty=500)  # the seq after (the session's counter)
    assert fresh.seq == first.seq + 1
    assert ledger.apply_event(first)
    before = snapshot(pool)
    cursors, quarantine = InMemoryCursorStore(), InMemoryQuarantineStore()
    cursors.positions[(Settlement.name, "BTC-USD")] = first.seq - 1
    sink = Settlement(ledger, cursors, quarantine)
    assert not issubclass(SeqReused, REFUSED)  # the quarantine's catch
    # When the DR engine's record comes: another trade at s, and a new one at s + 1
    reused = msgspec.structs.replace(first, qty=3000)
    with pytest.raises(SeqReused):
        consume(sink, JournalRecord.of([reused, fresh], epoch=1), {})
    # Then its one transaction rolled back (the new trade too), nothing is quarantined, the
    # cursor did not move and epoch 1 is refused
    assert snapshot(pool) == before
    assert settled(pool, "BTC-USD", fresh.seq) == []
    assert quarantine.stored == {}
    assert cursors.read(Settlement.name, "BTC-USD") == Cursor(first.seq - 1, (), frozenset({1}))
    # And the new trade alone settles
    assert ledger.apply_event(fresh)
    assert {b.asset: b.available for b in ledger.balances(buyer)}["BTC"] == Decimal("0.15")
