"""Every Lambda function, described once. The CDK app builds each function, its least-privilege
role, its environment and its trigger from this list; local mode wires the same handlers from it.
Each function's environment follows from its settings model and its tables and needs
(``lambdas.environment``).

A function ``name`` lives in ``lambdas/<name>/handler.py`` and exports ``handler(event, context)``.
It imports only the shared layer (``exchange``) and its own folder.

>>> FUNCTIONS["orders"].handler
'lambdas.orders.handler.handler'
>>> sorted(FUNCTIONS["recorder"].tables)
['audit', 'events', 'fills', 'order_keys', 'orders', 'trades']
>>> FUNCTIONS["orders"].settings.__name__
'OrdersSettings'
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal

from pydantic_settings import BaseSettings

from exchange.settings import (
    AccountSettings,
    AuthorizerSettings,
    CandlesSettings,
    ConnectionSettings,
    DeadLettersSettings,
    DepositsSettings,
    FanoutSettings,
    HealthSettings,
    KycSettings,
    MarketsSettings,
    MessagesSettings,
    MigrateSettings,
    OnboardingSettings,
    OrdersSettings,
    ReconcilerSettings,
    RecorderSettings,
    SettlementSettings,
)

Access = Literal["read", "write"]  # "write" includes read


class Trigger(StrEnum):
    REST = "rest"  # an API Gateway REST API proxy integration
    WEBSOCKET = "websocket"  # API Gateway WebSocket routes
    WEBSOCKET_AUTHORIZER = "websocket-authorizer"  # the $connect Lambda authorizer
    KINESIS = "kinesis"  # an event source mapping on the journal stream
    SCHEDULE = "schedule"  # an EventBridge rule every ``FunctionSpec.every_minutes``
    AMAZON_MQ = "amazon-mq"  # an event source mapping on each shard's dead-letter queue
    # The user pool's post-confirmation trigger (primary region, where the pool is).
    COGNITO_POST_CONFIRMATION = "cognito-post-confirmation"
    DEPLOY = "deploy"  # runs once per deploy, after the database (a CDK trigger), primary only


class Need(StrEnum):
    BROKER = "broker"  # publishes commands to Amazon MQ (VPC, broker secret)
    LEDGER = "ledger"  # the Aurora ledger through RDS Proxy, as the function's own role (IAM auth)
    LEDGER_ADMIN = "ledger-admin"  # the Aurora cluster itself as its admin (migrations only)
    REDIS = "redis"  # reads book snapshots from ElastiCache (VPC)
    WS_MANAGEMENT = (
        "ws-management"  # posts to WebSocket connections (execute-api:ManageConnections)
    )
    WEBHOOK_SECRET = "webhook-secret"  # noqa: S105 - a capability name, not a secret
    KYC_WEBHOOK_SECRET = "kyc-webhook-secret"  # noqa: S105 - a capability name, not a secret
    JWKS = "jwks"  # verifies Cognito JWTs (user pool id, client id, JWKS URL)


# The scope every access token from the user pool's own sign-in (InitiateAuth, SRP) carries. An
# authorized REST method names it, so API Gateway's Cognito authorizer takes the access token;
# without scopes it would take only the ID token ("Control access to REST APIs using Amazon
# Cognito user pools as an authorizer"; "Understanding the access token", Amazon Cognito).
ACCESS_TOKEN_SCOPE: Final = "aws.cognito.signin.user.admin"  # noqa: S105 - a scope name


@dataclass(frozen=True, slots=True)
class Route:
    """A REST route (``/v1`` prefix included), whether it takes a Cognito access token, and the
    OAuth scopes the token must carry (any one of them) when it does."""

    method: Literal["GET", "POST", "PATCH", "DELETE"]
    path: str
    authorized: bool = True
    scopes: tuple[str, ...] = (ACCESS_TOKEN_SCOPE,)

    @property
    def authorization_scopes(self) -> tuple[str, ...]:
        """The method's AuthorizationScopes: none on a public route."""
        return self.scopes if self.authorized else ()


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str
    description: str
    trigger: Trigger
    # The model the handler's composition root reads (``ROOT = CompositionRoot(<model>, ...)``);
    # the function's environment is derived from it (``lambdas.environment``).
    settings: type[BaseSettings]
    tables: Mapping[str, Access] = field(default_factory=dict)
    needs: frozenset[Need] = frozenset()
    routes: tuple[Route, ...] = ()  # REST routes; WebSocket route keys for WEBSOCKET functions
    ws_routes: tuple[str, ...] = ()
    # Caps concurrency where the function would otherwise exhaust a downstream system (Aurora
    # connections, the broker's channels). None leaves it to the account's pool.
    reserved_concurrency: int | None = None
    timeout_seconds: int = 10
    every_minutes: int | None = None  # SCHEDULE functions: how often the rule invokes them

    @property
    def handler(self) -> str:
        return f"lambdas.{self.name}.handler.handler"


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
                    tables={
                        "orders": "write",
                        "fills": "read",
                        "idempotency": "write",
                        "trades": "read",
                        "order_keys": "write",
                    },
                    needs=frozenset({Need.BROKER, Need.LEDGER}),
                    routes=(
                        Route("POST", "/v1/orders"),
                        Route("GET", "/v1/orders"),
                        Route("GET", "/v1/orders/{order_id}"),
                        Route("PATCH", "/v1/orders/{order_id}"),
                        Route("DELETE", "/v1/orders/{order_id}"),
                        Route("GET", "/v1/fills"),
                    ),
                    reserved_concurrency=100,
                    # Room for two publish deadlines (an unconfirmed order, then its cancel:
                    # OrdersSettings.publish_timeout_seconds) plus the ledger and DynamoDB.
                    timeout_seconds=10,
                )
            ),
            _spec(
                FunctionSpec(
                    name="account",
                    description="Account profile, balances, positions and withdrawals",
                    trigger=Trigger.REST,
                    settings=AccountSettings,
                    # No idempotency table: a withdrawal's id follows from the Idempotency-Key,
                    # and the ledger records each id once.
                    needs=frozenset({Need.LEDGER}),
                    routes=(
                        Route("GET", "/v1/account"),
                        Route("GET", "/v1/balances"),
                        Route("GET", "/v1/positions"),
                        Route("POST", "/v1/withdrawals"),
                    ),
                    reserved_concurrency=50,
                )
            ),
            _spec(
                FunctionSpec(
                    name="markets",
                    description="Public market data: instruments, book, trades, candles",
                    trigger=Trigger.REST,
                    settings=MarketsSettings,
                    tables={"trades": "read", "candles": "read"},
                    needs=frozenset({Need.REDIS}),
                    routes=(
                        Route("GET", "/v1/markets", authorized=False),
                        Route("GET", "/v1/markets/{symbol}/book", authorized=False),
                        Route("GET", "/v1/markets/{symbol}/trades", authorized=False),
                        Route("GET", "/v1/markets/{symbol}/candles", authorized=False),
                        Route("GET", "/v1/openapi.json", authorized=False),
                    ),
                )
            ),
            _spec(
                FunctionSpec(
                    name="deposits",
                    description="Deposit webhook from the custodian (HMAC-signed, no JWT)",
                    trigger=Trigger.REST,
                    settings=DepositsSettings,
                    needs=frozenset({Need.LEDGER, Need.WEBHOOK_SECRET}),
                    routes=(Route("POST", "/v1/webhooks/deposits", authorized=False),),
                    reserved_concurrency=10,
                )
            ),
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
                    # back.
                    tables={
                        "orders": "write",
                        "fills": "write",
                        "trades": "write",
                        "events": "write",
                        "audit": "write",
                        "order_keys": "write",
                    },
                    timeout_seconds=60,
                )
            ),
            _spec(
                FunctionSpec(
                    name="settlement",
                    description="Journal consumer: settles trades and releases holds in the ledger",
                    trigger=Trigger.KINESIS,
                    settings=SettlementSettings,
                    # Quarantine: records the ledger refuses, kept for a redrive.
                    tables={"cursors": "write", "quarantine": "write"},
                    needs=frozenset({Need.LEDGER}),
                    timeout_seconds=60,
                )
            ),
            _spec(
                FunctionSpec(
                    name="fanout",
                    description="Journal consumer: pushes events to WebSocket subscribers",
                    trigger=Trigger.KINESIS,
                    settings=FanoutSettings,
                    tables={"connections": "write", "cursors": "write"},
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
                    tables={"candles": "write", "cursors": "write", "connections": "write"},
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
                    tables={"orders": "write"},
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
                    tables={"orders": "write"},
                    needs=frozenset({Need.BROKER, Need.LEDGER}),
                    timeout_seconds=60,
                )
            ),
            _spec(
                FunctionSpec(
                    name="ws_authorizer",
                    description="WebSocket $connect authorizer: verifies the Cognito JWT",
                    trigger=Trigger.WEBSOCKET_AUTHORIZER,
                    settings=AuthorizerSettings,
                    needs=frozenset({Need.JWKS}),
                )
            ),
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
                    tables={"connections": "write"},
                    needs=frozenset({Need.REDIS, Need.WS_MANAGEMENT}),
                    ws_routes=("subscribe", "unsubscribe", "ping", "$default"),
                )
            ),
        ]
    )
)
