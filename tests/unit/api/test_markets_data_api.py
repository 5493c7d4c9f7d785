"""GET /v1/time, /v1/assets, /v1/tickers, /v1/markets/{symbol}/ticker, and the range and cursor
parameters of trades and candles, through the markets handler over in-memory fakes."""

from dataclasses import replace

import pytest

from exchange.domain.instruments import Instrument
from exchange.l2 import BookLevel, L2Book
from exchange.market.candles import Bar
from exchange.market.history import CandlePage, CandleQuery, MarketHistory, TradePage, TradeQuery
from exchange.market.service import MarketService, TradePrint
from tests.unit.api.conftest import Exchange

NOW_NS = 1_714_564_800_123_456_789  # 2024-05-01T12:00:00.123456789Z


class Bars(MarketHistory):
    """A history of 1-minute bars only (the ticker's input); pages are empty."""

    def __init__(self, bars: list[Bar], last: int | None = None) -> None:
        self.bars, self.last = bars, last

    def trade_page(self, symbol: str, query: TradeQuery) -> TradePage:
        return TradePage([], None)

    def candle_page(self, symbol: str, query: CandleQuery) -> CandlePage:
        return CandlePage([], None)

    def minute_bars(self, instrument: Instrument, first_start: int, last_start: int) -> list[Bar]:
        return [
            b
            for b in self.bars
            if b.symbol == instrument.symbol and first_start <= b.start <= last_start
        ]

    def last_price(self, instrument: Instrument) -> int | None:
        return self.last if instrument.symbol == "BTC-USD" else None


def with_history(exchange: Exchange, history: MarketHistory) -> Exchange:
    markets = MarketService(
        instruments=exchange.catalog,
        books=exchange.books,
        store=exchange.market_store,
        history=history,
        clock=lambda: NOW_NS,
    )
    return replace(exchange, markets=markets)


def test_time_is_the_servers_clock_and_never_cached(exchange: Exchange) -> None:
    reply = with_history(exchange, Bars([])).call("GET", "/v1/time")
    assert reply.body == {"iso": "2024-05-01T12:00:00.123Z", "epoch_ms": 1_714_564_800_123}
    assert reply.headers["Cache-Control"] == "no-store"


def test_assets_list_scale_display_and_transfer_status(exchange: Exchange) -> None:
    reply = exchange.call("GET", "/v1/assets")
    assets = {a["asset"]: a for a in reply.body["assets"]}
    assert list(assets) == ["BTC", "ETH", "SOL", "USD"]
    assert assets["SOL"] == {
        "asset": "SOL",
        "name": "Solana",
        "scale": 9,
        "display_decimals": 4,
        "deposit_status": "enabled",
        "withdrawal_status": "enabled",
        "markets": ["SOL-USD"],
    }
    assert reply.headers["Cache-Control"] == "public, max-age=60"


def test_ticker_has_24h_statistics_and_the_top_of_the_book(exchange: Exchange) -> None:
    # Given two minutes of BTC bars in the last 24 h, one older, and a book
    now_s = NOW_NS // 10**9
    minute = now_s // 60 * 60
    bars = [
        Bar("BTC-USD", "1m", minute - 86_460, 1, 9_999_999, 1, 1, 10**6, 1, 1, 1, 1),
        Bar("BTC-USD", "1m", minute - 120, 6500000, 6510000, 6490000, 6505000, 5000, 3, 2, 4, None),
        Bar("BTC-USD", "1m", minute, 6505000, 6600000, 6505000, 6600000, 2500, 1, 5, 5, None),
    ]
    exchange.books.books["BTC-USD"] = L2Book(
        symbol="BTC-USD", seq=5, bids=[BookLevel(6599900, 10, 1)], asks=[BookLevel(6600100, 20, 2)]
    )
    # When its ticker is read
    reply = with_history(exchange, Bars(bars)).call("GET", "/v1/markets/BTC-USD/ticker")
    # Then it holds the window's statistics in decimal strings, and the book's top
    assert reply.status == 200
    assert reply.body == {
        "symbol": "BTC-USD",
        "last": "66000.00",
        "best_bid": "65999.00",
        "best_bid_qty": "0.0010",
        "best_ask": "66001.00",
        "best_ask_qty": "0.0020",
        "open_24h": "65000.00",
        "high_24h": "66000.00",
        "low_24h": "64900.00",
        "volume_24h": "0.7500",
        "quote_volume_24h": None,
        "change_24h": "1000.00",
        "change_pct_24h": "1.54",
        "trades_24h": 4,
        "ts_ns": NOW_NS,
    }
    assert reply.headers["Cache-Control"] == "public, max-age=1"


