"""The exchange's Python client: typed REST methods, Cognito sign-in, idempotent retries and an
async WebSocket stream with books kept by seq.

    from exchange_client import ClientConfig, ExchangeClient, MarketStream

    async with ExchangeClient(ClientConfig.local()) as client:
        await client.sign_in("alice@example.com", "Exchange-demo-1")
        await client.place_order("BTC-USD", "buy", "0.01", price="65000")
"""

from exchange_client.api import ExchangeClient
from exchange_client.auth import CognitoAuth, Tokens
from exchange_client.book import LocalBook, SeqGap
from exchange_client.config import ClientConfig
from exchange_client.errors import ApiError, AuthError, ExchangeClientError, StreamError
from exchange_client.models import (
    Accepted,
    Balance,
    Book,
    Candle,
    Fill,
    Instrument,
    Order,
    Page,
    TradePrint,
)
from exchange_client.stream import MarketStream, StreamEvent

__all__ = [
    "Accepted",
    "ApiError",
    "AuthError",
    "Balance",
    "Book",
    "Candle",
    "ClientConfig",
    "CognitoAuth",
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
    "Tokens",
    "TradePrint",
]
