"""What the trading logic reads and writes: orders, fills, statuses, requests and pages.

Prices and quantities stay decimal strings here, exactly as the client sent them and as the
tables store them; the logic converts them to integer ticks and lots with the instrument.
"""

from dataclasses import dataclass
from typing import Final

from exchange.domain.commands import CancelOrder
from exchange.domain.enums import OrderStatus, OrderType, Side, StpMode, TimeInForce
from exchange.ids import command_id, new_order_id

# A position in a listing, as the store's own key attributes (DynamoDB's LastEvaluatedKey, made
# plain). The API turns it into an opaque cursor and back; the store validates what comes back.
PageKey = dict[str, str | int]


# The operation part of a settling cancel's command id.
SETTLE: Final = "reconcile"


def settling_cancel(*, symbol: str, account_id: str, order_id: str, ts: int) -> CancelOrder:
    """The one cancel that settles an order whose fate is unknown (its publish went unconfirmed,
    the reconciler found it pending, its command was dead-lettered): the command id follows from
    the order alone, so whoever sends it, the engine acts on the first copy and drops the rest.

    >>> first = settling_cancel(symbol="BTC-USD", account_id="a", order_id="o", ts=1)
    >>> later = settling_cancel(symbol="BTC-USD", account_id="a", order_id="o", ts=9)
    >>> first.command_id == later.command_id
    True
    """
    return CancelOrder(
        symbol=symbol,
        ts=ts,
        command_id=command_id(account_id, order_id, SETTLE),
        order_id=order_id,
        account_id=account_id,
    )


# Why the recorder rejected an order the API kept PENDING_NEW: its cancel found nothing, so the
# engine never took the order (the engine's own reasons are RejectReason).
NOT_RECEIVED_REASON: Final = "NOT_RECEIVED_BY_ENGINE"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new order as the client asked for it, already well-formed (types, patterns, no unknown
    fields); the logic checks it against the instrument."""

    symbol: str
    side: Side
    order_type: OrderType
    qty: str
    tif: TimeInForce = TimeInForce.GTC
    price: str | None = None
    stop_price: str | None = None
    post_only: bool = False
    stp: StpMode = StpMode.CANCEL_NEWEST
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Order:
    account_id: str
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    status: OrderStatus
    qty: str
    created_ns: int
    updated_ns: int
    price: str | None = None
    stop_price: str | None = None
    post_only: bool = False
    stp: StpMode = StpMode.CANCEL_NEWEST
    filled_qty: str = "0"
    notional: str = "0"
    fee: str = "0"
    open_qty: str | None = None
    reject_reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Fill:
    fill_id: str
    order_id: str
    symbol: str
    seq: int
    side: str
    role: str
    price: str
    qty: str
    fee: str
    fee_asset: str | None
    ts_ns: int


# The widest window: fill ids carry 20 decimal digits of nanoseconds, order ids 48 bits of
# milliseconds; both bounds stay inside either.
_LAST_NS: Final = 10**19 - 1


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """``[start_ns, end_ns)`` on the time an order was placed or a fill happened; None is open.

    Orders and fills are keyed by time (order ids are ULIDs, fill ids begin with their
    timestamp), so a window is a range of sort keys: a key condition, not a filter. Order ids hold
    milliseconds, so an order's window is taken to the millisecond.

    >>> TimeWindow(start_ns=1_700_000_000_000_000_000).order_ids()[0]
    '01HF7YAT000000000000000000'
    >>> TimeWindow(end_ns=2_000).fill_ids()
    ('00000000000000000000', '00000000000000001999$')
    """

    start_ns: int | None = None
    end_ns: int | None = None

    @property
    def bounded(self) -> bool:
        return self.start_ns is not None or self.end_ns is not None

    @property
    def empty(self) -> bool:
        return self._end() <= self._start()

    def order_ids(self) -> tuple[str, str]:
        """The first and the last order id in the window, both inclusive (BETWEEN)."""
        start_ms, end_ms = self._start() // 1_000_000, -(-self._end() // 1_000_000)
        return new_order_id(start_ms * 1_000_000, bytes(10)), _last_order_id(end_ms - 1)

    def fill_ids(self) -> tuple[str, str]:
        """Bounds of the fill ids (``<ts:020d>#...``) in the window, both inclusive."""
        # "$" sorts just after "#", so every fill id of the last nanosecond is below the bound.
        return f"{self._start():020d}", f"{self._end() - 1:020d}$"

    def admits(self, ts_ns: int) -> bool:
        return self._start() <= ts_ns < self._end()

    def _start(self) -> int:
        return max(self.start_ns or 0, 0)

    def _end(self) -> int:
        return min(_LAST_NS if self.end_ns is None else self.end_ns, _LAST_NS)


ALL_TIME: Final = TimeWindow()


def _last_order_id(millis: int) -> str:
    return new_order_id(max(millis, 0) * 1_000_000, b"\xff" * 10)


@dataclass(frozen=True, slots=True)
class OrderQuery:
    symbol: str | None = None
    status: OrderStatus | None = None
    limit: int = 50
    window: TimeWindow = ALL_TIME


@dataclass(frozen=True, slots=True)
class Page[T]:
    items: list[T]
    next_key: PageKey | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the API answers when it has handed a command to the engine (202)."""

    order_id: str
    status: str
    client_order_id: str | None = None
    symbol: str | None = None
    command_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """JSON-safe, as the idempotency store keeps it."""
        return {
            "order_id": self.order_id,
            "status": self.status,
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "command_id": self.command_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str | None]) -> "Accepted":
        order_id, status = data.get("order_id"), data.get("status")
        if order_id is None or status is None:
            raise ValueError("stored response lacks order_id or status")
        return cls(
            order_id=order_id,
            status=status,
            client_order_id=data.get("client_order_id"),
            symbol=data.get("symbol"),
            command_id=data.get("command_id"),
        )
