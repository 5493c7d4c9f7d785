"""``bulk_exchange``: the unit tests' exchange (``tests.unit.api.conftest``) with the bulk
operations' fakes wired into the orders function, on a fake clock."""

from collections.abc import Callable
from dataclasses import dataclass, replace

from exchange.domain.enums import OrderStatus
from exchange.orders.cancel_after import DeadMansSwitch, SwitchTrigger
from exchange.orders.idempotency import IdempotentRunner
from exchange.orders.mass_cancel import MassCancel
from exchange.orders.service import OrderService
from exchange.testing.fakes import InMemoryOrderStore
from tests.unit.api.conftest import MAKER, Exchange, make_exchange
from tests.unit.orders.fakes import (
    FakeClock,
    InMemoryOrderLookup,
    InMemorySwitchStore,
    InMemoryTimerQueue,
)


@dataclass
class Bulk:
    """The bulk operations' fakes of a ``bulk_exchange``."""

    clock: FakeClock
    lookup: InMemoryOrderLookup
    switches: InMemorySwitchStore
    timers: InMemoryTimerQueue
    trigger: SwitchTrigger


def bulk_exchange(
    *, max_open_orders: int = 200, min_seconds: int = 5, max_seconds: int = 900
) -> tuple[Exchange, Bulk]:
    """``make_exchange``'s fakes with a windowed store, the lookups and the dead man's switch
    wired into the orders function, on a fake clock (each order a millisecond apart)."""
    base = make_exchange(max_open_orders)
    clock = FakeClock()
    store = InMemoryOrderStore()
    lookup = InMemoryOrderLookup(store)
    switches, timers = InMemorySwitchStore(), InMemoryTimerQueue()
    mass_cancel = MassCancel(lookup=lookup, sink=base.sink, limit=max_open_orders, clock=clock.ns)
    trigger = SwitchTrigger(
        switches=switches, mass_cancel=mass_cancel, clock_ms=clock.ms, sleep=clock.sleep
    )
    orders = OrderService(
        instruments=base.catalog,
        store=store,
        keys=base.keys,
        ledger=base.ledger,
        sink=base.sink,
        idempotency=IdempotentRunner(base.idempotency),
        max_open_orders=max_open_orders,
        market_makers=frozenset({MAKER}),
        lookup=lookup,
        cancel_after=DeadMansSwitch(
            switches=switches,
            timers=timers,
            trigger=trigger,
            min_seconds=min_seconds,
            max_seconds=max_seconds,
            clock_ms=clock.ms,
        ),
        clock=_ticking(clock),
    )
    exchange = replace(base, store=store, orders=orders)
    return exchange, Bulk(clock, lookup, switches, timers, trigger)


def _ticking(clock: FakeClock) -> Callable[[], int]:
    """The order logic's clock: each reading a millisecond after the last, so every order gets
    its own millisecond (and the fake clock moves with them)."""

    def now() -> int:
        clock.advance(0.001)
        return clock.ns()

    return now


def finish(exchange: Exchange, account_id: str, order_id: str, status: OrderStatus) -> None:
    """What the recorder does when the engine answers: the order leaves the open ones."""
    exchange.store.set_status(account_id, order_id, status)
