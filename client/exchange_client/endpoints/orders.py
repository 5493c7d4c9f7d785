"""Orders and fills: place, amend, cancel (one, by your id, or all), read, list by time, and the
dead man's switch."""

import uuid
from typing import Any

from exchange_client.endpoints.common import (
    Endpoints,
    Moment,
    Number,
    decimal_string,
    iso_time,
    page,
    segment,
)
from exchange_client.models import Accepted, CancelAfter, CancelAll, Fill, Order, Page, convert


class OrderEndpoints(Endpoints):
    async def place_order(
        self,
        symbol: str,
        side: str,
        qty: Number,
        price: Number | None = None,
        *,
        order_type: str | None = None,
        tif: str = "GTC",
        stop_price: Number | None = None,
        post_only: bool = False,
        stp: str | None = None,
        client_order_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Accepted:
        """``POST /v1/orders``: a limit order when ``price`` is given, else a market order."""
        body: dict[str, Any] = {
            "symbol": symbol,
            "side": side.upper(),
            "order_type": (order_type or ("LIMIT" if price is not None else "MARKET")).upper(),
            "qty": decimal_string(qty, "qty"),
            "tif": tif.upper(),
        }
        if price is not None:
            body["price"] = decimal_string(price, "price")
        if stop_price is not None:
            body["stop_price"] = decimal_string(stop_price, "stop_price")
        if post_only:
            body["post_only"] = True
        if stp is not None:
            body["stp"] = stp
        if client_order_id is not None:
            body["client_order_id"] = client_order_id
        raw = await self.http.request(
            "POST", "/v1/orders", body=body, idempotency_key=idempotency_key or str(uuid.uuid4())
        )
        return convert(raw, Accepted)

    async def amend_order(
        self, order_id: str, *, qty: Number | None = None, price: Number | None = None
    ) -> Accepted:
        """``PATCH /v1/orders/{id}``: a new quantity and/or price (smaller at the same price
        keeps the order's place in the queue)."""
        body: dict[str, Any] = {}
        if qty is not None:
            body["qty"] = decimal_string(qty, "qty")
        if price is not None:
            body["price"] = decimal_string(price, "price")
        raw = await self.http.request("PATCH", f"/v1/orders/{segment(order_id)}", body=body)
        return convert(raw, Accepted)

    async def cancel_order(self, order_id: str) -> Accepted:
        raw = await self.http.request("DELETE", f"/v1/orders/{segment(order_id)}")
        return convert(raw, Accepted)

    async def cancel_all(
        self, symbol: str | None = None, *, idempotency_key: str | None = None
    ) -> CancelAll:
        """``DELETE /v1/orders``: cancel every open order of yours (of ``symbol`` only, if
        given). Each cancel is then the engine's, as for one order; their holds are released as
        the cancels land. Every retry of one call carries the same ``Idempotency-Key``, so the
        engine acts on each cancel once; call again when the answer is not ``complete``."""
        raw = await self.http.request(
            "DELETE",
            "/v1/orders",
            params={"symbol": symbol},
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )
        return convert(raw, CancelAll)

    async def get_order(self, order_id: str) -> Order:
        return convert(await self.http.request("GET", f"/v1/orders/{segment(order_id)}"), Order)

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        """``GET /v1/orders/by-client-id/{client_order_id}``: the order you named so."""
        path = f"/v1/orders/by-client-id/{segment(client_order_id)}"
        return convert(await self.http.request("GET", path), Order)

    async def cancel_order_by_client_id(self, client_order_id: str) -> Accepted:
        path = f"/v1/orders/by-client-id/{segment(client_order_id)}"
        return convert(await self.http.request("DELETE", path), Accepted)

    async def list_orders(
        self,
        *,
        symbol: str | None = None,
        status: str | None = None,
        start: Moment | None = None,
        end: Moment | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Order]:
        """``GET /v1/orders``: newest first; ``start`` (inclusive) and ``end`` (exclusive) bound
        when the orders were placed."""
        params = {
            "symbol": symbol, "status": status, "start": iso_time(start), "end": iso_time(end),
            "limit": limit, "cursor": cursor,
        }  # fmt: skip
        return page(await self.http.request("GET", "/v1/orders", params=params), Order, "orders")

    async def list_fills(
        self,
        *,
        order_id: str | None = None,
        start: Moment | None = None,
        end: Moment | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Fill]:
        """``GET /v1/fills``: newest first; ``order_id`` narrows it to one order's fills,
        ``start`` (inclusive) and ``end`` (exclusive) to a time range."""
        params = {
            "order_id": order_id, "start": iso_time(start),
            "end": iso_time(end), "limit": limit, "cursor": cursor,
        }  # fmt: skip
        return page(await self.http.request("GET", "/v1/fills", params=params), Fill, "fills")

    # -- the dead man's switch -------------------------------------------------------------------
    async def cancel_after(self, timeout_seconds: int) -> CancelAfter:
        """``POST /v1/orders/cancel-after``: arm (or renew) the switch: unless renewed within
        ``timeout_seconds``, every open order of yours is cancelled. 0 disarms it."""
        raw = await self.http.request(
            "POST",
            "/v1/orders/cancel-after",
            body={"timeout_seconds": timeout_seconds},
            replayable=True,  # arming again sets the same deadline from now
        )
        return convert(raw, CancelAfter)

    async def disarm_cancel_after(self) -> CancelAfter:
        return await self.cancel_after(0)

    async def get_cancel_after(self) -> CancelAfter:
        return convert(await self.http.request("GET", "/v1/orders/cancel-after"), CancelAfter)
