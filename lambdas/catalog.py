"""Every Lambda function, described once. The CDK app builds each function, its least-privilege
role, its environment and its trigger from this list; local mode wires the same handlers from it.
Each function's environment follows from its settings model and its tables and needs
(``lambdas.environment``).

A function ``name`` lives in ``lambdas/<name>/handler.py`` and exports ``handler(event, context)``.
It imports only the shared layer (``exchange``) and its own folder.

>>> FUNCTIONS["orders"].handler
'lambdas.orders.handler.handler'
>>> sorted(FUNCTIONS["recorder"].tables)  # doctest: +NORMALIZE_WHITESPACE
['audit', 'connections', 'events', 'fills', 'instruments', 'order_keys', 'orders',
 'trades']
>>> FUNCTIONS["orders"].settings.__name__
'OrdersSettings'
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from exchange.apikeys.scopes import ACCESS_TOKEN_SCOPE
from exchange.settings import (
    AuthorizerSettings,
    CancelAfterSettings,
    CandlesSettings,
    ConnectionSettings,
    DeadLettersSettings,
    FanoutSettings,
    HealthSettings,
    KycSettings,
    MarketsSettings,
    MessagesSettings,
    MigrateSettings,
    MoneyApiKeysSettings,
    OnboardingSettings,
    OrdersSettings,
    ReconcilerSettings,
    RecorderSettings,
    RestAuthorizerSettings,
    SettlementSettings,
)
from lambdas.kinds import (
    Access,
    FunctionSpec,
    Need,
    Route,
    Trigger,
)
from lambdas.money import (
    ACCOUNT,
    ARCHIVE_TRANSFORM,
    DEPOSITS,
    EMAILER,
    NOTICES_RELAY,
    NOTIFIER,
    PAYOUT_SWEEPER,
    PAYOUTS,
)
from lambdas.operators import ADMIN, DIVIDENDS, RECONCILIATION

__all__ = [
    "ACCESS_TOKEN_SCOPE",
    "FUNCTIONS",
    "Access",
    "FunctionSpec",
    "Need",
    "Route",
    "Trigger",
]


def _spec(spec: FunctionSpec) -> tuple[str, FunctionSpec]:
    return spec.name, spec


FUNCTIONS: Final[Mapping[str, FunctionSpec]] = MappingProxyType(
    dict(
        [
            _spec(
                FunctionSpec(
                    name="orders",
                    description="Place, amend, cancel and read orders; list fills",
                    trigger=Trigger.REST,
                    settings=OrdersSettings,
                    # trades: the last trade is the reference of market and stop orders'
                    # protection; order_keys: each key's order and each account's open orders.
                    # order_keys also holds each account's dead man's switch; rate_limits counts
                    # each API key's requests.
                    tables={
                        "instruments": "read",
                        "orders": "write",
                        "fills": "read",
                        "idempotency": "write",
                        "trades": "read",
                        "order_keys": "write",
                        "rate_limits": "write",
                    },
                    needs=frozenset({Need.BROKER, Need.LEDGER, Need.CANCEL_AFTER_QUEUE}),
                    routes=(
                        Route("POST", "/v1/orders"),
                        Route("GET", "/v1/orders"),
                        Route("DELETE", "/v1/orders"),
                        Route("GET", "/v1/orders/{order_id}"),
                        Route("PATCH", "/v1/orders/{order_id}"),
                        Route("DELETE", "/v1/orders/{order_id}"),
                        Route("GET", "/v1/orders/by-client-id/{client_order_id}"),
                        Route("DELETE", "/v1/orders/by-client-id/{client_order_id}"),
                        Route("POST", "/v1/orders/cancel-after"),
                        Route("GET", "/v1/orders/cancel-after"),
                        Route("GET", "/v1/fills"),
                    ),
                    reserved_concurrency=100,
                    # Room for two publish deadlines (an unconfirmed order, then its cancel:
                    # OrdersSettings.publish_timeout_seconds) plus the ledger and DynamoDB.
                    timeout_seconds=10,
                )
            ),
            _spec(ACCOUNT),
            _spec(
                FunctionSpec(
                    name="markets",
                    description="Public market data: instruments, assets, time, book, tickers,"
                    " trades, candles",
                    trigger=Trigger.REST,
                    settings=MarketsSettings,
                    tables={"instruments": "read", "trades": "read", "candles": "read"},
                    needs=frozenset({Need.REDIS}),
                    routes=(
                        Route("GET", "/v1/time", authorized=False),
                        Route("GET", "/v1/assets", authorized=False),
                        Route("GET", "/v1/tickers", authorized=False),
                        Route("GET", "/v1/markets/{symbol}/ticker", authorized=False),
                        Route("GET", "/v1/markets", authorized=False),
                        Route("GET", "/v1/markets/{symbol}/book", authorized=False),
                        Route("GET", "/v1/markets/{symbol}/trades", authorized=False),
                        Route("GET", "/v1/markets/{symbol}/candles", authorized=False),
                        Route("GET", "/v1/openapi.json", authorized=False),
                    ),
                )
            ),
            _spec(DEPOSITS),
            _spec(
                FunctionSpec(
                    name="health",
                    description="GET /v1/health: the ledger, broker, Redis, engine heartbeats and"
                    " consumer progress; 503 when trading cannot work",
                    trigger=Trigger.REST,
                    settings=HealthSettings,
                    tables={"cursors": "read"},
                    needs=frozenset({Need.LEDGER, Need.BROKER, Need.REDIS}),
                    routes=(Route("GET", "/v1/health", authorized=False),),
                    # Route 53 and the public poll it; answers are cached for a few seconds.
                    reserved_concurrency=5,
                )
            ),
            _spec(
                FunctionSpec(
                    name="kyc",
                    description="KYC provider webhook (HMAC-signed, no JWT): verifies or rejects",
                    trigger=Trigger.REST,
                    settings=KycSettings,
                    needs=frozenset({Need.LEDGER, Need.KYC_WEBHOOK_SECRET}),
                    routes=(Route("POST", "/v1/webhooks/kyc", authorized=False),),
                    reserved_concurrency=5,
                )
            ),
            _spec(
                FunctionSpec(
                    name="onboarding",
                    description="Cognito post-confirmation: opens the user's ledger account",
                    trigger=Trigger.COGNITO_POST_CONFIRMATION,
                    settings=OnboardingSettings,
                    needs=frozenset({Need.LEDGER}),
                    # Cognito waits 5 s for a trigger and retries up to three times.
                    timeout_seconds=5,
                )
            ),
            _spec(
                FunctionSpec(
                    name="migrate",
                    description="On deploy: migrates the ledger and gives each function's role its"
                    " login",
                    trigger=Trigger.DEPLOY,
                    settings=MigrateSettings,
                    # instruments: seeds the instruments store from the static file (version 1
                    # of each symbol it lacks), once per deploy.
                    tables={"instruments": "write"},
                    needs=frozenset({Need.LEDGER_ADMIN}),
                    reserved_concurrency=1,
                    timeout_seconds=300,
                )
            ),
            _spec(
                FunctionSpec(
                    name="recorder",
                    description="Journal consumer: order state, fills, trades, events and audit",
                    trigger=Trigger.KINESIS,
                    settings=RecorderSettings,
                    # order_keys: an order reaching a final status gives its open-order slot
                    # back. Connections and the Management API: it publishes the private
                    # ``orders`` channel (each order's client id and each fill's fee are its).
                    tables={
                        "instruments": "write",
                        "orders": "write",
                        "fills": "write",
                        "trades": "write",
                        "events": "write",
                        "audit": "write",
                        "order_keys": "write",
                        "connections": "write",
                    },
                    needs=frozenset({Need.WS_MANAGEMENT}),
                    timeout_seconds=60,
                )
            ),
            _spec(
                FunctionSpec(
                    name="settlement",
                    description="Journal consumer: settles trades and releases holds in the ledger",
                    trigger=Trigger.KINESIS,
                    settings=SettlementSettings,
                    # Quarantine: records the ledger refuses, kept for a redrive. Connections: the
                    # balances a batch changed are pushed to their owners' balances channel.
                    # Events: the replication gate reads its DR replica (exchange.journal.gate).
                    tables={
                        "instruments": "read",
                        "events": "read",
                        "cursors": "write",
                        "quarantine": "write",
                        "connections": "write",
                    },
                    needs=frozenset({Need.LEDGER, Need.WS_MANAGEMENT}),
                    timeout_seconds=60,
                )
            ),
            _spec(
                FunctionSpec(
                    name="fanout",
                    description="Journal consumer: pushes events to WebSocket subscribers",
                    trigger=Trigger.KINESIS,
                    settings=FanoutSettings,
                    # Candles: the ticker channel's 24 h figures come from the 1-minute bars;
                    # trades: its last price when no bar is in the window.
                    tables={
                        "instruments": "read",
                        "connections": "write",
                        "cursors": "write",
                        "candles": "read",
                        "trades": "read",
                    },
                    # Redis: fan-out keeps the L2 book that new subscribers get current.
                    needs=frozenset({Need.WS_MANAGEMENT, Need.REDIS}),
                    timeout_seconds=60,
                )
            ),
            _spec(
                FunctionSpec(
                    name="candles",
                    description="Journal consumer: OHLCV bars (1m, 5m, 1h, 1d) from trades",
                    trigger=Trigger.KINESIS,
                    settings=CandlesSettings,
                    # Connections: bar updates go to candle subscribers (Gone ones are removed).
                    tables={
                        "instruments": "read",
                        "candles": "write",
                        "cursors": "write",
                        "connections": "write",
                    },
                    needs=frozenset({Need.WS_MANAGEMENT}),
                    timeout_seconds=60,
                )
            ),
            _spec(
                FunctionSpec(
                    name="reconciler",
                    description="Every minute: cancels orders the engine left PENDING_NEW too long",
                    trigger=Trigger.SCHEDULE,
                    settings=ReconcilerSettings,
                    # Write: it removes index entries that a writer left on orders that moved on.
                    tables={"instruments": "read", "orders": "write"},
                    needs=frozenset({Need.BROKER}),
                    reserved_concurrency=1,  # one run at a time; a slow run delays the next
                    timeout_seconds=60,
                    every_minutes=1,
                )
            ),
            _spec(
                FunctionSpec(
                    name="dead_letters",
                    description="Dead-lettered commands: rejects their orders, releases holds",
                    trigger=Trigger.AMAZON_MQ,
                    settings=DeadLettersSettings,
                    tables={"instruments": "read", "orders": "write"},
                    needs=frozenset({Need.BROKER, Need.LEDGER}),
                    timeout_seconds=60,
                )
            ),
            _spec(
                FunctionSpec(
                    name="ws_authorizer",
                    description="WebSocket $connect authorizer: verifies the Cognito JWT or an"
                    " API key's signature",
                    trigger=Trigger.WEBSOCKET_AUTHORIZER,
                    settings=AuthorizerSettings,
                    tables={"api_keys": "read"},
                    needs=frozenset({Need.JWKS, Need.API_KEY_DECRYPT}),
                )
            ),
            _spec(
                FunctionSpec(
                    name="rest_authorizer",
                    description="REST Lambda REQUEST authorizer: the Cognito access token or a"
                    " request signed with an API key (scope, IP allow-list, expiry, revocation)",
                    trigger=Trigger.REST_AUTHORIZER,
                    settings=RestAuthorizerSettings,
                    tables={"api_keys": "read"},
                    needs=frozenset({Need.JWKS, Need.API_KEY_DECRYPT}),
                )
            ),
            _spec(
                FunctionSpec(
                    name="api_keys",
                    description="Create, list and revoke API keys (the access token only)",
                    trigger=Trigger.REST,
                    settings=MoneyApiKeysSettings,
                    # audit: each creation and revocation is chained in the account's audit log.
                    # The topic: a new key is a security notice to its owner.
                    tables={"api_keys": "write", "audit": "write"},
                    needs=frozenset({Need.API_KEY_ENCRYPT, Need.NOTIFICATIONS_TOPIC}),
                    routes=(
                        Route("POST", "/v1/api-keys"),
                        Route("GET", "/v1/api-keys"),
                        Route("DELETE", "/v1/api-keys/{key_id}"),
                    ),
                    reserved_concurrency=10,
                )
            ),
            _spec(
                FunctionSpec(
                    name="cancel_after",
                    description="Dead man's switch timers (SQS): cancels an account's open orders"
                    " when its deadline passed unrenewed",
                    trigger=Trigger.SQS,
                    queue="cancel-after",
                    settings=CancelAfterSettings,
                    tables={"instruments": "read", "orders": "read", "order_keys": "write"},
                    needs=frozenset({Need.BROKER}),
                    timeout_seconds=60,
                )
            ),
            _spec(ADMIN),
            _spec(RECONCILIATION),
            _spec(DIVIDENDS),
            _spec(PAYOUTS),
            _spec(PAYOUT_SWEEPER),
            _spec(NOTIFIER),
            _spec(NOTICES_RELAY),
            _spec(EMAILER),
            _spec(ARCHIVE_TRANSFORM),
            _spec(
                FunctionSpec(
                    name="ws_connections",
                    description="WebSocket $connect and $disconnect: the connection store",
                    trigger=Trigger.WEBSOCKET,
                    settings=ConnectionSettings,
                    tables={"connections": "write"},
                    ws_routes=("$connect", "$disconnect"),
                )
            ),
            _spec(
                FunctionSpec(
                    name="ws_messages",
                    description="WebSocket subscribe, unsubscribe, ping and malformed frames",
                    trigger=Trigger.WEBSOCKET,
                    settings=MessagesSettings,
                    tables={"instruments": "read", "connections": "write"},
                    needs=frozenset({Need.REDIS, Need.WS_MANAGEMENT}),
                    ws_routes=("subscribe", "unsubscribe", "ping", "$default"),
                )
            ),
        ]
    )
)
