"""Routes of the markets function: public market data and the OpenAPI document."""

from collections.abc import Callable
from typing import Annotated, Any, Final

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from exchange.domain.candles import CandleInterval
from exchange.domain.numbers import plain
from exchange.http.app import service
from exchange.http.market_schemas import (
    AssetOut,
    AssetsOut,
    CandlePageOut,
    End,
    InstrumentOut,
    MarketsOut,
    Order,
    PageCursor,
    Start,
    TickerOut,
    TickersOut,
    TimeOut,
    TradePageOut,
    candle_cursor,
    candle_query,
    trade_cursor,
    trade_query,
)
from exchange.http.problems import responses
from exchange.http.routing import new_router
from exchange.http.schemas import (
    SYMBOL_PATTERN,
    BookOut,
    CandleOut,
    LevelOut,
    TradeOut,
)
from exchange.http.time_range import iso_ms
from exchange.instruments.model import Listing
from exchange.market.assets import AssetInfo
from exchange.market.model import Level
from exchange.market.service import MarketService
from exchange.market.ticker import Ticker, ticker_json

SymbolPath = Annotated[str, Path(pattern=SYMBOL_PATTERN, description="e.g. BTC-USD")]
# Market data changes by the millisecond: caches may keep a 200 for one second at most.
LIVE = "public, max-age=1"
STATIC = "public, max-age=60"
# The listings carry each symbol's trading status, which the functions' catalogs read every 5 s.
LISTINGS = "public, max-age=5"
NO_STORE = "no-store"
RANGE_DESCRIPTION: Final = (
    "Without start, end or cursor: the latest page, newest first. start (inclusive) and end "
    "(exclusive) select a time range; order=asc lists it oldest first; next_cursor continues it "
    "(send the same start, end and order). start >= end is a 422."
)


