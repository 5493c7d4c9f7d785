"""The order state machine the recorder drives from engine events. Pure: no I/O.

::

    PENDING_NEW --accepted--> NEW --trade--> PARTIALLY_FILLED --trade--> FILLED
         |                     |                   |
         +--rejected--> REJECTED                   +--cancelled/expired--> CANCELLED / EXPIRED
                               +--cancelled/expired--> CANCELLED / EXPIRED

An event at or below the order's ``last_seq`` is a duplicate or stale and changes nothing; so
does an event its status does not allow (a reject of a live or finished order, e.g.
``DUPLICATE_ORDER_ID`` for a reused id, or for an order whose NewOrder arrived after its cancel,
must not touch the order that owns the id). A refused cancel or amend leaves its order alone,
except ``UNKNOWN_ORDER`` for a PENDING_NEW order: the API cancels an order whose publish was not
confirmed, and a cancel that finds nothing means the engine never took it (REJECTED,
``NOT_RECEIVED_REASON``). Prices are integer ticks and quantities integer lots here; the store
converts at its edge.

Fees come from the ledger's own rule (``exchange.ledger.holds.fill``: bps of notional, rounded up
cumulatively per order), so a fill shows exactly what settlement charges.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from exchange.domain.enums import (
    OPEN_STATUSES,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
)
from exchange.domain.events import (
    AnyEvent,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderTriggered,
    Trade,
)
from exchange.domain.instruments import Instrument
from exchange.ledger.holds import Hold, fill, required_hold
from exchange.ledger.money import ZERO, add, notional, scale_of
from exchange.orders.model import NOT_RECEIVED_REASON
from exchange.tables import symbol_status_key

Scales = Mapping[str, int]  # decimal places per asset (the ledger's)


class Role(StrEnum):
    MAKER = "MAKER"
    TAKER = "TAKER"


@dataclass(frozen=True, slots=True)
class OrderState:
    account_id: str
    order_id: str
    symbol: str
    client_order_id: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    qty: int
    status: OrderStatus
    price: int | None = None
    stop_price: int | None = None
    post_only: bool = False
    stp: StpMode | None = None
    filled: int = 0
    open: int | None = None  # None until the engine accepted the order
    notional: Decimal = ZERO  # sum of price x qty of the fills, in the quote asset
    fee: Decimal = ZERO  # charged so far: the ceiling of fee_accrued at the quote's scale
    fee_accrued: Decimal = ZERO
    reject_reason: str | None = None
    detail: str | None = None
    created_ns: int = 0
    updated_ns: int = 0
    last_seq: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return self.account_id, self.order_id

    @property
    def symbol_status(self) -> str:
        """The ``by_symbol_status`` sort key, ``SYMBOL#STATUS#order_id``."""
        return symbol_status_key(self.symbol, self.status.value, self.order_id)


@dataclass(frozen=True, slots=True)
class FillRow:
    """One side of a trade, as the account sees it."""

    account_id: str
    order_id: str
    symbol: str
    seq: int
    side: Side
    role: Role
    price: int
    qty: int
    fee: Decimal
    fee_asset: str
    ts_ns: int

    @property
    def fill_id(self) -> str:
        """``ts#symbol#seq#role``: time-ordered, and unique (one maker and one taker per seq)."""
        return f"{self.ts_ns:020d}#{self.symbol}#{self.seq:012d}#{self.role}"


@dataclass(frozen=True, slots=True)
class Step:
    """What one event did to one order: the new state (``changed``), and its fill, if any."""

    state: OrderState | None
    changed: bool = False
    fill: FillRow | None = None
    problem: str | None = None  # why an event was not applied (logged and counted)


