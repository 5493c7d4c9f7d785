"""The ``balances`` channel: pushed after settlement, deposits and withdrawals change an account,
to that account's subscribers only, as ``GET /v1/balances`` shows them; a failed push never fails
the money path."""

import json
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

import msgspec

from exchange.domain import Event, OrderAccepted, Side, Trade
from exchange.journal.batch import consume
from exchange.ledger.accounts import AccountService
from exchange.ledger.model import Balance, DepositNotice, KycStatus
from exchange.ledger.payouts_port import DestinationKind, NewDestination
from exchange.realtime.balances import (
    BalancesFeed,
    BalancesLedger,
    BalancesSettlement,
    accounts_moved,
)
from exchange.realtime.fanout import Broadcaster
from exchange.testing.ledger import InMemoryLedger
from exchange.testing.stores import InMemorySender
from tests.unit.realtime.helpers import World
from tests.unit.streams.helpers import CATALOG, busy_market, records


class SettlingLedger(InMemoryLedger):
    """Settles nothing itself: it notes each batch and what was read after it."""

    def __init__(self) -> None:
        super().__init__(CATALOG)
        self.calls: list[str] = []

    def apply_events(self, events: Sequence[Event]) -> list[bool]:
        self.calls.append(f"apply {events[0].seq}-{events[-1].seq}")
        return [True] * len(events)

    def balances(self, account_id: str) -> list[Balance]:
        self.calls.append(f"read {account_id}")
        return super().balances(account_id)


def subscribed(*pairs: tuple[str, str]) -> World:
    world = World()
    for connection_id, account in pairs:
        world.connect(connection_id, account)
        world.send(connection_id, {"action": "subscribe", "channel": "balances"})
    world.sender.sent.clear()
    return world


def feed(
    world: World, ledger: InMemoryLedger, sender: InMemorySender | None = None
) -> BalancesFeed:
    broadcaster = Broadcaster(world.connections, sender or world.sender)
    return BalancesFeed(ledger.balances, broadcaster, clock=lambda: 77)


def test_settlement_pushes_to_the_accounts_its_record_changed_after_applying_it() -> None:
    # Given carol (twice) and erin subscribed, and carol holding USD
    world = subscribed(("carol-1", "carol"), ("carol-2", "carol"), ("erin-1", "erin"))
    ledger = SettlingLedger()
    ledger.open_account("carol", kyc_status=KycStatus.VERIFIED)
    ledger.available[("carol", "USD")] = Decimal("1000.5")
    sink = BalancesSettlement(ledger, world.cursors, balances=feed(world, ledger))
    # When settlement consumes the busy market (carol trades in its third record)
    for record in records(busy_market().events, 3):
        consume(sink, record, {})
    # Then carol's connections got her balances, each after a record was applied, erin nothing
    frames = [json.loads(data) for data in world.sender.frames("carol-1")]
    assert frames
    assert frames == [json.loads(d) for d in world.sender.frames("carol-2")]
    assert frames[0] == {
        "type": "balances",
        "channel": "balances",
        "balances": [{"asset": "USD", "available": "1000.5", "held": "0", "total": "1000.5"}],
        "ts": 77,
    }
    assert world.received("erin-1") == []
    # And only subscribed accounts were read, each read after the record's transaction
    reads = [call for call in ledger.calls if call.startswith("read")]
    assert set(reads) == {"read carol"}
    assert ledger.calls[0].startswith("apply")


def test_the_accounts_a_record_changes_are_traders_resized_holds_and_new_orders() -> None:
    market = busy_market()
    # In event order, once each: alice, bob, carol and dave each placed an order (its hold was
    # taken at placement, so their balances show it when the engine accepts), then traded.
    assert accounts_moved(market.events) == ["alice", "bob", "carol", "dave"]
    accepted = [e for e in market.events if isinstance(e, OrderAccepted)]
    assert accounts_moved(accepted) == ["alice", "bob", "carol", "dave"]
    assert accounts_moved(accepted[-1:]) == ["carol"]
    (first, *_) = [e for e in market.events if isinstance(e, Trade)]
    assert accounts_moved([first]) == [first.maker_account_id, first.taker_account_id]