def markets_router(openapi_json: Callable[[], str]) -> Router:
    """``openapi_json`` gives the whole API's document (built once, on first request)."""
    router = new_router()

    def markets() -> MarketService:
        return service(router, MarketService)

    @router.get(
        "/v1/markets",
        summary="The listed instruments with their tick, lot, limits, fees and trading status",
        description="Every listed symbol, those listed since the deployment included. status "
        "says what each takes now (orders it refuses get a 409 naming it); the WebSocket "
        "channel status pushes each change. version counts the changes of its terms.",
        responses=responses(200, "The instruments"),
        tags=["markets"],
        cache_control=LISTINGS,
    )
    def list_markets() -> MarketsOut:
        return MarketsOut(markets=[_instrument(item) for item in markets().markets()])

    @router.get(
        "/v1/markets/<symbol>/book",
        summary="The L2 order book from the engine's latest snapshot, with its seq",
        responses=responses(200, "The book", 404),
        tags=["markets"],
        cache_control=LIVE,
    )
    def get_book(symbol: SymbolPath, depth: Annotated[int, Query(ge=1, le=500)] = 20) -> BookOut:
        book = markets().book(symbol, depth)
        return BookOut(
            symbol=book.symbol,
            seq=book.seq,
            bids=[_level(level) for level in book.bids],
            asks=[_level(level) for level in book.asks],
        )

    @router.get(
        "/v1/markets/<symbol>/trades",
        summary="Trades: the latest, or a time range page by page",
        description=f"{RANGE_DESCRIPTION} A trade's time is ts_ns.",
        responses=responses(200, "A page of trades", 404, 422),
        tags=["markets"],
        cache_control=LIVE,
    )
    def get_trades(
        symbol: SymbolPath,
        *,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        start: Start = None,
        end: End = None,
        order: Order = "desc",
        cursor: PageCursor = None,
    ) -> TradePageOut:
        query = trade_query(symbol, limit=limit, start=start, end=end, order=order, cursor=cursor)
        page = markets().trades(symbol, query)
        return TradePageOut(
            symbol=symbol,
            trades=[
                TradeOut(
                    seq=t.seq,
                    price=t.price,
                    qty=t.qty,
                    aggressor_side=t.aggressor_side,
                    ts_ns=t.ts_ns,
                )
                for t in page.trades
            ],
            next_cursor=trade_cursor(symbol, query, page.next),
        )

    @router.get(
        "/v1/markets/<symbol>/candles",
        summary="OHLCV bars: the latest, or a time range page by page",
        description=f"{RANGE_DESCRIPTION} A bar is in a range when its start is.",
        responses=responses(200, "A page of candles", 404, 422),
        tags=["markets"],
        cache_control=LIVE,
    )
    def get_candles(
        symbol: SymbolPath,
        *,
        interval: Annotated[CandleInterval, Query()] = "1m",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        start: Start = None,
        end: End = None,
        order: Order = "desc",
        cursor: PageCursor = None,
    ) -> CandlePageOut:
        query = candle_query(
            symbol, interval, limit=limit, start=start, end=end, order=order, cursor=cursor
        )
        page = markets().candles(symbol, query)
        return CandlePageOut(
            symbol=symbol,
            interval=interval,
            candles=[
                CandleOut(
                    start=c.start,
                    open=c.open,
                    high=c.high,
                    low=c.low,
                    close=c.close,
                    volume=c.volume,
                    trades=c.trades,
                )
                for c in page.candles
            ],
            next_cursor=candle_cursor(symbol, query, page.next_after_start),
        )

    @router.get(
        "/v1/markets/<symbol>/ticker",
        summary="24 h statistics of a market and the top of its book",
        description="Rolling 24 h at 1-minute granularity: the 1-minute bars that started at "
        "or after now - 24 h. Without a trade in the window, last/open/high/low are the last "
        "trade's price (null before any trade) and the volume is 0. best_bid/best_ask are null "
        "while a side of the book is empty or no book was published.",
        responses=responses(200, "The ticker", 404),
        tags=["markets"],
        cache_control=LIVE,
    )
    def get_ticker(symbol: SymbolPath) -> TickerOut:
        service_ = markets()
        return _ticker(service_, service_.ticker(symbol))

    @router.get(
        "/v1/tickers",
        summary="The 24 h ticker of every listed market",
        description="As GET /v1/markets/{symbol}/ticker, for every market, at one instant.",
        responses=responses(200, "The tickers"),
        tags=["markets"],
        cache_control=LIVE,
    )
    def list_tickers() -> TickersOut:
        service_ = markets()
        return TickersOut(tickers=[_ticker(service_, t) for t in service_.tickers()])

    @router.get(
        "/v1/assets",
        summary="Every traded asset: ledger precision, deposit and withdrawal status",
        responses=responses(200, "The assets"),
        tags=["markets"],
        cache_control=STATIC,
    )
    def list_assets() -> AssetsOut:
        return AssetsOut(assets=[_asset(a) for a in markets().assets()])

    @router.get(
        "/v1/time",
        summary="The server's time",
        description="For clients that sign requests with a timestamp: compare with your clock.",
        responses=responses(200, "The server's time"),
        tags=["markets"],
        cache_control=NO_STORE,
    )
    def get_time() -> TimeOut:
        epoch_ms = markets().now_ns() // 1_000_000
        return TimeOut(iso=iso_ms(epoch_ms), epoch_ms=epoch_ms)

    @router.get(
        "/v1/openapi.json",
        summary="This document",
        responses=responses(200, "The OpenAPI document"),
        tags=["markets"],
        cache_control=STATIC,
    )
    def openapi() -> Response[Any]:
        return Response(status_code=200, content_type="application/json", body=openapi_json())

    return router


def _instrument(listing: Listing) -> InstrumentOut:
    instrument = listing.instrument
    return InstrumentOut(
        symbol=instrument.symbol,
        base=instrument.base,
        quote=instrument.quote,
        asset_class=instrument.asset_class,
        tick_size=plain(instrument.tick_size),
        lot_size=plain(instrument.lot_size),
        min_qty=plain(instrument.min_qty),
        max_qty=plain(instrument.max_qty),
        price_band_pct=plain(instrument.price_band_pct),
        status=listing.status,
        version=listing.version,
        maker_fee_bps=instrument.maker_fee_bps,
        taker_fee_bps=instrument.taker_fee_bps,
    )


def _level(level: Level) -> LevelOut:
    return LevelOut(price=level.price, qty=level.qty, orders=level.orders)


def _ticker(markets: MarketService, ticker: Ticker) -> TickerOut:
    return TickerOut.model_validate(ticker_json(markets.listed(ticker.symbol), ticker))


def _asset(asset: AssetInfo) -> AssetOut:
    return AssetOut(
        asset=asset.asset,
        name=asset.name,
        scale=asset.scale,
        display_decimals=asset.display_decimals,
        deposit_status=asset.deposit.value,
        withdrawal_status=asset.withdrawal.value,
        markets=list(asset.markets),
    )
