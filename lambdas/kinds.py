"""The kinds of things the catalog (``lambdas.catalog``) describes: a function's trigger, the
capabilities it needs, its REST routes (and how each is authorized) and the spec itself."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from pydantic_settings import BaseSettings

from exchange.apikeys.scopes import ACCESS_TOKEN_SCOPE, KeyScope, required_scope

Access = Literal["read", "write"]  # "write" includes read
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class Trigger(StrEnum):
    REST = "rest"  # an API Gateway REST API proxy integration
    WEBSOCKET = "websocket"  # API Gateway WebSocket routes
    WEBSOCKET_AUTHORIZER = "websocket-authorizer"  # the $connect Lambda authorizer
    # The REST API's Lambda REQUEST authorizer: routes that take a token or an API key.
    REST_AUTHORIZER = "rest-authorizer"
    SQS = "sqs"  # an event source mapping on the SQS queue ``FunctionSpec.queue`` names
    KINESIS = "kinesis"  # an event source mapping on the journal stream
    SCHEDULE = "schedule"  # an EventBridge rule every ``FunctionSpec.every_minutes``
    AMAZON_MQ = "amazon-mq"  # an event source mapping on each shard's dead-letter queue
    # The user pool's post-confirmation trigger (primary region, where the pool is).
    COGNITO_POST_CONFIRMATION = "cognito-post-confirmation"
    # Kinesis Data Firehose's record transformation (the archive's delivery stream).
    FIREHOSE_TRANSFORM = "firehose-transform"
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
    API_KEY_ENCRYPT = "api-key-encrypt"  # encrypts new API keys' secrets (KMS Encrypt)
    API_KEY_DECRYPT = "api-key-decrypt"  # decrypts API keys' secrets to verify (KMS Decrypt)
    CANCEL_AFTER_QUEUE = "cancel-after-queue"  # sends the dead man's switch's timers (SQS)
    # Reads the engine's snapshots: the S3 bucket (and its KMS key), Redis, the HMAC secret.
    ENGINE_SNAPSHOTS = "engine-snapshots"
    REPORTS_BUCKET = "reports-bucket"  # writes the reconciliation's reports (S3 PutObject)
    PAYOUT_QUEUE = "payout-queue"  # sends withdrawals to the payout queue (SQS SendMessage)
    # Calls the payment provider's payouts API: its URL and the secret that signs requests.
    PAYOUT_PROVIDER = "payout-provider"
    NOTIFICATIONS_TOPIC = "notifications-topic"  # publishes notices (SNS Publish)
    EMAIL = "email"  # sends email through SES (the verified sender, the configuration set)
    USER_DIRECTORY = "user-directory"  # reads a user's email address (cognito-idp:ListUsers)


@dataclass(frozen=True, slots=True)
class Route:
    """A REST route (``/v1`` prefix included), whether it takes a Cognito access token, and the
    OAuth scopes the token must carry (any one of them) when it does."""

    method: Method
    path: str
    authorized: bool = True
    scopes: tuple[str, ...] = (ACCESS_TOKEN_SCOPE,)
    # The Cognito group the caller must be in (``/v1/admin``: ``operators``). API Gateway's
    # Cognito authorizer checks no group, so the handler checks the access token's
    # ``cognito:groups`` claim (``exchange.admin.auth``); such a route takes no API key.
    group: str | None = None

    @property
    def api_key_scope(self) -> KeyScope | None:
        """The scope an API key needs here (``exchange.apikeys.scopes``); None: no key may call
        it (a public route, or one that takes only the user's access token)."""
        return required_scope(self.method, self.path) if self.authorized else None

    @property
    def authorizer(self) -> Literal["none", "cognito", "request"]:
        """Which authorizer the method has: none (public), Cognito's user-pool authorizer (the
        access token alone, by ``authorization_scopes``), or the REST Lambda REQUEST authorizer
        (the access token or a signed API-key request; it checks the token's scope itself)."""
        if not self.authorized:
            return "none"
        return "request" if self.api_key_scope is not None else "cognito"

    @property
    def authorization_scopes(self) -> tuple[str, ...]:
        """The method's AuthorizationScopes: only on a Cognito-authorized method (API Gateway
        has no scopes on a Lambda authorizer's methods)."""
        return self.scopes if self.authorizer == "cognito" else ()


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
    # SQS functions: the queue of their event source mapping (each has a dead-letter queue).
    queue: Literal["cancel-after", "payouts", "notifications"] | None = None

    @property
    def handler(self) -> str:
        return f"lambdas.{self.name}.handler.handler"