def test_a_failed_push_never_fails_settlement() -> None:
    world = subscribed(("carol-1", "carol"))

    class Down(InMemorySender):
        def send(self, connection_id: str, data: bytes) -> bool:
            raise ConnectionError("Management API unreachable")

    ledger = SettlingLedger()
    sink = BalancesSettlement(ledger, world.cursors, balances=feed(world, ledger, Down()))
    market = busy_market()
    for record in records(market.events, 3):
        consume(sink, record, {})
    assert world.cursors.get("settlement", "BTC-USD") == len(market.events)


def balances_of(world: World, connection_id: str) -> list[list[dict[str, str]]]:
    return [json.loads(data)["balances"] for data in world.sender.frames(connection_id)]


def test_a_credited_deposit_and_a_withdrawal_hold_are_pushed_to_the_account() -> None:
    # Given ann subscribed, and a ledger wrapped to push
    world = subscribed(("ann-1", "ann"), ("bob-1", "bob"))
    inner = InMemoryLedger(CATALOG)
    inner.open_account("ann", kyc_status=KycStatus.VERIFIED)
    inner.add_destination(
        NewDestination("dst-1", "ann", "USD", DestinationKind.BANK, "GB82WEST1234", "bank"),
        delay=timedelta(0),
    )
    ledger = BalancesLedger(inner, feed(world, inner))
    # When a deposit is credited, then she asks to withdraw part of it
    ledger.credit_deposit(
        DepositNotice("ev-1", "dep-1", "ann", "USD", Decimal("250.00"), "CREDITED", 0)
    )
    AccountService(ledger=ledger, directory=inner).withdraw(
        "ann", asset="USD", amount="100", destination_id="dst-1", idempotency_key="k1"
    )
    # Then she got the balances after each, as REST shows them; bob got nothing
    assert balances_of(world, "ann-1") == [
        [{"asset": "USD", "available": "250", "held": "0", "total": "250"}],
        [{"asset": "USD", "available": "150", "held": "100", "total": "250"}],
    ]
    assert world.received("bob-1") == []


def test_an_account_without_subscribers_is_not_read_and_a_failed_deposit_pushes_nothing() -> None:
    world = subscribed(("ann-1", "ann"))
    ledger = SettlingLedger()
    ledger.open_account("ann", kyc_status=KycStatus.VERIFIED)
    ledger.open_account("zoe", kyc_status=KycStatus.VERIFIED)
    wrapped = BalancesLedger(ledger, feed(world, ledger))
    wrapped.credit_deposit(DepositNotice("e1", "d1", "zoe", "USD", Decimal("5"), "CREDITED", 0))
    wrapped.credit_deposit(DepositNotice("e2", "d2", "ann", "USD", Decimal("5"), "FAILED", 0))
    assert ledger.calls == []
    assert world.received("ann-1") == []


def test_a_buy_order_hold_is_pushed_when_the_orders_ledger_is_wrapped() -> None:
    world = subscribed(("ann-1", "ann"))
    inner = InMemoryLedger(CATALOG)
    inner.open_account("ann", kyc_status=KycStatus.VERIFIED)
    inner.available[("ann", "USD")] = Decimal("1000")
    buy = busy_market().orders["o3"]
    assert buy.side is Side.BUY
    order = msgspec.structs.replace(buy, account_id="ann", qty=100)  # 0.01 BTC at 65,010
    BalancesLedger(inner, feed(world, inner)).reserve(order)
    ((usd,),) = balances_of(world, "ann-1")
    assert Decimal(usd["held"]) > 0
    assert Decimal(usd["total"]) == Decimal("1000")
