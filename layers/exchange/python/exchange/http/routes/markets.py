"""Routes of the markets function: public market data and the OpenAPI document."""

from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from exchange.domain.candles import CandleInterval
from exchange.domain.instruments import Instrument
from exchange.domain.numbers import plain
from exchange.http.app import service
from exchange.http.problems import responses
from exchange.http.routing import new_router
from exchange.http.schemas import (
    SYMBOL_PATTERN,
    BookOut,
    CandleOut,
    CandlesOut,
    InstrumentOut,
    LevelOut,
    MarketsOut,
    TradeOut,
    TradesOut,
)
from exchange.market.service import Level, MarketService

SymbolPath = Annotated[str, Path(pattern=SYMBOL_PATTERN, description="e.g. BTC-USD")]
# Market data changes by the millisecond: caches may keep a 200 for one second at most.
LIVE = "public, max-age=1"
STATIC = "public, max-age=60"


def markets_router(openapi_json: Callable[[], str]) -> Router:
    """``openapi_json`` gives the whole API's document (built once, on first request)."""
    router = new_router()

    def markets() -> MarketService:
        return service(router, MarketService)

    @router.get(
        "/v1/markets",
        summary="The listed instruments with their tick, lot, limits and fees",
        responses=responses(200, "The instruments"),
        tags=["markets"],
        cache_control=STATIC,
    )
    def list_markets() -> MarketsOut:
        return MarketsOut(markets=[_instrument(i) for i in markets().markets()])

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
        summary="Recent trades, newest first",
        responses=responses(200, "The trades", 404),
        tags=["markets"],
        cache_control=LIVE,
    )
    def get_trades(
        symbol: SymbolPath, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> TradesOut:
        trades = markets().trades(symbol, limit)
        return TradesOut(
            symbol=symbol,
            trades=[
                TradeOut(
                    seq=t.seq,
                    price=t.price,
                    qty=t.qty,
                    aggressor_side=t.aggressor_side,
                    ts_ns=t.ts_ns,
                )
                for t in trades
            ],
        )

    @router.get(
        "/v1/markets/<symbol>/candles",
        summary="OHLCV bars, newest first",
        responses=responses(200, "The candles", 404),
        tags=["markets"],
        cache_control=LIVE,
    )
    def get_candles(
        symbol: SymbolPath,
        interval: Annotated[CandleInterval, Query()] = "1m",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> CandlesOut:
        candles = markets().candles(symbol, interval, limit)
        return CandlesOut(
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
                for c in candles
            ],
        )

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


def _instrument(instrument: Instrument) -> InstrumentOut:
    return InstrumentOut(
        symbol=instrument.symbol,
        base=instrument.base,
        quote=instrument.quote,
        tick_size=plain(instrument.tick_size),
        lot_size=plain(instrument.lot_size),
        min_qty=plain(instrument.min_qty),
        max_qty=plain(instrument.max_qty),
        price_band_pct=plain(instrument.price_band_pct),
        status=instrument.status.value,
        maker_fee_bps=instrument.maker_fee_bps,
        taker_fee_bps=instrument.taker_fee_bps,
    )


def _level(level: Level) -> LevelOut:
    return LevelOut(price=level.price, qty=level.qty, orders=level.orders)
