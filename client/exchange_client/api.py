"""``ExchangeClient``: a typed async method for every REST endpoint.

    async with ExchangeClient(config) as client:
        await client.sign_in("alice@example.com", "Exchange-demo-1")
        accepted = await client.place_order("BTC-USD", "buy", "0.01", price="65000")
        order = await client.get_order(accepted.order_id)

A program signs with an API key instead of signing in (``ApiKey.discover()`` reads
``EXCHANGE_API_KEY``/``EXCHANGE_API_SECRET`` or ``~/.exchange/api-key.json``):

    async with ExchangeClient(config, api_key=ApiKey.discover()) as bot:
        await bot.cancel_after(10)          # the dead man's switch; renew it within 10 s
        await bot.place_order("ETH-USD", "sell", "1", "2010.00", post_only=True)

Quantities and prices go out as decimal strings (give ``Decimal`` or ``str``; a float is
refused). Placing an order is idempotent: every retry of one call carries the same
``Idempotency-Key``, so the API creates one order however often the network fails. A 429 waits
the API's ``Retry-After`` before the retry.
"""

import time
from types import TracebackType
from typing import Self

from exchange_client.auth import CognitoAuth
from exchange_client.config import ClientConfig
from exchange_client.credentials import ApiKey
from exchange_client.endpoints.account import AccountEndpoints
from exchange_client.endpoints.admin import AdminEndpoints
from exchange_client.endpoints.common import decimal_string
from exchange_client.endpoints.market import MarketEndpoints
from exchange_client.endpoints.money import MoneyEndpoints
from exchange_client.endpoints.orders import OrderEndpoints
from exchange_client.endpoints.statements import StatementEndpoints
from exchange_client.http import RetryPolicy, Transport

__all__ = ["ExchangeClient", "decimal_string"]


class ExchangeClient(
    OrderEndpoints,
    AccountEndpoints,
    MoneyEndpoints,
    StatementEndpoints,
    MarketEndpoints,
    AdminEndpoints,
):
    def __init__(
        self,
        config: ClientConfig,
        *,
        auth: CognitoAuth | None = None,
        api_key: ApiKey | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """``api_key``: sign private requests with it (else the signed-in user's token is
        sent); key management (``create_api_key`` ...) always takes the token."""
        self.config = config
        self.auth = auth or CognitoAuth(
            app_client_id=config.app_client_id,
            region=config.region,
            endpoint_url=config.cognito_endpoint_url,
        )
        self.api_key = api_key
        self.http = Transport(
            config.api_url, token=self.auth.access_token, api_key=api_key, retry=retry
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.close()
        self.auth.close()

    # -- identity --------------------------------------------------------------------------------
    async def sign_in(self, username: str, password: str) -> None:
        import asyncio  # noqa: PLC0415 - boto3 is blocking: run it off the loop

        await asyncio.to_thread(self.auth.sign_in, username, password)

    async def sync_clock(self) -> int:
        """Measure the exchange's clock against ours (``GET /v1/time``) and sign with the
        exchange's time from now on; returns the offset in ms (server minus local)."""
        before = time.time_ns() // 1_000_000
        answer = await self.server_time()
        after = time.time_ns() // 1_000_000
        server_ms = int(answer["epoch_ms"])
        self.http.clock_offset_ms = server_ms - (before + after) // 2
        return self.http.clock_offset_ms
