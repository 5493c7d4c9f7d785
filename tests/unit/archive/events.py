"""Events for the archive's tests: every event type, the operators' included (tests.strategies
covers the order and market events only)."""

from hypothesis import strategies as st

from exchange.domain import AccountFrozen, InstrumentListed, InstrumentStatus, TradingStatusChanged
from tests.strategies import EVENTS, IDS, SYMBOLS, UINT

_FIELDS = {"symbol": SYMBOLS, "ts": UINT, "seq": UINT}
OPERATOR_EVENTS = st.one_of(
    st.builds(
        TradingStatusChanged,
        **_FIELDS,
        command_id=IDS,
        status=st.sampled_from(InstrumentStatus),
        previous=st.sampled_from(InstrumentStatus),
        actor=IDS,
        reason=st.text(max_size=40),
    ),
    st.builds(
        AccountFrozen,
        **_FIELDS,
        command_id=IDS,
        account_id=IDS,
        frozen=st.booleans(),
        actor=IDS,
        reason=st.text(max_size=40),
    ),
    st.builds(
        InstrumentListed,
        **_FIELDS,
        command_id=IDS,
        instrument=st.text(max_size=80),
        version=UINT,
        actor=IDS,
        reason=st.text(max_size=40),
    ),
)
ALL_EVENTS = st.one_of(EVENTS, OPERATOR_EVENTS)
