"""The exchange's JSON in ccxt's unified structures (markets, tickers, trades, orders, balances,
candles), as a mixin of ``exchange_client.ccxt_exchange.ServerlessExchange``.

Needs the ``ccxt`` extra. Values are read as strings (``safe_string``) and left to ccxt's
``safe_*`` builders, which compute with exact strings (``Precise``) and give numbers at the end.
Timestamps: the API's nanoseconds (``*_ns``) become ccxt's milliseconds.
"""

from typing import Any, Final

from ccxt.base.exchange import Exchange  # type: ignore[import-untyped]
from ccxt.base.precise import Precise  # type: ignore[import-untyped]

# The API's order statuses in ccxt's (PENDING_CANCEL and PENDING_AMEND are a command's status in
# a 202, not an order's: the order is still open until the engine answers).
ORDER_STATUSES: Final = {
    "PENDING_NEW": "open",
    "NEW": "open",
    "PARTIALLY_FILLED": "open",
    "PENDING_AMEND": "open",
    "PENDING_CANCEL": "open",
    "FILLED": "closed",
    "CANCELLED": "canceled",
    "EXPIRED": "expired",
    "REJECTED": "rejected",
}
ORDER_TYPES: Final = {
    "LIMIT": "limit",
    "MARKET": "market",
    "STOP": "market",
    "STOP_LIMIT": "limit",
}
NANOS_PER_MS: Final = 1_000_000
# The statuses in which a market takes new orders (POST_ONLY: only orders that rest); CANCEL_ONLY,
# HALTED and DELISTED take cancels only, so ccxt's ``active`` is False for them.
TAKES_ORDERS: Final = frozenset({"TRADING", "POST_ONLY"})


