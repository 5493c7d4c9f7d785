"""Hypothesis strategies for the domain types, shared by every test folder."""

from decimal import Decimal

from hypothesis import strategies as st

from exchange.domain import (
    AmendOrder,
    BookDelta,
    CancelOrder,
    CancelReason,
    ExpireReason,
    Instrument,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderTriggered,
    OrderType,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
    Trade,
)

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
UINT = st.integers(min_value=0, max_value=2**63 - 1)
IDS = st.text(min_size=1, max_size=40)
SYMBOLS = st.from_regex(r"[A-Z]{2,5}-[A-Z]{2,5}", fullmatch=True)


@st.composite
def steps(draw: st.DrawFn) -> Decimal:
    """A positive tick or lot size such as 0.01, 0.5, 25 or 0.00000001."""
    coefficient = draw(st.sampled_from([1, 2, 5, 25, 50]))
    exponent = draw(st.integers(min_value=-10, max_value=2))
    return Decimal(coefficient).scaleb(exponent)


@st.composite
def instruments(draw: st.DrawFn) -> Instrument:
    tick, lot = draw(steps()), draw(steps())
    min_lots = draw(st.integers(min_value=1, max_value=100))
    max_lots = draw(st.integers(min_value=min_lots, max_value=10**9))
    return Instrument(
        symbol="BTC-USD",
        base="BTC",
        quote="USD",
        tick_size=tick,
        lot_size=lot,
        min_qty=lot * min_lots,
        max_qty=lot * max_lots,
        price_band_pct=draw(st.decimals(min_value="0.01", max_value="100", places=2)),
    )


def _message_fields() -> dict[str, st.SearchStrategy[object]]:
    return {"symbol": SYMBOLS, "ts": UINT}


NEW_ORDERS = st.builds(
    NewOrder,
    **_message_fields(),
    order_id=IDS,
    account_id=IDS,
    client_order_id=st.text(max_size=40),
    side=st.sampled_from(Side),
    order_type=st.sampled_from(OrderType),
    tif=st.sampled_from(TimeInForce),
    qty=INT64,
    price=st.none() | INT64,
    stop_price=st.none() | INT64,
    post_only=st.booleans(),
    stp=st.sampled_from(StpMode),
    protection_price=st.none() | INT64,
)
COMMANDS = st.one_of(
    NEW_ORDERS,
    st.builds(CancelOrder, **_message_fields(), command_id=IDS, order_id=IDS, account_id=IDS),
    st.builds(
        AmendOrder,
        **_message_fields(),
        command_id=IDS,
        order_id=IDS,
        account_id=IDS,
        price=st.none() | INT64,
        qty=st.none() | INT64,
    ),
)


def _event_fields() -> dict[str, st.SearchStrategy[object]]:
    return {**_message_fields(), "seq": UINT}


EVENTS = st.one_of(
    st.builds(
        OrderAccepted,
        **_event_fields(),
        order_id=IDS,
        account_id=IDS,
        client_order_id=st.text(max_size=40),
        side=st.sampled_from(Side),
        order_type=st.sampled_from(OrderType),
        tif=st.sampled_from(TimeInForce),
        qty=INT64,
        price=st.none() | INT64,
        stop_price=st.none() | INT64,
        post_only=st.booleans(),
        stp=st.sampled_from(StpMode),
        protection_price=st.none() | INT64,
    ),
    st.builds(
        OrderRejected,
        **_event_fields(),
        order_id=IDS,
        account_id=IDS,
        reason=st.sampled_from(RejectReason),
        command_id=st.none() | IDS,
        detail=st.text(max_size=80),
    ),
    st.builds(
        Trade,
        **_event_fields(),
        maker_order_id=IDS,
        taker_order_id=IDS,
        maker_account_id=IDS,
        taker_account_id=IDS,
        price=INT64,
        qty=INT64,
        aggressor_side=st.sampled_from(Side),
    ),
    st.builds(
        OrderCancelled,
        **_event_fields(),
        order_id=IDS,
        account_id=IDS,
        cancelled_qty=INT64,
        reason=st.sampled_from(CancelReason),
        command_id=st.none() | IDS,
    ),
    st.builds(
        OrderAmended,
        **_event_fields(),
        order_id=IDS,
        account_id=IDS,
        command_id=IDS,
        price=INT64,
        qty=INT64,
        open_qty=INT64,
    ),
    st.builds(
        OrderExpired,
        **_event_fields(),
        order_id=IDS,
        account_id=IDS,
        expired_qty=INT64,
        reason=st.sampled_from(ExpireReason),
    ),
    st.builds(OrderTriggered, **_event_fields(), order_id=IDS, account_id=IDS, last_price=INT64),
    st.builds(
        BookDelta,
        **_event_fields(),
        side=st.sampled_from(Side),
        price=INT64,
        qty=INT64,
        orders=INT64,
    ),
)
