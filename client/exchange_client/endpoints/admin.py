"""The admin API (``/v1/admin``): operators only (the signed-in user's access token, in the
operators' Cognito group; never an API key). Every action takes a ``reason`` (3 to 500
characters), kept with who and when in the audit log.

    async with client:
        action = await client.set_status("BTC-USD", "HALTED", reason="erroneous prints")
        if not action.complete:
            print("not sent:", [c.symbol for c in action.not_sent])   # run it again
"""

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from exchange_client.admin_models import (
    AdminAction,
    AdminMarket,
    AuditPage,
    Dividend,
    Freeze,
    InstrumentDetail,
    ListingResult,
)
from exchange_client.endpoints.common import Endpoints, Number, decimal_string, items, segment
from exchange_client.errors import ExchangeClientError
from exchange_client.models import convert

ADMIN = "/v1/admin"
STATUSES = ("TRADING", "POST_ONLY", "CANCEL_ONLY", "HALTED", "DELISTED")


class AdminEndpoints(Endpoints):
    async def _admin(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        return await self.http.request(
            method, f"{ADMIN}{path}", body=body, token_only=True, **kwargs
        )

    async def admin_markets(self) -> list[AdminMarket]:
        """Every listed symbol: status, listing version, shard, the seqs the engine set them at."""
        raw = await self._admin("GET", "/markets")
        return [convert(item, AdminMarket) for item in items(raw, "markets")]

    async def set_status(self, symbol: str, status: str, *, reason: str) -> AdminAction:
        """Set one symbol's trading status (``STATUSES``)."""
        body = {"status": status.upper(), "reason": reason}
        raw = await self._admin("PUT", f"/markets/{segment(symbol)}/status", body)
        return convert(raw, AdminAction)

    async def kill_switch(self, status: str, *, reason: str) -> AdminAction:
        """Set every listed symbol to CANCEL_ONLY, HALTED or TRADING."""
        raw = await self._admin(
            "POST", "/kill-switch", {"status": status.upper(), "reason": reason}
        )
        return convert(raw, AdminAction)

    async def cancel_orders(
        self, *, reason: str, symbol: str | None = None, account_id: str | None = None
    ) -> AdminAction:
        """Cancel the open orders of a symbol (of every account, or of ``account_id``), or of an
        account in every symbol."""
        if symbol is not None:
            body = {"reason": reason, "account_id": account_id}
            path = f"/markets/{segment(symbol)}/cancel-orders"
        elif account_id is not None:
            body, path = {"reason": reason}, f"/accounts/{segment(account_id)}/cancel-orders"
        else:
            raise ExchangeClientError("cancel_orders needs a symbol, an account, or both")
        return convert(await self._admin("POST", path, body), AdminAction)

    async def freeze_account(self, account_id: str, *, reason: str) -> Freeze:
        raw = await self._admin(
            "POST", f"/accounts/{segment(account_id)}/freeze", {"reason": reason}
        )
        return convert(raw, Freeze)

    async def unfreeze_account(self, account_id: str, *, reason: str) -> Freeze:
        path = f"/accounts/{segment(account_id)}/unfreeze"
        return convert(await self._admin("POST", path, {"reason": reason}), Freeze)

    async def admin_instrument(self, symbol: str) -> InstrumentDetail:
        """A symbol's listing in force and every stored version."""
        raw = await self._admin("GET", f"/instruments/{segment(symbol)}")
        return convert(raw, InstrumentDetail)

    async def list_instrument(
        self,
        symbol: str,
        instrument: Mapping[str, Any],
        *,
        reason: str,
        version: int | None = None,
        shard: str | None = None,
    ) -> ListingResult:
        """List ``symbol`` or change its terms: ``instrument`` as in the instruments file
        (decimals as strings). Sending the same definition again republishes the version in
        force (after a 503 ``listing_not_published``)."""
        body: dict[str, Any] = {"instrument": dict(instrument), "reason": reason}
        if version is not None:
            body["version"] = version
        if shard is not None:
            body["shard"] = shard
        raw = await self._admin("PUT", f"/instruments/{segment(symbol)}", body)
        return convert(raw, ListingResult)

    async def declare_dividend(
        self,
        symbol: str,
        *,
        amount_per_unit: Number,
        record_time: datetime,
        pay_time: datetime,
        issuer_account_id: str,
        reason: str,
        dividend_id: str | None = None,
    ) -> Dividend:
        """Declare a cash dividend on an EQUITY instrument. The id is made here when not given,
        so a retry of this call declares the same dividend."""
        for moment in (record_time, pay_time):
            if moment.tzinfo is None:
                raise ValueError("a naive datetime is ambiguous: give it a timezone")
        body = {
            "symbol": symbol,
            "amount_per_unit": decimal_string(amount_per_unit, "amount_per_unit"),
            "record_time": record_time.isoformat(),
            "pay_time": pay_time.isoformat(),
            "issuer_account_id": issuer_account_id,
            "dividend_id": dividend_id or f"div_{uuid.uuid4().hex}",
            "reason": reason,
        }
        raw = await self._admin("POST", "/dividends", body, replayable=True)
        return convert(raw, Dividend)

    async def admin_dividends(self, symbol: str | None = None) -> list[Dividend]:
        raw = await self._admin("GET", "/dividends", params={"symbol": symbol})
        return [convert(item, Dividend) for item in items(raw, "dividends")]

    async def admin_audit(
        self, *, limit: int | None = None, before: int | None = None
    ) -> AuditPage:
        """A page of the operators' audit log, newest first, and whether its chain verifies."""
        raw = await self._admin("GET", "/audit", params={"limit": limit, "before": before})
        return convert(raw, AuditPage)
