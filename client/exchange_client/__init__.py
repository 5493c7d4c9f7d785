"""The exchange's Python client: typed REST methods, Cognito sign-in or API-key signing,
idempotent retries that honour ``Retry-After``, and an async WebSocket stream with books kept by
seq and verified by checksum; operators' admin methods (``endpoints.admin``, ``exchange admin``).

    from exchange_client import ApiKey, ClientConfig, ExchangeClient, MarketStream

    async with ExchangeClient(ClientConfig.local()) as client:
        await client.sign_in("alice@example.com", "Exchange-demo-1")
        await client.place_order("BTC-USD", "buy", "0.01", price="65000")

    async with ExchangeClient(ClientConfig.discover(), api_key=ApiKey.discover()) as bot:
        await bot.cancel_all("BTC-USD")

A ccxt exchange class comes with the ``ccxt`` extra: ``exchange_client.ccxt_exchange``.
"""

from exchange_client.api import ExchangeClient
from exchange_client.auth import CognitoAuth, Tokens
from exchange_client.book import ChecksumMismatch, LocalBook, SeqGap
from exchange_client.config import ClientConfig
from exchange_client.credentials import ApiKey
from exchange_client.errors import ApiError, AuthError, ExchangeClientError, StreamError
from exchange_client.models import (
    Accepted,
    ApiKeyInfo,
    Asset,
    Balance,
    Book,
    CancelAfter,
    CancelAll,
    Candle,
    CreatedApiKey,
    Fill,
    Instrument,
    Order,
    Page,
    Ticker,
    TradePrint,
)
from exchange_client.stream import STATUS_CHANNEL, MarketStream, StreamEvent, SymbolStatus

__all__ = [
    "STATUS_CHANNEL",
    "Accepted",
    "ApiError",
    "ApiKey",
    "ApiKeyInfo",
    "Asset",
    "AuthError",
    "Balance",
    "Book",
    "CancelAfter",
    "CancelAll",
    "Candle",
    "ChecksumMismatch",
    "ClientConfig",
    "CognitoAuth",
    "CreatedApiKey",
    "ExchangeClient",
    "ExchangeClientError",
    "Fill",
    "Instrument",
    "LocalBook",
    "MarketStream",
    "Order",
    "Page",
    "SeqGap",
    "StreamError",
    "StreamEvent",
    "SymbolStatus",
    "Ticker",
    "Tokens",
    "TradePrint",
]