class CcxtParsing(Exchange):  # type: ignore[misc]  # ccxt is untyped
    def ns_to_ms(self, value: Any) -> int | None:
        return None if value is None else int(value) // NANOS_PER_MS

    def parse_market(self, market: dict[str, Any]) -> Any:
        market_id = self.safe_string(market, "symbol")
        base_id = self.safe_string(market, "base")
        quote_id = self.safe_string(market, "quote")
        base = self.safe_currency_code(base_id)
        quote = self.safe_currency_code(quote_id)
        bps = "10000"
        maker = self.safe_string(market, "maker_fee_bps")
        taker = self.safe_string(market, "taker_fee_bps")
        return self.safe_market_structure(
            {
                "id": market_id,
                "symbol": f"{base}/{quote}",
                "base": base,
                "quote": quote,
                "baseId": base_id,
                "quoteId": quote_id,
                "type": "spot",
                "spot": True,
                "margin": False,
                "swap": False,
                "future": False,
                "option": False,
                "contract": False,
                "active": self.safe_string(market, "status", "TRADING") in TAKES_ORDERS,
                "maker": self.parse_number(Precise.string_div(maker, bps))
                if maker is not None
                else None,
                "taker": self.parse_number(Precise.string_div(taker, bps))
                if taker is not None
                else None,
                "precision": {
                    "amount": self.safe_number(market, "lot_size"),
                    "price": self.safe_number(market, "tick_size"),
                },
                "limits": {
                    "amount": {
                        "min": self.safe_number(market, "min_qty"),
                        "max": self.safe_number(market, "max_qty"),
                    },
                    "price": {"min": None, "max": None},
                    "cost": {"min": None, "max": None},
                    "leverage": {"min": None, "max": None},
                },
                "info": market,
            }
        )

    def parse_currency_entry(self, asset: dict[str, Any]) -> Any:
        code_id = self.safe_string(asset, "asset")
        scale = self.safe_integer(asset, "scale")
        deposit = self.safe_string(asset, "deposit_status") == "enabled"
        withdraw = self.safe_string(asset, "withdrawal_status") == "enabled"
        return self.safe_currency_structure(
            {
                "id": code_id,
                "code": self.safe_currency_code(code_id),
                "name": self.safe_string(asset, "name"),
                "active": deposit or withdraw,
                "deposit": deposit,
                "withdraw": withdraw,
                "precision": None if scale is None else self.parse_number(f"1e-{scale}"),
                "fee": None,
                "limits": {"amount": {"min": None, "max": None}},
                "networks": {},
                "info": asset,
            }
        )

    def parse_ticker(self, ticker: dict[str, Any], market: Any = None) -> Any:
        market = self.safe_market(self.safe_string(ticker, "symbol"), market, "-")
        timestamp = self.ns_to_ms(self.safe_integer(ticker, "ts_ns"))
        last = self.safe_string(ticker, "last")
        return self.safe_ticker(
            {
                "symbol": market["symbol"],
                "timestamp": timestamp,
                "datetime": self.iso8601(timestamp),
                "high": self.safe_string(ticker, "high_24h"),
                "low": self.safe_string(ticker, "low_24h"),
                "bid": self.safe_string(ticker, "best_bid"),
                "bidVolume": self.safe_string(ticker, "best_bid_qty"),
                "ask": self.safe_string(ticker, "best_ask"),
                "askVolume": self.safe_string(ticker, "best_ask_qty"),
                "vwap": None,
                "open": self.safe_string(ticker, "open_24h"),
                "close": last,
                "last": last,
                "previousClose": None,
                "change": self.safe_string(ticker, "change_24h"),
                "percentage": self.safe_string(ticker, "change_pct_24h"),
                "average": None,
                "baseVolume": self.safe_string(ticker, "volume_24h"),
                "quoteVolume": self.safe_string(ticker, "quote_volume_24h"),
                "info": ticker,
            },
            market,
        )

    def parse_trade(self, trade: dict[str, Any], market: Any = None) -> Any:
        """A public trade (``seq``, ``aggressor_side``) or one of your fills (``fill_id``,
        ``order_id``, ``side``, ``role``, ``fee``)."""
        market = self.safe_market(self.safe_string(trade, "symbol"), market, "-")
        timestamp = self.ns_to_ms(self.safe_integer_2(trade, "ts_ns", "ts"))
        fee_cost = self.safe_string(trade, "fee")
        fee = None
        if fee_cost is not None:
            fee_asset = self.safe_string(trade, "fee_asset", market.get("quoteId"))
            fee = {"cost": fee_cost, "currency": self.safe_currency_code(fee_asset)}
        role = self.safe_string_lower(trade, "role")
        return self.safe_trade(
            {
                "id": self.safe_string_2(trade, "fill_id", "seq"),
                "order": self.safe_string(trade, "order_id"),
                "timestamp": timestamp,
                "datetime": self.iso8601(timestamp),
                "symbol": market["symbol"],
                "type": None,
                "side": self.safe_string_lower_2(trade, "side", "aggressor_side"),
                "takerOrMaker": role,
                "price": self.safe_string(trade, "price"),
                "amount": self.safe_string(trade, "qty"),
                "cost": None,
                "fee": fee,
                "info": trade,
            },
            market,
        )

    def parse_order(self, order: dict[str, Any], market: Any = None) -> Any:
        """An order as read (``GET /v1/orders/{id}``) or a command's 202 (``order_id`` and the
        command's status only)."""
        market = self.safe_market(self.safe_string(order, "symbol"), market, "-")
        created = self.ns_to_ms(self.safe_integer(order, "created_ns"))
        fee_cost = self.safe_string(order, "fee")
        status = self.safe_string(order, "status")
        order_type = self.safe_string(order, "order_type")
        return self.safe_order(
            {
                "id": self.safe_string(order, "order_id"),
                "clientOrderId": self.safe_string(order, "client_order_id"),
                "timestamp": created,
                "datetime": self.iso8601(created),
                "lastTradeTimestamp": None,
                "lastUpdateTimestamp": self.ns_to_ms(self.safe_integer(order, "updated_ns")),
                "symbol": market["symbol"],
                "type": ORDER_TYPES.get(order_type or "", None),
                "timeInForce": self.safe_string(order, "tif"),
                "postOnly": self.safe_bool(order, "post_only"),
                "side": self.safe_string_lower(order, "side"),
                "price": self.safe_string(order, "price"),
                "triggerPrice": self.safe_string(order, "stop_price"),
                "amount": self.safe_string(order, "qty"),
                "filled": self.safe_string(order, "filled_qty"),
                "remaining": self.safe_string(order, "open_qty"),
                "cost": self.safe_string(order, "notional"),
                "average": None,
                "status": ORDER_STATUSES.get(status or "", None),
                "fee": None
                if fee_cost is None
                else {"cost": self.parse_number(fee_cost), "currency": market.get("quote")},
                "trades": None,
                "info": order,
            },
            market,
        )

    def parse_ohlcv(self, ohlcv: dict[str, Any], market: Any = None) -> list[Any]:
        start = self.safe_integer(ohlcv, "start")
        return [
            None if start is None else start * 1000,
            self.safe_number(ohlcv, "open"),
            self.safe_number(ohlcv, "high"),
            self.safe_number(ohlcv, "low"),
            self.safe_number(ohlcv, "close"),
            self.safe_number(ohlcv, "volume"),
        ]

    def parse_balance(self, response: Any) -> Any:
        result: dict[str, Any] = {"info": response}
        for balance in self.safe_list(response, "balances", []):
            code = self.safe_currency_code(self.safe_string(balance, "asset"))
            account = self.account()
            account["free"] = self.safe_string(balance, "available")
            account["used"] = self.safe_string(balance, "held")
            account["total"] = self.safe_string(balance, "total")
            result[code] = account
        return self.safe_balance(result)
