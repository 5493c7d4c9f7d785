"""The seq bounds of a time range on a trade tape that is keyed by seq alone.

The trades table has ``symbol`` as its partition key and ``seq`` as its sort key; a trade's time
(``ts_ns``) is a plain attribute. Rather than a time index (a GSI would copy every trade and
double the tape's write cost for a read that is rare), a range is turned into seq bounds by a
binary search over seq, each step one Query for the first trade at or after a seq (``Limit=1``,
half a read unit). ``seq`` is gap-free per symbol across all events, so most seqs hold no trade:
a probe asks for the first trade *at or after* a seq, never for one seq.

A trade's time is its taker command's time, stamped by the API before the command is queued, so
time follows seq only nearly: two commands stamped a few milliseconds apart can reach the engine
in the other order. The search therefore looks for ``start - GUARD_NS`` and ``end + GUARD_NS``,
and the reader filters on ``ts_ns`` exactly, so a page never holds a trade outside the range; a
trade whose time is more than ``GUARD_NS`` out of seq order near an edge is the only one a range
can miss (it still shows in the listing without a range).

>>> tape = {3: 10, 7: 20, 8: 20, 12: 35}  # seq: ts
>>> def probe(seq):
...     later = [s for s in sorted(tape) if s >= seq]
...     return (later[0], tape[later[0]]) if later else None
>>> first_seq_at_or_after(20, probe, lo=3, hi=12), first_seq_at_or_after(36, probe, lo=3, hi=12)
(4, 13)
"""

from collections.abc import Callable
from typing import Final

# How far out of seq order a trade's time may be and still be found by a range.
GUARD_NS: Final = 1_000_000_000

# The first trade at or after a seq, as (seq, ts_ns); None when there is none.
Probe = Callable[[int], tuple[int, int] | None]


def first_seq_at_or_after(ts_ns: int, probe: Probe, *, lo: int, hi: int) -> int:
    """The smallest seq ``x`` in ``[lo, hi + 1]`` such that the first trade at or after ``x``
    has a time ``>= ts_ns`` (``hi + 1`` when no trade up to ``hi`` has), taking time as
    non-decreasing in seq. ``lo``/``hi``: the oldest and newest trade's seq. At most
    ``ceil(log2(hi - lo + 2))`` probes."""
    low, high = lo, hi + 1
    while low < high:
        mid = (low + high) // 2
        found = probe(mid)
        # No trade from mid to hi counts as one infinitely late.
        if found is None or found[0] > hi or found[1] >= ts_ns:
            high = mid
        else:
            low = mid + 1
    return low


def seq_bounds(
    start_ns: int | None, end_ns: int | None, probe: Probe, *, oldest: int, newest: int
) -> tuple[int | None, int | None]:
    """Inclusive seq bounds ``(first, last)`` holding every trade of ``[start_ns, end_ns)``
    (within ``GUARD_NS`` of seq order), None where the range is open; ``first > last`` when no
    trade can be in it. ``oldest``/``newest``: the tape's first and last trade's seq."""
    first = (
        None
        if start_ns is None
        else first_seq_at_or_after(start_ns - GUARD_NS, probe, lo=oldest, hi=newest)
    )
    last = (
        None
        if end_ns is None
        else first_seq_at_or_after(end_ns + GUARD_NS, probe, lo=oldest, hi=newest) - 1
    )
    return first, last
