"""24 h tickers from 1-minute bars: the statistics against a reference, the window's edges, the
empty market, the book's top, and the JSON the API and the ticker channel send."""

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.domain import Side, Trade
from exchange.domain.instruments import InstrumentCatalog
from exchange.l2 import BookLevel, L2Book
from exchange.market.candles import NANOS, Bar, add_trade
from exchange.market.ticker import (
    MAX_WINDOW_BARS,
    WINDOW_SECONDS,
    compute_ticker,
    ticker_json,
    window_starts,
)

BTC = InstrumentCatalog.demo().get("BTC-USD")  # tick 0.01, lot 0.0001
DAY_NS = WINDOW_SECONDS * NANOS
NOW_S = 1_700_000_040  # a minute boundary
NOW_NS = NOW_S * NANOS


def bar(start: int, ohlc: tuple[int, int, int, int], volume: int = 1, **kw: int | None) -> Bar:
    """A BTC-USD minute bar; ``ohlc`` in ticks, ``volume`` in lots."""
    fields: dict[str, int | None] = {"trades": 1, "first_seq": 1, "last_seq": 1, "notional": 0}
    fields.update(kw)
    return Bar("BTC-USD", "1m", start, *ohlc, volume, **fields)  # type: ignore[arg-type]


@st.composite
def bars_and_now(draw: st.DrawFn) -> tuple[list[Bar], int]:
    now_ns = NOW_NS + draw(st.sampled_from([0, 1, 59 * NANOS, 60 * NANOS - 1, 30 * NANOS + 7]))
    # Minutes from now: some before the window, some after now, often right at either edge
    edges = st.sampled_from([-1_441, -1_440, -1_439, -1, 0, 1])
    minutes = draw(st.lists(st.integers(-1_450, 3) | edges, unique=True, max_size=40))
    bars = []
    for minute in minutes:
        prices = draw(st.lists(st.integers(1, 10**9), min_size=4, max_size=4))
        low, high = min(prices), max(prices)
        notional = draw(st.none() | st.integers(0, 10**15)) if draw(st.booleans()) else 5
        bars.append(
            bar(
                NOW_S + minute * 60,
                (prices[1], high, low, prices[2]),
                volume=draw(st.integers(1, 10**8)),
                trades=draw(st.integers(1, 500)),
                notional=notional,
            )
        )
    return bars, now_ns


def reference(bars: list[Bar], now_ns: int) -> dict[str, object]:
    """The statistics straight from the definition, in Decimal, with none of the code's helpers."""
    inside = sorted(
        (b for b in bars if now_ns - DAY_NS <= b.start * NANOS <= now_ns), key=lambda b: b.start
    )
    tick, lot = Decimal("0.01"), Decimal("0.0001")
    if not inside:
        return {"last": None, "volume": Decimal(0), "trades": 0}
    open_, last = inside[0].open * tick, inside[-1].close * tick
    with localcontext() as context:
        context.prec = 60
        pct = ((last - open_) / open_ * 100).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    notionals = [b.notional for b in inside]
    return {
        "last": last,
        "open": open_,
        "high": max(b.high for b in inside) * tick,
        "low": min(b.low for b in inside) * tick,
        "volume": sum(b.volume for b in inside) * lot,
        "quote": None if None in notionals else sum(n or 0 for n in notionals) * tick * lot,
        "change": last - open_,
        "pct": pct,
        "trades": sum(b.trades for b in inside),
    }


@settings(max_examples=300, deadline=None)
@given(bars_and_now())
def test_statistics_match_a_reference_computed_from_the_bars(case: tuple[list[Bar], int]) -> None:
    # Given random 1-minute bars around the 24 h window (and some after now), shuffled
    bars, now_ns = case
    # When the ticker is computed
    ticker = compute_ticker(BTC, list(reversed(bars)), book=None, now_ns=now_ns)
    expected = reference(bars, now_ns)
    # Then each statistic equals the reference, exactly
    assert ticker.last == expected["last"]
    assert ticker.volume_24h == expected["volume"]
    assert ticker.trades_24h == expected["trades"]
    if expected["last"] is not None:
        assert (ticker.open_24h, ticker.high_24h, ticker.low_24h) == (
            expected["open"],
            expected["high"],
            expected["low"],
        )
        assert ticker.quote_volume_24h == expected["quote"]
        assert (ticker.change_24h, ticker.change_pct_24h) == (expected["change"], expected["pct"])
    assert ticker.ts == now_ns


