"""The real adapters, built from settings. Nothing here connects at import or construction: the
database pool opens connections on demand, the broker on the first publish, Redis on the first
read, Secrets Manager on the first secret."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from exchange.api.settings import ApiSettings, DepositsSettings, OrdersSettings
from exchange.domain.errors import ConfigurationError
from exchange.domain.instruments import InstrumentCatalog
from exchange.ledger.settings import LedgerSettings
from exchange.messaging import ShardMap, broker_url_from_settings
from exchange.secrets import CachedSecret, secrets_client_factory
from exchange.settings import AwsSettings, RedisSettings
from exchange.trading.deposits import SecretsProvider, parse_secrets

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

    from exchange.ledger.postgres import PostgresLedger
    from exchange.trading.books import RedisBookSource
    from exchange.trading.idempotency import IdempotentRunner
    from exchange.trading.publisher import RabbitCommandSink


def instruments(settings: ApiSettings) -> InstrumentCatalog:
    return settings.catalog()


def ledger(
    settings: LedgerSettings, catalog: InstrumentCatalog
) -> tuple["PostgresLedger", "ConnectionPool"]:
    # Each function imports only the adapters it uses (psycopg, pika, redis, boto3 are heavy).
    from exchange.ledger.connection import pool_from_settings  # noqa: PLC0415
    from exchange.ledger.postgres import PostgresLedger  # noqa: PLC0415

    pool = pool_from_settings(settings, secrets_client_factory(settings))
    return PostgresLedger.from_settings(pool, settings, catalog), pool


def dynamodb_client(settings: AwsSettings) -> Any:
    import boto3  # noqa: PLC0415

    return boto3.client(
        "dynamodb", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
    )


def idempotency(settings: OrdersSettings) -> "IdempotentRunner":
    from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415
        DynamoDBPersistenceLayer,
    )

    from exchange.trading.idempotency import IdempotentRunner  # noqa: PLC0415

    persistence = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table, boto3_client=dynamodb_client(settings)
    )
    return IdempotentRunner(persistence, ttl_seconds=settings.idempotency_ttl_seconds)


def command_sink(settings: OrdersSettings) -> "RabbitCommandSink":
    from exchange.trading.publisher import RabbitCommandSink  # noqa: PLC0415

    shards = ShardMap(settings.shards) if settings.shards is not None else ShardMap.demo()
    return RabbitCommandSink(broker_url_from_settings(settings, settings), shards)


def book_source(settings: RedisSettings) -> "RedisBookSource":
    from redis import Redis  # noqa: PLC0415

    from exchange.trading.books import RedisBookSource  # noqa: PLC0415

    url = settings.redis_url
    if url is None:
        raise ConfigurationError("set EXCHANGE_REDIS_URL")
    return RedisBookSource(lambda: Redis.from_url(url, socket_timeout=2.0))


def webhook_secrets(settings: DepositsSettings) -> SecretsProvider:
    if settings.webhook_secret is not None:
        secrets = parse_secrets(settings.webhook_secret.get_secret_value())
        return lambda: secrets
    arn = settings.ledger_webhook_secret_arn
    if arn is None:
        raise ConfigurationError(
            "set EXCHANGE_LEDGER_WEBHOOK_SECRET_ARN, or EXCHANGE_WEBHOOK_SECRET locally"
        )
    cached = CachedSecret(arn, secrets_client_factory(settings))

    def current() -> Sequence[bytes]:
        return parse_secrets(cached())

    return current
