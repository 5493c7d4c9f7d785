"""Turning a time range into seq bounds on a tape keyed by seq alone, by binary search."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.market.trade_range import GUARD_NS, first_seq_at_or_after, seq_bounds


@st.composite
def tapes(draw: st.DrawFn) -> dict[int, int]:
    """seq -> ts: increasing seqs with gaps (other events), times non-decreasing."""
    seqs = sorted(draw(st.sets(st.integers(1, 10**6), min_size=1, max_size=60)))
    times = sorted(draw(st.lists(st.integers(0, 10**4), min_size=len(seqs), max_size=len(seqs))))
    return dict(zip(seqs, times, strict=True))


class Tape:
    def __init__(self, trades: dict[int, int]) -> None:
        self.trades = trades
        self.probes = 0

    def probe(self, seq: int) -> tuple[int, int] | None:
        self.probes += 1
        later = [s for s in sorted(self.trades) if s >= seq]
        return (later[0], self.trades[later[0]]) if later else None


@settings(max_examples=300, deadline=None)
@given(tapes(), st.integers(-5, 10**4 + 5))
def test_the_bound_is_where_the_first_trade_at_or_after_the_time_begins(
    trades: dict[int, int], ts: int
) -> None:
    # Given a tape and a time
    tape = Tape(trades)
    oldest, newest = min(trades), max(trades)
    # When the seq bound of that time is searched
    bound = first_seq_at_or_after(ts, tape.probe, lo=oldest, hi=newest)
    # Then every trade at or past the bound is at or after the time, and none before it is
    assert all((seq >= bound) == (t >= ts) for seq, t in trades.items())
    # And the search took no more probes than a binary search over the seq span
    assert tape.probes <= math.ceil(math.log2(newest - oldest + 2))


@settings(max_examples=200, deadline=None)
@given(tapes(), st.integers(0, 10**4), st.integers(1, 10**4))
def test_seq_bounds_hold_every_trade_of_the_range_widened_by_the_guard(
    trades: dict[int, int], start: int, length: int
) -> None:
    # Given times in whole guards, so the guard is visible
    scaled = {seq: t * GUARD_NS // 100 for seq, t in trades.items()}
    start_ns, end_ns = start * GUARD_NS // 100, (start + length) * GUARD_NS // 100
    tape = Tape(scaled)
    first, last = seq_bounds(start_ns, end_ns, tape.probe, oldest=min(scaled), newest=max(scaled))
    assert first is not None
    assert last is not None
    # Then the bounds hold exactly the trades of [start - guard, end + guard)
    inside = {seq for seq, t in scaled.items() if start_ns - GUARD_NS <= t < end_ns + GUARD_NS}
    assert inside == {seq for seq in scaled if first <= seq <= last}


def test_an_open_side_has_no_bound() -> None:
    tape = Tape({5: 10, 9: 20})
    assert seq_bounds(None, None, tape.probe, oldest=5, newest=9) == (None, None)
    assert tape.probes == 0