def order_keys(event: AnyEvent) -> tuple[tuple[str, str], ...]:
    """The ``(account_id, order_id)`` of each order an event changes."""
    if isinstance(event, Trade):
        return (
            (event.maker_account_id, event.maker_order_id),
            (event.taker_account_id, event.taker_order_id),
        )
    if (
        isinstance(event, OrderRejected)
        and event.command_id is not None
        and event.reason is not RejectReason.UNKNOWN_ORDER
    ):
        return ()  # a refused cancel or amend of a known order leaves it as it was
    account_id: str | None = getattr(event, "account_id", None)
    order_id: str | None = getattr(event, "order_id", None)
    return ((account_id, order_id),) if account_id and order_id else ()


def step(
    state: OrderState | None,
    event: AnyEvent,
    *,
    instrument: Instrument,
    scales: Scales,
) -> Step:
    """Apply ``event`` to one order (``state`` None: no row yet)."""
    if state is None:
        if isinstance(event, OrderAccepted):
            return _accept(_from_accepted(event), event, instrument, scales)
        return Step(None, problem="order row missing")
    if event.seq <= state.last_seq:
        return Step(state, problem="duplicate or stale")
    rule = _RULES.get(type(event))
    if rule is None:
        return Step(state, problem=f"{type(event).__name__} does not change orders")
    allowed, apply = rule
    if state.status not in allowed:
        return Step(state, problem=f"{type(event).__name__} while {state.status}")
    return apply(state, event, instrument, scales)


def _from_accepted(event: OrderAccepted) -> OrderState:
    """A row the API never wrote (e.g. a replay into an empty table in the DR region)."""
    return OrderState(
        account_id=event.account_id,
        order_id=event.order_id,
        symbol=event.symbol,
        client_order_id=event.client_order_id,
        side=event.side,
        order_type=event.order_type,
        tif=event.tif,
        qty=event.qty,
        status=OrderStatus.PENDING_NEW,
        created_ns=event.ts,
    )


def _accept(
    state: OrderState, event: OrderAccepted, _instrument: Instrument, _scales: Scales
) -> Step:
    # The engine's view wins over what the API recorded: it is what rests in the book.
    return _moved(
        state, event, status=OrderStatus.NEW, client_order_id=event.client_order_id,
        side=event.side, order_type=event.order_type, tif=event.tif, qty=event.qty,
        price=event.price, stop_price=event.stop_price, post_only=event.post_only,
        stp=event.stp, open=event.qty,
    )  # fmt: skip


def _moved(state: OrderState, event: AnyEvent, **changes: object) -> Step:
    new = replace(state, updated_ns=event.ts, last_seq=event.seq, **changes)  # type: ignore[arg-type]
    return Step(new, changed=True)


def _reject(state: OrderState, event: OrderRejected, _i: Instrument, _s: Scales) -> Step:
    pending = state.status is OrderStatus.PENDING_NEW
    if event.command_id is not None:  # a cancel that found no such order
        if not pending:
            return Step(state)  # it came after the order finished: nothing to change
        return _moved(
            state, event, status=OrderStatus.REJECTED, open=0, reject_reason=NOT_RECEIVED_REASON,
            detail="the matching engine never took the order; its funds are released",
        )  # fmt: skip
    if not pending:
        return Step(state, problem=f"OrderRejected while {state.status}")
    return _moved(
        state, event, status=OrderStatus.REJECTED, open=0, reject_reason=event.reason.value,
        detail=event.detail or None,
    )  # fmt: skip


def _cancel(state: OrderState, event: OrderCancelled, _i: Instrument, _s: Scales) -> Step:
    return _moved(state, event, status=OrderStatus.CANCELLED, open=0, detail=event.reason.value)


def _expire(state: OrderState, event: OrderExpired, _i: Instrument, _s: Scales) -> Step:
    return _moved(state, event, status=OrderStatus.EXPIRED, open=0, detail=event.reason.value)


def _amend(state: OrderState, event: OrderAmended, _i: Instrument, _s: Scales) -> Step:
    return _moved(state, event, price=event.price, qty=event.qty, open=event.open_qty)


