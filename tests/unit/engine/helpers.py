"""Builders and strategies shared by the engine tests."""

from decimal import Decimal
from itertools import count
from typing import Any

import msgspec
from hypothesis import strategies as st

from engine_service.core import Engine
from exchange.domain import (
    AmendOrder,
    AssetClass,
    CancelOrder,
    EngineCommand,
    Event,
    FreezeAccount,
    Instrument,
    InstrumentStatus,
    ListInstrument,
    MassCancel,
    NewOrder,
    OrderRejected,
    OrderType,
    SetTradingStatus,
    Side,
    StpMode,
    TimeInForce,
)


def make_instrument(
    status: InstrumentStatus = InstrumentStatus.TRADING, **overrides: object
) -> Instrument:
    """Tick and lot of 1, so prices and quantities read as plain numbers; band 10%; no price
    above 10,000. No opening reference, and every trade moves the band, unless overridden."""
    fields: dict[str, object] = {
        "symbol": "BTC-USD",
        "base": "BTC",
        "quote": "USD",
        "tick_size": Decimal(1),
        "lot_size": Decimal(1),
        "min_qty": Decimal(2),
        "max_qty": Decimal(10),
        "price_band_pct": Decimal(10),
        "max_price": Decimal(10_000),
        "status": status,
    }
    return Instrument.model_validate({**fields, **overrides})


INSTRUMENT = make_instrument()
# An opening reference of 100 (band 90..110 before the first trade of 4 lots or more), and a
# maximum price inside the band's reach, so random streams meet every new rule.
BANDED = make_instrument(
    reference_price=Decimal(100), band_min_qty=Decimal(4), max_price=Decimal(112)
)
SYMBOL = INSTRUMENT.symbol
_ts = count(1)


def new(
    order_id: str,
    side: Side = Side.BUY,
    qty: int = 5,
    price: int | None = 100,
    *,
    account: str = "a1",
    order_type: OrderType = OrderType.LIMIT,
    tif: TimeInForce = TimeInForce.GTC,
    stop_price: int | None = None,
    post_only: bool = False,
    stp: StpMode = StpMode.CANCEL_NEWEST,
    symbol: str = SYMBOL,
    protection: int | None = None,
) -> NewOrder:
    return NewOrder(
        symbol=symbol,
        ts=next(_ts),
        order_id=order_id,
        account_id=account,
        client_order_id=f"c-{order_id}",
        side=side,
        order_type=order_type,
        tif=tif,
        qty=qty,
        price=price,
        stop_price=stop_price,
        post_only=post_only,
        stp=stp,
        protection_price=protection,
    )


def market(
    order_id: str, side: Side, qty: int, protection: int | None = None, *, account: str = "a1"
) -> NewOrder:
    """A market order, protected when ``protection`` is given."""
    return new(
        order_id,
        side,
        qty,
        None,
        account=account,
        order_type=OrderType.MARKET,
        tif=TimeInForce.IOC,
        protection=protection,
    )


def cancel(order_id: str, *, account: str = "a1", command_id: str | None = None) -> CancelOrder:
    ts = next(_ts)
    return CancelOrder(
        symbol=SYMBOL,
        ts=ts,
        command_id=command_id or f"k{ts}",
        order_id=order_id,
        account_id=account,
    )


def amend(
    order_id: str,
    *,
    price: int | None = None,
    qty: int | None = None,
    account: str = "a1",
    command_id: str | None = None,
) -> AmendOrder:
    ts = next(_ts)
    return AmendOrder(
        symbol=SYMBOL,
        ts=ts,
        command_id=command_id or f"k{ts}",
        order_id=order_id,
        account_id=account,
        price=price,
        qty=qty,
    )


# -- operators' commands --------------------------------------------------------------------------
def set_status(
    status: InstrumentStatus, *, symbol: str = SYMBOL, command_id: str | None = None
) -> SetTradingStatus:
    ts = next(_ts)
    return SetTradingStatus(
        symbol=symbol,
        ts=ts,
        command_id=command_id or f"adm{ts}",
        status=status,
        actor="ops",
        reason="test",
    )


def mass_cancel(
    account: str | None = None, *, symbol: str = SYMBOL, command_id: str | None = None
) -> MassCancel:
    ts = next(_ts)
    return MassCancel(
        symbol=symbol,
        ts=ts,
        command_id=command_id or f"adm{ts}",
        account_id=account,
        actor="ops",
        reason="test",
    )


