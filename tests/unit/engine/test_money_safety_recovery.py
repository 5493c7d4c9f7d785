"""Snapshot/restore and journal replay keep what the money-safety rules depend on: a held stop's
protection price, the band's reference and the order ids cancelled before their order arrived."""

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from engine_service.core import Engine
from exchange.domain import (
    Command,
    Event,
    ExpireReason,
    OrderAccepted,
    OrderExpired,
    OrderRejected,
    OrderType,
    RejectReason,
    Side,
)
from tests.unit.engine.helpers import SYMBOL, cancel, make_instrument, new

BUY, SELL = Side.BUY, Side.SELL
GUARDED = make_instrument(min_qty=Decimal(1), reference_price=Decimal(100), band_min_qty=Decimal(5))
# A protected buy stop held; an early cancel; a 5-lot trade at 102 that moves the band's
# reference; then a 1-lot trade at 101 that moves only the last price.
SETUP: list[Command] = [
    new(
        "st", BUY, 3, None, order_type=OrderType.STOP, stop_price=103, protection=104, account="a3"
    ),
    cancel("late", command_id="k-late"),
    new("s1", SELL, 5, 102, account="a2"),
    new("b1", BUY, 5, 102),
    new("s2", SELL, 1, 101, account="a2"),
    new("b2", BUY, 1, 101),
]
# Offers up to 106; a trade at 103 releases the stop, which buys up to its 104 and expires the
# rest; the late order arrives; an offer at 112 fits only the band around 102.
LATER: list[Command] = [
    new("a103", SELL, 2, 103, account="mm"),
    new("a104", SELL, 1, 104, account="mm"),
    new("a106", SELL, 5, 106, account="mm"),
    new("b3", BUY, 1, 103, account="a2"),
    new("late", BUY, 2, 100),
    new("s4", SELL, 1, 112, account="a2"),
]


def applied(engine: Engine, commands: list[Command]) -> list[Event]:
    return [event for command in commands for event in engine.apply(command)]


def assert_later_events_hold_the_rules(events: list[Event]) -> None:
    expired = [e for e in events if isinstance(e, OrderExpired)]
    assert [(e.order_id, e.expired_qty, e.reason) for e in expired] == [
        ("st", 1, ExpireReason.PRICE_PROTECTION)
    ]
    refused = [e for e in events if isinstance(e, OrderRejected)]
    assert [(e.order_id, e.reason) for e in refused] == [("late", RejectReason.DUPLICATE_ORDER_ID)]
    assert "cancelled before" in refused[0].detail
    assert "s4" in [e.order_id for e in events if isinstance(e, OrderAccepted)]


def test_snapshot_restore_keeps_protected_stops_the_band_reference_and_early_cancels() -> None:
    # Given the scene set, and the same run uninterrupted
    engine = Engine([GUARDED])
    applied(engine, SETUP)
    straight = Engine([GUARDED])
    expected = applied(straight, SETUP + LATER)
    # When it is snapshotted and restored
    restored = Engine.restore(engine.snapshot(), [GUARDED])
    # Then the band's reference and the last price are as they were
    assert (restored.band_reference(SYMBOL), restored.last_price(SYMBOL)) == (102, 101)
    # And it continues byte for byte as the uninterrupted run, protection and early cancel included
    later = applied(restored, LATER)
    assert later == expected[-len(later) :]
    assert_later_events_hold_the_rules(later)
    assert restored.snapshot() == straight.snapshot()


def test_journal_replay_rebuilds_protected_stops_the_band_reference_and_early_cancels() -> None:
    # Given the journal of the scene
    engine = Engine([GUARDED])
    journal = applied(engine, SETUP)
    # When an empty engine replays it
    rebuilt = Engine([GUARDED])
    rebuilt.replay(journal)
    # Then it stands exactly where the engine does, and goes on the same way
    assert rebuilt.snapshot() == engine.snapshot()
    assert rebuilt.band_reference(SYMBOL) == 102
    later = applied(rebuilt, LATER)
    assert later == applied(engine, LATER)
    assert_later_events_hold_the_rules(later)


@pytest.mark.parametrize("cut", range(len(SETUP + LATER) + 1))
def test_snapshot_at_any_command_then_replay_equals_the_uninterrupted_run(cut: int) -> None:
    commands = SETUP + LATER
    straight = Engine([GUARDED])
    journal = applied(straight, commands)
    before = Engine([GUARDED])
    applied(before, commands[:cut])
    rebuilt = Engine.restore(before.snapshot(), [GUARDED])
    rebuilt.replay(event for event in journal if event.seq > rebuilt.seq(SYMBOL))
    assert rebuilt.snapshot() == straight.snapshot()


def as_version_1(snapshot: bytes) -> bytes:
    """The snapshot as the engine wrote it before version 2: no protection, band reference or
    early cancels, nor version 3's operator state (they are the trailing fields)."""
    version, books = msgspec.msgpack.decode(snapshot)
    assert version == 3

    def order(fields: list[Any]) -> list[Any]:
        return fields[:12]

    old = [
        [*book[:4], [order(o) for o in book[4]], [order(o) for o in book[5]], *book[6:8]]
        for book in books
    ]
    return msgspec.msgpack.encode([1, old])


def test_a_version_1_snapshot_restores_with_its_last_trade_as_the_band_reference() -> None:
    # Given a snapshot written before the band had its own reference
    engine = Engine([GUARDED])
    applied(engine, SETUP)
    old = as_version_1(engine.snapshot())
    # When it is restored
    restored = Engine.restore(old, [GUARDED])
    # Then the band follows its last trade, as it did then; the stop has no protection price of
    # its own (the band still holds it), and the early-cancelled id is still a used id
    assert restored.band_reference(SYMBOL) == restored.last_price(SYMBOL) == 101
    assert [o.protection for o in restored.books[SYMBOL].stops.held()] == [0]
    late = restored.apply(new("late", BUY, 2, 100))
    assert late[0].reason is RejectReason.DUPLICATE_ORDER_ID  # type: ignore[attr-defined]
    assert restored.snapshot() != old  # written back as version 3


def test_a_snapshot_of_an_unknown_version_is_refused() -> None:
    _, books = msgspec.msgpack.decode(Engine([GUARDED]).snapshot())
    with pytest.raises(ValueError, match="snapshot version 4"):
        Engine.restore(msgspec.msgpack.encode([4, books]), [GUARDED])


def test_a_restored_book_that_has_not_traded_enough_takes_a_new_opening_reference() -> None:
    # Given a book whose only trade was too small to move the band
    engine = Engine([GUARDED])
    applied(engine, [new("s1", SELL, 1, 101, account="a2"), new("b1", BUY, 1, 101)])
    # When it is restored after the operator moved the instrument's reference price to 120
    moved = make_instrument(
        min_qty=Decimal(1), reference_price=Decimal(120), band_min_qty=Decimal(5)
    )
    restored = Engine.restore(engine.snapshot(), [moved])
    # Then the band opens around 120: the snapshot holds trades, not the listing's reference
    assert restored.band_reference(SYMBOL) == 120
