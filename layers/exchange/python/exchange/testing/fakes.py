"""In-memory fakes of the trading ports, for unit tests, the fuzz test and the benchmark.

They keep the real rules where callers can observe them (pagination and cursor checks shared
with the DynamoDB store), and nothing else. The ledger's fake, ``InMemoryLedger``, lives in
``testing.ledger`` and is importable from here too.
"""

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from exchange.domain.candles import CandleInterval
from exchange.domain.commands import EngineCommand
from exchange.domain.enums import OrderStatus
from exchange.market.service import Candle, MarketStore, TradePrint
from exchange.orders.errors import (
    BrokerUnavailable,
    PublishUnconfirmed,
    StoreUnavailable,
    TooManyOpenOrders,
)
from exchange.orders.keys import KeyClaim, OrderKeys
from exchange.orders.model import ALL_TIME, Fill, Order, OrderQuery, Page, PageKey, TimeWindow
from exchange.orders.publisher import CommandSink
from exchange.orders.store import (
    OrderStore,
    by_symbol_index,
    check_fill_key,
    check_order_key,
    fill_key,
    in_listing,
    order_key,
    page_of,
)
from exchange.tables import symbol_status_key
from exchange.testing.ledger import InMemoryLedger as InMemoryLedger  # noqa: PLC0414 - re-exported


class InMemoryOrderStore(OrderStore):
    def __init__(self) -> None:
        self.orders: dict[tuple[str, str], Order] = {}
        self.fill_rows: dict[str, list[Fill]] = defaultdict(list)
        self.trade_rows: dict[str, list[tuple[str, str]]] = defaultdict(list)  # (price, qty)
        self.fail_writes = False

    def add(self, order: Order) -> bool:
        if self.fail_writes:
            raise StoreUnavailable(f"order {order.order_id} was not recorded")
        if (order.account_id, order.order_id) in self.orders:
            return False
        self.orders[(order.account_id, order.order_id)] = order
        return True

    def get(self, account_id: str, order_id: str) -> Order | None:
        return self.orders.get((account_id, order_id))

    def list(self, account_id: str, query: OrderQuery, after: PageKey | None) -> Page[Order]:
        mine = [order for (owner, _), order in self.orders.items() if owner == account_id]
        sort_key: Callable[[Order], str]
        if by_symbol_index(query):
            sort_key, cursor_field = _symbol_status, "symbol_status"
        else:
            sort_key, cursor_field = _order_id, "order_id"
        rows = sorted((o for o in mine if in_listing(o, query)), key=sort_key, reverse=True)
        if after is not None:
            start = str(check_order_key(after, account_id, query)[cursor_field])
            rows = [o for o in rows if sort_key(o) < start]
        return page_of(rows[: query.limit + 1], query.limit, lambda o: order_key(o, query))

    def count_open(self, account_id: str, up_to: int) -> int:
        open_orders = sum(
            1 for (owner, _), o in self.orders.items() if owner == account_id and o.status.is_open
        )
        return min(open_orders, up_to)

    def last_trade_price(self, symbol: str, *, min_qty: Decimal | None = None) -> str | None:
        for price, qty in reversed(self.trade_rows[symbol]):
            if min_qty is None or Decimal(qty) >= min_qty:
                return price
        return None

    def set_status(self, account_id: str, order_id: str, status: OrderStatus) -> None:
        """A test shortcut for what the recorder does when the engine answers."""
        order = self.orders[(account_id, order_id)]
        self.orders[(account_id, order_id)] = replace(order, status=status)

    def add_fill(self, account_id: str, fill: Fill) -> None:
        self.fill_rows[account_id].append(fill)

    def fills(
        self,
        account_id: str,
        *,
        order_id: str | None,
        limit: int,
        after: PageKey | None,
        window: TimeWindow = ALL_TIME,
    ) -> Page[Fill]:
        rows = sorted(
            (
                f
                for f in self.fill_rows[account_id]
                if (order_id is None or f.order_id == order_id) and window.admits(f.ts_ns)
            ),
            key=lambda f: f.fill_id,
            reverse=True,
        )
        if after is not None:
            start = str(check_fill_key(after, account_id, order_id)["fill_id"])
            rows = [f for f in rows if f.fill_id < start]
        by_order = order_id is not None
        return page_of(
            rows[: limit + 1], limit, lambda f: fill_key(account_id, f, by_order=by_order)
        )


def _order_id(order: Order) -> str:
    return order.order_id


def _symbol_status(order: Order) -> str:
    return symbol_status_key(order.symbol, order.status.value, order.order_id)


class InMemoryCommandSink(CommandSink):
    """``commands`` is what reached the queue. ``fail`` refuses every publish; ``script`` gives
    the outcome of the next publishes in turn: ``"ok"``, ``"refused"`` (nothing queued),
    ``"unconfirmed"`` (queued, but the confirm is lost) or ``"lost"`` (not queued, and no
    answer: the caller cannot tell it from ``"unconfirmed"``)."""

    def __init__(self) -> None:
        self.commands: list[EngineCommand] = []
        self.fail = False
        self.script: list[str] = []

    def publish(self, command: EngineCommand) -> None:
        outcome = self.script.pop(0) if self.script else "ok"
        if self.fail or outcome == "refused":
            raise BrokerUnavailable("broker unavailable (in-memory sink set to fail)")
        if outcome in {"ok", "unconfirmed"}:
            self.commands.append(command)
        if outcome in {"unconfirmed", "lost"}:
            raise PublishUnconfirmed(f"no confirm for {type(command).__name__} (scripted)")


class InMemoryMarketStore(MarketStore):
    def __init__(self) -> None:
        self.trade_rows: dict[str, list[TradePrint]] = defaultdict(list)
        self.candle_rows: dict[tuple[str, str], list[Candle]] = defaultdict(list)

    def trades(self, symbol: str, limit: int) -> list[TradePrint]:
        return sorted(self.trade_rows[symbol], key=lambda t: t.seq, reverse=True)[:limit]

    def candles(self, symbol: str, interval: CandleInterval, limit: int) -> list[Candle]:
        rows = self.candle_rows[(symbol, interval)]
        return sorted(rows, key=lambda c: c.start, reverse=True)[:limit]


class InMemoryOrderKeys(OrderKeys):
    """Claims and open-order counters in dicts, under one lock (the table's conditional writes
    are atomic, and the cap test places from threads)."""

    def __init__(self) -> None:
        self.claims: dict[tuple[str, str], KeyClaim] = {}
        self.open_orders: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def claim(self, account_id: str, key: str, claim: KeyClaim, *, max_open: int) -> KeyClaim:
        with self._lock:
            existing = self.claims.get((account_id, key))
            if existing is not None:
                return existing
            self._take(account_id, max_open)
            self.claims[(account_id, key)] = claim
            return claim

    def take_slot(self, account_id: str, *, max_open: int) -> None:
        with self._lock:
            self._take(account_id, max_open)

    def give_back(self, account_id: str, key: str | None) -> None:
        with self._lock:
            if key is not None:
                del self.claims[(account_id, key)]
            self.open_orders[account_id] -= 1

    def _take(self, account_id: str, max_open: int) -> None:
        if self.open_orders[account_id] >= max_open:
            raise TooManyOpenOrders(f"the account has {max_open} open orders, the most allowed")
        self.open_orders[account_id] += 1
