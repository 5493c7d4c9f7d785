"""Your account: identity, balances, positions, and the API keys of your programs (withdrawals:
``endpoints.money``)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from exchange_client.endpoints.common import (
    Endpoints,
    iso_time,
    items,
    segment,
)
from exchange_client.models import ApiKeyInfo, Balance, CreatedApiKey, convert


class AccountEndpoints(Endpoints):
    async def account(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.http.request("GET", "/v1/account")
        return result

    async def balances(self) -> list[Balance]:
        raw = await self.http.request("GET", "/v1/balances")
        return [convert(item, Balance) for item in items(raw, "balances")]

    async def positions(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.http.request("GET", "/v1/positions")
        return result

    # -- API keys (the signed-in user's access token only: a key never manages keys) -------------
    async def create_api_key(
        self,
        label: str,
        *,
        scopes: Sequence[str] = ("read",),
        allowed_ips: Sequence[str] | None = None,
        expires_at: datetime | None = None,
        rate_limit_per_second: int | None = None,
    ) -> CreatedApiKey:
        """``POST /v1/api-keys``: a key with ``scopes`` (``read``, ``trade``, ``withdraw``),
        optionally only from ``allowed_ips`` (addresses or CIDRs), expiring at ``expires_at``,
        with a rate limit below the deployment's default. The answer holds the secret, shown
        this once: keep it (``ApiKey(created.key_id, created.secret).save()``).

            created = await client.create_api_key("mm-bot", scopes=["read", "trade"])
            bot = ExchangeClient(config, api_key=ApiKey(created.key_id, created.secret))
        """
        body: dict[str, Any] = {"label": label, "scopes": list(scopes)}
        if allowed_ips is not None:
            body["allowed_ips"] = list(allowed_ips)
        if expires_at is not None:
            body["expires_at"] = iso_time(expires_at)
        if rate_limit_per_second is not None:
            body["rate_limit_per_second"] = rate_limit_per_second
        raw = await self.http.request("POST", "/v1/api-keys", body=body, token_only=True)
        return convert(raw, CreatedApiKey)

    async def list_api_keys(self) -> list[ApiKeyInfo]:
        raw = await self.http.request("GET", "/v1/api-keys", token_only=True)
        return [convert(item, ApiKeyInfo) for item in items(raw, "api_keys", "keys")]

    async def revoke_api_key(self, key_id: str) -> ApiKeyInfo:
        """``DELETE /v1/api-keys/{key_id}``: the key stops working at once (revoking a revoked
        key is no error)."""
        path = f"/v1/api-keys/{segment(key_id)}"
        return convert(await self.http.request("DELETE", path, token_only=True), ApiKeyInfo)
