"""In-memory fakes of the bulk order operations' ports, with the rules of the DynamoDB ones:
time windows on the order store, the open-orders and client-id lookups, the dead man's switch's
conditional writes and its timer queue; and a clock the tests move."""

from collections.abc import Callable
from operator import attrgetter

from exchange.orders.cancel_after import Switch, SwitchStore, Timer, TimerQueue
from exchange.orders.errors import TimerUnavailable
from exchange.orders.lookup import OrderLookup
from exchange.orders.model import Order, Page, PageKey, TimeWindow
from exchange.orders.store import (
    page_of,
)
from exchange.testing.fakes import InMemoryOrderStore

START_NS = 1_800_000_000_000_000_000  # 2027-01-15T08:00:00Z


class FakeClock:
    """Time that moves only when told; ``ns`` for the order logic, ``ms`` for the switch."""

    def __init__(self, now_ns: int = START_NS) -> None:
        self.now_ns = now_ns
        self.slept: list[float] = []
        # What happens while someone sleeps (another request, say), before they wake.
        self.meanwhile: Callable[[], object] | None = None

    def ns(self) -> int:
        return self.now_ns

    def ms(self) -> int:
        return self.now_ns // 1_000_000

    def advance(self, seconds: float) -> None:
        self.now_ns += round(seconds * 1_000_000_000)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.meanwhile is not None:
            self.meanwhile()
        self.advance(seconds)


class InMemoryOrderLookup(OrderLookup):
    """Reads the store's orders as the indexes would (oldest open first; open only), and as the
    table would (``recent_orders``). ``lagging`` holds the ids of orders the indexes do not show
    yet (written a moment ago: index reads are eventually consistent); the table shows them."""

    def __init__(self, store: InMemoryOrderStore) -> None:
        self.store = store
        self.reads = 0
        self.lagging: set[str] = set()

    def _indexed(self, account_id: str) -> list[Order]:
        return [
            o
            for (owner, _), o in self.store.orders.items()
            if owner == account_id and o.order_id not in self.lagging
        ]

    def open_orders(
        self,
        account_id: str,
        *,
        symbol: str | None,
        placed_before_ns: int,
        limit: int,
        after: PageKey | None,
    ) -> Page[Order]:
        self.reads += 1
        last = TimeWindow(end_ns=placed_before_ns).order_ids()[1]
        rows = sorted(
            (
                o
                for o in self._indexed(account_id)
                if o.status.is_open
                and (symbol is None or o.symbol == symbol)
                and o.order_id <= last
                and (after is None or o.order_id > str(after["order_id"]))
            ),
            key=attrgetter("order_id"),
        )
        return page_of(
            rows[: limit + 1],
            limit,
            lambda o: {"account_id": o.account_id, "order_id": o.order_id},
        )

    def recent_orders(
        self,
        account_id: str,
        window: TimeWindow,
        *,
        limit: int,
        open_only: bool = False,
        symbol: str | None = None,
        client_order_id: str | None = None,
        newest_first: bool = False,
    ) -> list[Order]:
        first, last = window.order_ids()
        rows = sorted(
            (
                o
                for (owner, _), o in self.store.orders.items()
                if owner == account_id
                and first <= o.order_id <= last
                and not window.empty
                and (o.status.is_open or not open_only)
                and (symbol is None or o.symbol == symbol)
                and (client_order_id is None or o.client_order_id == client_order_id)
            ),
            key=attrgetter("order_id"),
            reverse=newest_first,
        )
        return rows[:limit]

    def by_client_order_id(
        self, account_id: str, client_order_id: str, *, limit: int
    ) -> list[Order]:
        found = [o for o in self._indexed(account_id) if o.client_order_id == client_order_id]
        return sorted(found, key=attrgetter("order_id"), reverse=True)[:limit]


class InMemorySwitchStore(SwitchStore):
    """The switch items, with ``DynamoSwitchStore``'s conditions."""

    def __init__(self) -> None:
        self.switches: dict[str, Switch] = {}

    def get(self, account_id: str) -> Switch | None:
        return self.switches.get(account_id)

    def put(self, account_id: str, switch: Switch, *, now_ms: int) -> Switch | None:
        current = self.switches.get(account_id)
        if current is not None and current.deadline_ms <= now_ms:
            return current
        self.switches[account_id] = switch
        return None

    def remove(self, account_id: str, *, now_ms: int) -> Switch | None:
        current = self.switches.get(account_id)
        if current is not None and current.deadline_ms <= now_ms:
            return current
        self.switches.pop(account_id, None)
        return None

    def clear(self, account_id: str, deadline_ms: int) -> bool:
        current = self.switches.get(account_id)
        if current is None or current.deadline_ms != deadline_ms:
            return False
        del self.switches[account_id]
        return True


class InMemoryTimerQueue(TimerQueue):
    """``sent`` holds each timer with its delay; ``fail`` refuses every send."""

    def __init__(self) -> None:
        self.sent: list[tuple[Timer, int]] = []
        self.fail = False
        # What happens while a send is on its way (the clock moving on, say).
        self.while_sending: Callable[[], object] | None = None

    def schedule(self, timer: Timer, delay_seconds: int) -> None:
        if self.while_sending is not None:
            self.while_sending()
        if self.fail:
            raise TimerUnavailable("the timer queue is down (in-memory queue set to fail)")
        self.sent.append((timer, delay_seconds))
