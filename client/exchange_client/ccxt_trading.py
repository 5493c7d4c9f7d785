"""Trading and account calls of ``exchange_client.ccxt_exchange.ServerlessExchange``, as ccxt's
unified methods (a mixin: the implicit ``private_*`` methods come with the class it is mixed
into).
"""

import uuid
from collections.abc import Callable
from typing import Any, Final

from exchange_client.ccxt_parsing import CcxtParsing

OPEN_STATUSES: Final = ("PENDING_NEW", "NEW", "PARTIALLY_FILLED")
PAGE_LIMIT: Final = 200  # the most GET /v1/orders and /v1/fills give in one page


class CcxtTrading(CcxtParsing):
    def fetch_balance(self, params: dict[str, Any] | None = None) -> Any:
        return self.parse_balance(self.private_get_balances(params or {}))

    def create_order(  # noqa: PLR0917 - ccxt's signature
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """``params``: ``clientOrderId``, ``timeInForce`` (GTC, IOC, FOK), ``postOnly``,
        ``triggerPrice`` (a stop), ``stp``, ``idempotencyKey`` (default: a new one, kept across
        ccxt's retries of this call)."""
        self.load_markets()
        market = self.market(symbol)
        params = dict(params or {})
        trigger = self.safe_string_2(params, "triggerPrice", "stopPrice")
        order_type = type.upper() if trigger is None else f"STOP{'_LIMIT' * (type == 'limit')}"
        request: dict[str, Any] = {
            "symbol": market["id"],
            "side": side.upper(),
            "order_type": order_type,
            "qty": self.amount_to_precision(symbol, amount),
            "idempotencyKey": self.safe_string(params, "idempotencyKey", str(uuid.uuid4())),
        }
        if type == "limit":
            request["price"] = self.price_to_precision(symbol, price)
        if trigger is not None:
            request["stop_price"] = self.price_to_precision(symbol, trigger)
        tif = self.safe_string_upper(params, "timeInForce")
        if tif is not None:
            request["tif"] = tif
        if self.safe_bool(params, "postOnly"):
            request["post_only"] = True
        client_order_id = self.safe_string(params, "clientOrderId")
        if client_order_id is not None:
            request["client_order_id"] = client_order_id
        params = self.omit(
            params, ["triggerPrice", "stopPrice", "timeInForce", "postOnly", "clientOrderId"]
        )
        response = self.private_post_orders(self.extend(request, params))
        return self.parse_order(response, market)

    def edit_order(  # noqa: PLR0917 - ccxt's signature
        self,
        id: str,
        symbol: str,
        type: str,
        side: str,
        amount: float | None = None,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """An amend (``PATCH /v1/orders/{id}``): the new total amount and/or price."""
        self.load_markets()
        market = self.market(symbol)
        request: dict[str, Any] = {"order_id": id}
        if amount is not None:
            request["qty"] = self.amount_to_precision(symbol, amount)
        if price is not None:
            request["price"] = self.price_to_precision(symbol, price)
        response = self.private_patch_orders_order_id(self.extend(request, params or {}))
        return self.parse_order(response, market)

    def cancel_order(
        self,
        id: str | None,
        symbol: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """By the exchange's id, or by yours: ``params={"clientOrderId": ...}`` (id None)."""
        return self._one_order(
            id,
            symbol,
            params,
            by_id=self.private_delete_orders_order_id,
            by_client_id=self.private_delete_orders_by_client_id_client_order_id,
        )

    def cancel_all_orders(
        self, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> Any:
        self.load_markets()
        market = None if symbol is None else self.market(symbol)
        request = {} if market is None else {"symbol": market["id"]}
        response = self.private_delete_orders(self.extend(request, params or {}))
        orders = self.safe_list(response, "accepted", [])
        return [self.parse_order(order, market) for order in orders]

    def fetch_order(
        self,
        id: str | None,
        symbol: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """By the exchange's id, or by yours: ``params={"clientOrderId": ...}`` (id None)."""
        return self._one_order(
            id,
            symbol,
            params,
            by_id=self.private_get_orders_order_id,
            by_client_id=self.private_get_orders_by_client_id_client_order_id,
        )

    def _one_order(
        self,
        id: str | None,
        symbol: str | None,
        params: dict[str, Any] | None,
        *,
        by_id: Callable[[dict[str, Any]], Any],
        by_client_id: Callable[[dict[str, Any]], Any],
    ) -> Any:
        """One order's endpoint called by the exchange's id, or by the caller's
        (``params["clientOrderId"]``), answered as a ccxt order."""
        self.load_markets()
        market = None if symbol is None else self.market(symbol)
        params = dict(params or {})
        client_order_id = self.safe_string(params, "clientOrderId")
        if client_order_id is not None:
            request = {"client_order_id": client_order_id}
            response = by_client_id(self.extend(request, self.omit(params, "clientOrderId")))
        else:
            response = by_id(self.extend({"order_id": id}, params))
        return self.parse_order(response, market)

    def fetch_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        self.load_markets()
        market = None if symbol is None else self.market(symbol)
        orders = self._paged(self.private_get_orders, market, since, limit, params, "orders")
        return self.parse_orders(orders, market, since, limit)

    def fetch_open_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Orders PENDING_NEW, NEW or PARTIALLY_FILLED (one listing per status)."""
        self.load_markets()
        market = None if symbol is None else self.market(symbol)
        orders: list[Any] = []
        for status in OPEN_STATUSES:
            request = self.extend({"status": status}, params or {})
            orders += self._paged(self.private_get_orders, market, since, limit, request, "orders")
        return self.parse_orders(orders, market, since, limit)

    def fetch_my_trades(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Your fills; ``params={"order_id": ...}`` for one order's."""
        self.load_markets()
        market = None if symbol is None else self.market(symbol)
        fills = self._paged(self.private_get_fills, market, since, limit, params, "fills")
        return self.parse_trades(fills, market, since, limit)

    def _paged(  # noqa: PLR0917 - the parts of a listing
        self,
        call: Any,
        market: Any,
        since: int | None,
        limit: int | None,
        params: dict[str, Any] | None,
        key: str,
    ) -> list[Any]:
        """Every item of a listing (newest first, by cursor) back to ``since``, or the newest
        ``limit`` when there is no ``since``. Orders are listed by symbol; fills are not (the
        API lists them by order or time), so they are filtered here."""
        request: dict[str, Any] = self.extend({"limit": PAGE_LIMIT}, params or {})
        if market is not None and key == "orders":
            request["symbol"] = market["id"]
        if since is not None:
            request["start"] = self.iso8601(since)
        found: list[Any] = []
        while True:
            response = call(request)
            found += [
                item
                for item in self.safe_list(response, key, [])
                if market is None or item.get("symbol") == market["id"]
            ]
            cursor = self.safe_string(response, "next_cursor")
            if cursor is None or (since is None and limit is not None and len(found) >= limit):
                return found
            request = self.extend(request, {"cursor": cursor})