def test_tickers_cover_every_listed_market_even_without_trades(exchange: Exchange) -> None:
    reply = with_history(exchange, Bars([], last=6500000)).call("GET", "/v1/tickers")
    tickers = {t["symbol"]: t for t in reply.body["tickers"]}
    assert set(tickers) == set(exchange.catalog.symbols)
    assert (tickers["BTC-USD"]["last"], tickers["BTC-USD"]["volume_24h"]) == ("65000.00", "0.0000")
    assert (tickers["ETH-USD"]["last"], tickers["ETH-USD"]["best_bid"]) == (None, None)
    assert {t["ts_ns"] for t in tickers.values()} == {NOW_NS}


@pytest.mark.parametrize(
    ("path", "query", "status", "code"),
    [
        ("/v1/markets/DOGE-USD/ticker", None, 404, "market_not_found"),
        ("/v1/markets/DOGE-USD/trades", {"start": "2024-05-01T00:00:00Z"}, 404, "market_not_found"),
        (
            "/v1/markets/BTC-USD/trades",
            {"start": "2024-05-02T00:00:00Z", "end": "2024-05-01T00:00:00Z"},
            422,
            "invalid_time_range",
        ),
        (
            "/v1/markets/BTC-USD/candles",
            {"start": "2024-05-01T00:00:00Z", "end": "2024-05-01T00:00:00Z"},
            422,
            "invalid_time_range",
        ),
        ("/v1/markets/BTC-USD/trades", {"start": "2024-05-01T00:00:00"}, 400, "validation_error"),
        ("/v1/markets/BTC-USD/trades", {"start": "yesterday"}, 400, "validation_error"),
        ("/v1/markets/BTC-USD/candles", {"end": "1714564800"}, 400, "validation_error"),
        ("/v1/markets/BTC-USD/candles", {"order": "up"}, 400, "validation_error"),
        ("/v1/markets/BTC-USD/trades", {"cursor": "bm90LW91cnM"}, 400, "invalid_cursor"),
        ("/v1/tickers", {"symbol": "BTC-USD"}, 400, "validation_error"),
    ],
)
def test_bad_ticker_and_range_requests_are_problems(
    exchange: Exchange, path: str, query: dict[str, str] | None, status: int, code: str
) -> None:
    reply = exchange.call("GET", path, query=query)
    assert (reply.status, reply.body["code"]) == (status, code)
    assert reply.is_problem


def test_a_cursor_continues_only_its_own_listing(exchange: Exchange) -> None:
    # Given a first page of the latest trades that says there is more
    exchange.market_store.trade_rows["BTC-USD"] = [
        TradePrint(seq, "65000.00", "0.1000", "BUY", seq) for seq in (1, 2, 3)
    ]
    first = exchange.call("GET", "/v1/markets/BTC-USD/trades", query={"limit": "2"})
    cursor = first.body["next_cursor"]
    assert [t["seq"] for t in first.body["trades"]] == [3, 2]
    assert cursor
    # When it is sent with the same listing, it is taken; with another order or range, refused
    same = exchange.call("GET", "/v1/markets/BTC-USD/trades", query={"cursor": cursor})
    asc = {"cursor": cursor, "order": "asc"}
    ranged = {"cursor": cursor, "start": "2024-05-01T00:00:00Z"}
    assert same.status == 200
    for query in (asc, ranged):
        other = exchange.call("GET", "/v1/markets/BTC-USD/trades", query=query)
        assert (other.status, other.body["code"]) == (400, "invalid_cursor")
    other_market = exchange.call("GET", "/v1/markets/ETH-USD/trades", query={"cursor": cursor})
    assert other_market.status == 400


def test_the_openapi_document_describes_the_new_public_routes(exchange: Exchange) -> None:
    paths = exchange.call("GET", "/v1/openapi.json").body["paths"]
    for path in ("/v1/time", "/v1/assets", "/v1/tickers", "/v1/markets/{symbol}/ticker"):
        operation = paths[path]["get"]
        assert operation["tags"] == ["markets"], path
        assert not operation.get("security"), path
        assert "200" in operation["responses"], path
    assert "404" in paths["/v1/markets/{symbol}/ticker"]["get"]["responses"]
    trades = paths["/v1/markets/{symbol}/trades"]["get"]
    names = {p["name"] for p in trades["parameters"]}
    assert {"start", "end", "order", "cursor", "limit"} <= names
    assert trades["responses"]["422"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