def test_the_window_holds_bars_starting_exactly_24_h_ago_and_exactly_now() -> None:
    # Given now on a minute boundary, and bars at its edges and one minute beyond each
    edge = NOW_S - WINDOW_SECONDS
    bars = [
        bar(edge - 60, (100, 100, 100, 100), volume=1),
        bar(edge, (200, 200, 200, 200), volume=10),
        bar(NOW_S, (300, 300, 300, 300), volume=100),
        bar(NOW_S + 60, (400, 400, 400, 400), volume=1000),
    ]
    # When the ticker is computed at now
    ticker = compute_ticker(BTC, bars, book=None, now_ns=NOW_NS)
    # Then exactly the two edge bars count: open from 24 h ago, last from the bar starting now
    assert (ticker.open_24h, ticker.last, ticker.volume_24h) == (
        Decimal("2.00"),
        Decimal("3.00"),
        Decimal("0.0110"),
    )
    # And the window spans 1,441 bar starts, the most a Query for it returns
    first, last = window_starts(NOW_NS)
    assert (first, last, (last - first) // 60 + 1) == (edge, NOW_S, MAX_WINDOW_BARS)


def test_one_nanosecond_later_the_bar_of_24_h_ago_has_left_the_window() -> None:
    # Given the bar that started exactly 24 h before now, and a later one
    edge = NOW_S - WINDOW_SECONDS
    bars = [bar(edge, (200, 200, 200, 200)), bar(edge + 60, (250, 250, 250, 250))]
    # When the ticker is computed 1 ns after that bar's 24 h mark
    ticker = compute_ticker(BTC, bars, book=None, now_ns=NOW_NS + 1)
    # Then it no longer counts: the window opens at the next minute boundary
    assert ticker.open_24h == Decimal("2.50")
    assert window_starts(NOW_NS + 1) == (edge + 60, NOW_S)


def test_an_empty_market_has_null_prices_and_zero_volume() -> None:
    ticker = ticker_json(BTC, compute_ticker(BTC, [], book=None, now_ns=NOW_NS))
    assert ticker == {
        "symbol": "BTC-USD",
        "last": None,
        "best_bid": None,
        "best_bid_qty": None,
        "best_ask": None,
        "best_ask_qty": None,
        "open_24h": None,
        "high_24h": None,
        "low_24h": None,
        "volume_24h": "0.0000",
        "quote_volume_24h": "0.000000",
        "change_24h": None,
        "change_pct_24h": None,
        "trades_24h": 0,
        "ts_ns": NOW_NS,
    }


def test_without_a_trade_in_the_window_the_last_trade_sets_every_price() -> None:
    # Given only bars older than 24 h, and the tape's last trade at 650.01
    old = [bar(NOW_S - WINDOW_SECONDS - 60, (1, 1, 1, 1))]
    ticker = compute_ticker(BTC, old, book=None, now_ns=NOW_NS, last_price=65001)
    body = ticker_json(BTC, ticker)
    # Then last, open, high and low are that price, unchanged, on no volume
    assert [body[k] for k in ("last", "open_24h", "high_24h", "low_24h")] == ["650.01"] * 4
    assert (body["change_24h"], body["change_pct_24h"], body["volume_24h"]) == (
        "0.00",
        "0.00",
        "0.0000",
    )


def test_best_bid_and_ask_come_from_the_top_of_the_book() -> None:
    book = L2Book(
        symbol="BTC-USD",
        seq=9,
        bids=[BookLevel(6500000, 5000, 2), BookLevel(6499900, 1, 1)],
        asks=[],
    )
    body = ticker_json(BTC, compute_ticker(BTC, [], book=book, now_ns=NOW_NS))
    assert (body["best_bid"], body["best_bid_qty"]) == ("65000.00", "0.5000")
    assert (body["best_ask"], body["best_ask_qty"]) == (None, None)


def test_a_fall_is_a_negative_change_rounded_half_even() -> None:
    # Given a market that opened at 8.00 and last traded at 7.9996... in ticks: 800 -> 799
    bars = [bar(NOW_S - 120, (800, 800, 799, 800)), bar(NOW_S - 60, (800, 800, 799, 799))]
    body = ticker_json(BTC, compute_ticker(BTC, bars, book=None, now_ns=NOW_NS))
    # Then the change is -0.01 and -0.125 % rounds half-even to -0.12
    assert (body["change_24h"], body["change_pct_24h"]) == ("-0.01", "-0.12")


def test_a_bar_without_notional_makes_the_quote_volume_unknown() -> None:
    bars = [bar(NOW_S - 60, (1, 1, 1, 1), notional=7), bar(NOW_S, (1, 1, 1, 1), notional=None)]
    assert compute_ticker(BTC, bars, book=None, now_ns=NOW_NS).quote_volume_24h is None


def test_a_bar_seen_twice_counts_once_as_its_latest_update() -> None:
    # Given a bar and its later update (more trades), e.g. from a consumer and a push
    early = bar(NOW_S - 60, (100, 100, 100, 100), volume=1, last_seq=5)
    later = bar(NOW_S - 60, (100, 120, 100, 120), volume=3, last_seq=9)
    ticker = compute_ticker(BTC, [later, early], book=None, now_ns=NOW_NS)
    assert (ticker.last, ticker.volume_24h) == (Decimal("1.20"), Decimal("0.0003"))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 10**7), st.integers(1, 10**6), st.integers(0, 3 * 60 * NANOS)),
        min_size=1,
        max_size=30,
    )
)
def test_bars_built_from_trades_give_the_trades_volume_and_notional(
    trades: list[tuple[int, int, int]],
) -> None:
    # Given trades (price ticks, qty lots, time) in seq order within a few minutes before now
    bars: dict[int, Bar] = {}
    for seq, (price, qty, offset) in enumerate(trades, start=1):
        event = Trade(
            symbol="BTC-USD",
            seq=seq,
            ts=NOW_NS - offset,
            maker_order_id="m",
            taker_order_id="t",
            maker_account_id="a",
            taker_account_id="b",
            price=price,
            qty=qty,
            aggressor_side=Side.BUY,
        )
        start = event.ts // NANOS // 60 * 60
        bars[start] = add_trade(bars.get(start), event, "1m")
    # When the ticker is computed from the 1-minute bars the candles consumer would keep
    ticker = compute_ticker(BTC, bars.values(), book=None, now_ns=NOW_NS)
    # Then volume and quote volume are the trades' exact sums
    assert ticker.volume_24h == sum(q for _, q, _ in trades) * Decimal("0.0001")
    assert ticker.quote_volume_24h == sum(p * q for p, q, _ in trades) * Decimal("0.000001")
    assert ticker.high_24h == max(p for p, _, _ in trades) * Decimal("0.01")
    assert ticker.trades_24h == len(trades)