def freeze(
    account: str, frozen: bool = True, *, symbol: str = SYMBOL, command_id: str | None = None
) -> FreezeAccount:
    ts = next(_ts)
    return FreezeAccount(
        symbol=symbol,
        ts=ts,
        command_id=command_id or f"adm{ts}",
        account_id=account,
        frozen=frozen,
        actor="ops",
        reason="test",
    )


def listing(
    instrument: Instrument | str, version: int, *, symbol: str | None = None
) -> ListInstrument:
    """A listing of ``instrument`` (or of raw JSON) at ``version``, with the admin's
    deterministic command id."""
    text = instrument if isinstance(instrument, str) else instrument.model_dump_json()
    symbol = symbol or (SYMBOL if isinstance(instrument, str) else instrument.symbol)
    return ListInstrument(
        symbol=symbol,
        ts=next(_ts),
        command_id=f"list:{symbol}:{version}",
        instrument=text,
        version=version,
        actor="ops",
        reason="test",
    )


def run(engine: Engine, *commands: EngineCommand) -> list[Event]:
    """Apply commands in turn; the events of the last one."""
    events: list[Event] = []
    for command in commands:
        events = engine.apply(command)
    return events


def kinds(events: list[Event]) -> list[str]:
    return [type(event).__name__ for event in events]


def without_detail(events: list[Event]) -> list[Event]:
    """Events with the free-text ``detail`` of rejections blanked, for comparisons."""
    return [
        msgspec.structs.replace(e, detail="") if isinstance(e, OrderRejected) else e for e in events
    ]


# -- random command streams -------------------------------------------------------------------
ACCOUNTS = st.sampled_from(["a1", "a2", "a3"])
# Narrow, so that orders cross often; the edges fall outside the 10% band around 100.
PRICES = st.integers(min_value=96, max_value=104) | st.integers(min_value=85, max_value=115)
ORDER_TYPES = st.sampled_from([OrderType.LIMIT] * 5 + [OrderType.MARKET, OrderType.STOP] * 2)
ORDER_TYPES = ORDER_TYPES | st.just(OrderType.STOP_LIMIT)
TIFS = st.sampled_from([TimeInForce.GTC] * 4 + [TimeInForce.IOC, TimeInForce.FOK])
# Picks an earlier order (small numbers: recent ones) or, from 40 on, an id not used yet: one
# never used (40, 41), or that of a new order a few commands later (42..44), so that a cancel or
# amend can come before the order it names.
TARGETS = st.integers(min_value=0, max_value=44)
TOO_HIGH = 10_001  # above every test instrument's maximum price


@st.composite
def new_orders(draw: st.DrawFn) -> dict[str, Any]:
    order_type = draw(ORDER_TYPES)
    tif = draw(TIFS)
    has_price = order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    has_stop = order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
    post_only = order_type is OrderType.LIMIT and tif is TimeInForce.GTC and draw(st.booleans())
    qty = draw(st.integers(min_value=2, max_value=10))
    protection = None if has_price else draw(st.none() | PRICES)
    stop_price = draw(PRICES) if has_stop else None
    # Now and then, break one rule so that every rejection reason shows up. 0 breaks none:
    # hypothesis favours the smallest value, and most orders should be valid.
    noise = draw(st.integers(min_value=0, max_value=34))
    if noise == 1:
        has_price = not has_price
    elif noise == 2:
        stop_price = None if has_stop else draw(PRICES)
    elif noise == 3:
        qty = draw(st.sampled_from([-1, 0, 1, 11]))
    elif noise == 4:
        post_only = True
    elif noise == 7:
        protection = draw(PRICES)  # where it must not be, on a LIMIT or STOP_LIMIT
    elif noise == 8:
        protection = draw(st.sampled_from([0, -1, TOO_HIGH]))
    elif noise == 9 and has_stop:
        stop_price = draw(st.sampled_from([0, TOO_HIGH]))
    bad_prices = st.sampled_from([0, -5, TOO_HIGH])
    return {
        "kind": "new",
        "reuse": noise == 6,  # an order id used before
        "target": draw(TARGETS),
        "account": draw(ACCOUNTS),
        "side": draw(st.sampled_from(list(Side))),
        "order_type": order_type,
        "tif": tif,
        "qty": qty,
        "price": draw(PRICES if noise != 5 else bad_prices) if has_price else None,
        "stop_price": stop_price,
        "post_only": post_only,
        "stp": draw(st.sampled_from(list(StpMode))),
        "protection": protection,
    }