def _trigger(state: OrderState, event: OrderTriggered, _i: Instrument, _s: Scales) -> Step:
    return _moved(state, event)


def _trade(state: OrderState, trade: Trade, instrument: Instrument, scales: Scales) -> Step:
    role = Role.MAKER if state.order_id == trade.maker_order_id else Role.TAKER
    open_before = state.open if state.open is not None else state.qty - state.filled
    if trade.qty > open_before:
        return Step(state, problem=f"trade of {trade.qty} lots, {open_before} open")
    fee, accrued, charged = fill_fee(
        instrument, state, role=role, price=trade.price, qty=trade.qty, scales=scales
    )
    open_after = open_before - trade.qty
    new = _moved(
        state, trade,
        status=OrderStatus.FILLED if open_after == 0 else OrderStatus.PARTIALLY_FILLED,
        filled=state.filled + trade.qty, open=open_after,
        notional=add(state.notional,
                     notional(instrument, price_ticks=trade.price, qty_lots=trade.qty)),
        fee=charged, fee_accrued=accrued,
    ).state  # fmt: skip
    row = FillRow(
        account_id=state.account_id,
        order_id=state.order_id,
        symbol=trade.symbol,
        seq=trade.seq,
        side=state.side,
        role=role,
        price=trade.price,
        qty=trade.qty,
        fee=fee,
        fee_asset=instrument.quote,
        ts_ns=trade.ts,
    )
    return Step(new, changed=True, fill=row)


PENDING = frozenset({OrderStatus.PENDING_NEW})
# Open and accepted by the engine: only these can trade, be cancelled, expire or be amended.
LIVE = OPEN_STATUSES - PENDING
Rule = tuple[frozenset[OrderStatus], Callable[[OrderState, Any, Instrument, Scales], Step]]
# Which statuses each event may move an order from, and how.
_RULES: dict[type, Rule] = {
    OrderAccepted: (PENDING, _accept),
    # Any status: ``_reject`` moves only an order the engine never accepted.
    OrderRejected: (frozenset(OrderStatus), _reject),
    Trade: (LIVE, _trade),
    OrderCancelled: (LIVE, _cancel),
    OrderExpired: (LIVE, _expire),
    OrderAmended: (LIVE, _amend),
    OrderTriggered: (LIVE, _trigger),
}


def fill_fee(
    instrument: Instrument,
    state: OrderState,
    *,
    role: Role,
    price: int,
    qty: int,
    scales: Scales,
) -> tuple[Decimal, Decimal, Decimal]:
    """``(fee of this fill, accrued after, charged after)`` by the ledger's ``fill`` itself.

    The hold is a stand-in that only carries the order's fee history: the ledger computes the fee
    from that alone, so reusing its function (not its formula) keeps the two equal by design.
    """
    bps = instrument.maker_fee_bps if role is Role.MAKER else instrument.taker_fee_bps
    quote_scale, base_scale = scale_of(scales, instrument.quote), scale_of(scales, instrument.base)
    hold = Hold(
        order_id=state.order_id,
        account_id=state.account_id,
        symbol=state.symbol,
        side=state.side,
        asset=instrument.quote if state.side is Side.BUY else instrument.base,
        limit_ticks=price,
        original_lots=qty,
        open_lots=qty,
        held=ZERO,
        max_fee_bps=max(bps, 0),
        fee_accrued=state.fee_accrued,
        fee_charged=state.fee,
    )
    # Holding what this fill needs, so the ledger's own check (never more than held) passes.
    hold = replace(
        hold, held=required_hold(hold, instrument, quote_scale=quote_scale, base_scale=base_scale)
    )
    result = fill(
        hold,
        instrument,
        price_ticks=price,
        qty_lots=qty,
        fee_bps=bps,
        quote_scale=quote_scale,
        base_scale=base_scale,
    )
    return result.fee, result.after.fee_accrued, result.after.fee_charged