def _other(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    amends = kind == "amend"
    return st.fixed_dictionaries(
        {
            "kind": st.just(kind),
            "target": TARGETS,
            "intruder": st.integers(min_value=0, max_value=9).map(lambda n: n == 0),
            "account": ACCOUNTS,
            "reuse": st.integers(min_value=0, max_value=9).map(lambda n: n == 0),
            "price": st.none() | PRICES | st.just(TOO_HIGH) if amends else st.none(),
            "qty": st.none() | st.integers(min_value=-1, max_value=11) if amends else st.none(),
        }
    )


# Operators' commands mixed into a stream: statuses (TRADING most often, so that trading
# resumes), mass cancels of everyone, one account or an account with nothing open (a9), freezes
# and unfreezes, and listings: changes, stale versions, and changes the engine must refuse.
STATUSES = st.sampled_from([InstrumentStatus.TRADING] * 3 + list(InstrumentStatus)[1:])
LISTING_CHANGES: list[dict[str, Any]] = [
    {},
    {"reference_price": Decimal(100), "band_min_qty": Decimal(4), "max_price": Decimal(112)},
    {"price_band_pct": Decimal(5), "reference_price": Decimal(100)},
    {"min_qty": Decimal(3), "max_qty": Decimal(8)},
    {"min_qty": Decimal(1), "max_qty": Decimal(12), "price_band_pct": Decimal(20)},
    {"taker_fee_bps": 5, "maker_fee_bps": -1, "status": InstrumentStatus.HALTED},
]
LISTINGS = [make_instrument(**change).model_dump_json() for change in LISTING_CHANGES]
REFUSED_LISTINGS = [
    make_instrument(tick_size=Decimal(2)).model_dump_json(),
    make_instrument(lot_size=Decimal(2)).model_dump_json(),
    make_instrument(asset_class=AssetClass.EQUITY).model_dump_json(),
    '{"symbol": "BTC-USD"}',
]
_REUSE = st.integers(min_value=0, max_value=9).map(lambda n: n == 0)


def _operators() -> st.SearchStrategy[dict[str, Any]]:
    common = {"target": TARGETS, "reuse": _REUSE}
    return st.one_of(
        st.fixed_dictionaries({"kind": st.just("status"), "status": STATUSES, **common}),
        st.fixed_dictionaries(
            {
                "kind": st.just("mass_cancel"),
                "account": st.none() | ACCOUNTS | st.just("a9"),
                **common,
            }
        ),
        st.fixed_dictionaries(
            {"kind": st.just("freeze"), "account": ACCOUNTS, "frozen": st.booleans(), **common}
        ),
        st.fixed_dictionaries(
            {
                "kind": st.just("list"),
                "json": st.sampled_from(LISTINGS * 3 + REFUSED_LISTINGS),
                "stale": st.integers(min_value=0, max_value=5).map(lambda n: n == 0),
                **common,
            }
        ),
    )


class _StreamBuilder:
    """Turns drawn specs into commands that mostly name orders and commands seen before."""

    def __init__(self) -> None:
        self.order_ids: list[str] = []
        self.owners: dict[str, str] = {}
        self.command_ids: list[str] = []
        self.version = 0  # the newest listing's

    def operator(self, spec: dict[str, Any], ts: int) -> EngineCommand:
        if spec["kind"] == "list" and not spec["stale"]:
            self.version += 1
        # A listing's id names its version (the admin's is deterministic); the ts keeps a stale
        # copy's id new, so that its version, not its id, is what the engine ignores it for.
        fresh = f"list:{SYMBOL}:{self.version}:{ts}" if spec["kind"] == "list" else f"adm{ts}"
        command_id = (
            self.earlier(self.command_ids, spec["target"], fresh) if spec["reuse"] else fresh
        )
        self.command_ids.append(command_id)
        fields: dict[str, Any] = {"symbol": SYMBOL, "ts": ts, "actor": "ops", "reason": "drill"}
        if spec["kind"] == "status":
            return SetTradingStatus(**fields, command_id=command_id, status=spec["status"])
        if spec["kind"] == "mass_cancel":
            return MassCancel(**fields, command_id=command_id, account_id=spec["account"])
        if spec["kind"] == "freeze":
            return FreezeAccount(
                **fields, command_id=command_id, account_id=spec["account"], frozen=spec["frozen"]
            )
        return ListInstrument(
            **fields,
            command_id=command_id,
            instrument=spec["json"],
            version=self.version,
        )

    def earlier(self, ids: list[str], target: int, fresh: str) -> str:
        if ids and target < 40:
            return ids[-1 - target % len(ids)]
        return fresh

    def named(self, target: int, ts: int) -> str:
        """The order id a cancel or amend names: an earlier order's, or one not used yet."""
        if target < 42:
            return self.earlier(self.order_ids, target, f"unknown{ts}")
        return f"o{ts + target - 40}"  # the id of a new order at ts + 2..4, if there is one

    def build(self, spec: dict[str, Any], ts: int) -> EngineCommand:
        if spec["kind"] not in ("new", "cancel", "amend"):
            return self.operator(spec, ts)
        if spec["kind"] == "new":
            fresh = f"o{ts}"
            order_id = (
                self.earlier(self.order_ids, spec["target"], fresh) if spec["reuse"] else fresh
            )
            self.order_ids.append(order_id)
            self.owners.setdefault(order_id, spec["account"])
            return NewOrder(
                symbol=SYMBOL,
                ts=ts,
                order_id=order_id,
                account_id=spec["account"],
                client_order_id=f"c{ts}",
                side=spec["side"],
                order_type=spec["order_type"],
                tif=spec["tif"],
                qty=spec["qty"],
                price=spec["price"],
                stop_price=spec["stop_price"],
                post_only=spec["post_only"],
                stp=spec["stp"],
                protection_price=spec["protection"],
            )
        order_id = self.named(spec["target"], ts)
        owner = self.owners.get(order_id, spec["account"])
        fresh = f"k{ts}"
        command_id = (
            self.earlier(self.command_ids, spec["target"], fresh) if spec["reuse"] else fresh
        )
        self.command_ids.append(command_id)
        fields: dict[str, Any] = {
            "symbol": SYMBOL,
            "ts": ts,
            "command_id": command_id,
            "order_id": order_id,
            "account_id": spec["account"] if spec["intruder"] else owner,
        }
        if spec["kind"] == "cancel":
            return CancelOrder(**fields)
        return AmendOrder(**fields, price=spec["price"], qty=spec["qty"])


@st.composite
def command_streams(
    draw: st.DrawFn,
    min_size: int = 20,
    max_size: int = 80,
    *,
    operators: bool = False,
) -> list[EngineCommand]:
    """Random new/cancel/amend streams on one symbol, with timestamps 1, 2, 3, ...; with
    ``operators``, operators' commands mixed in (about one command in seven)."""
    orders = new_orders()
    kinds = [orders, orders, orders, _other("cancel"), _other("amend")]
    if operators:
        kinds += [orders, _operators()]
    specs = draw(st.lists(st.one_of(*kinds), min_size=min_size, max_size=max_size))
    builder = _StreamBuilder()
    return [builder.build(spec, ts) for ts, spec in enumerate(specs, start=1)]


# Valid orders only, priced close together, with protected market orders and stops: streams that
# trade a lot, so the band's reference moves (or, for small trades, does not) and protection bites.
TIGHT_PRICES = st.integers(min_value=90, max_value=110)


@st.composite
def _trading_order(draw: st.DrawFn) -> dict[str, Any]:
    order_type = draw(st.sampled_from([OrderType.LIMIT] * 4 + [OrderType.MARKET, OrderType.STOP]))
    order_type = draw(st.just(order_type) | st.just(OrderType.STOP_LIMIT))
    market_like = order_type in (OrderType.MARKET, OrderType.STOP)
    has_stop = order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
    return {
        "kind": "new",
        "reuse": False,
        "target": 40,
        "account": draw(ACCOUNTS),
        "side": draw(st.sampled_from(list(Side))),
        "order_type": order_type,
        "tif": draw(TIFS),
        "qty": draw(st.integers(min_value=2, max_value=10)),
        "price": None if market_like else draw(TIGHT_PRICES),
        "stop_price": draw(TIGHT_PRICES) if has_stop else None,
        "post_only": False,
        "stp": draw(st.sampled_from(list(StpMode))),
        "protection": draw(st.none() | TIGHT_PRICES) if market_like else None,
    }


@st.composite
def trading_streams(
    draw: st.DrawFn, min_size: int = 30, max_size: int = 100, *, operators: bool = False
) -> list[EngineCommand]:
    """Mostly valid orders that cross often, with some cancels (a few before their order); with
    ``operators``, operators' commands mixed in (about one command in nine)."""
    orders = _trading_order()
    kinds = [orders, orders, orders, orders, _other("cancel")]
    if operators:
        kinds += [orders, orders, orders, _operators()]
    specs = draw(st.lists(st.one_of(*kinds), min_size=min_size, max_size=max_size))
    builder = _StreamBuilder()
    return [builder.build(spec, ts) for ts, spec in enumerate(specs, start=1)]
