"""Secrets Manager values fetched on first use (never at import) and cached for a while, so a
rotated secret is picked up without a cold start. The client is injected as a factory, so tests
pass a stub and no boto3 client is built unless a secret is needed."""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from exchange.settings import AwsSettings

if TYPE_CHECKING:
    # The ledger's Protocol; importing it at run time would load psycopg.
    from exchange.ledger.connection import SecretsClient


class CachedSecret:
    def __init__(
        self,
        secret_arn: str,
        client_factory: Callable[[], "SecretsClient"],
        *,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_arn = secret_arn
        self._client_factory = client_factory
        self._client: SecretsClient | None = None
        self._ttl = ttl_seconds
        self._clock = clock
        self._cached: tuple[float, str] | None = None

    def __call__(self) -> str:
        now = self._clock()
        if self._cached is not None and now - self._cached[0] < self._ttl:
            return self._cached[1]
        if self._client is None:
            self._client = self._client_factory()
        value = str(self._client.get_secret_value(SecretId=self._secret_arn)["SecretString"])
        self._cached = (now, value)
        return value


def secrets_client_factory(settings: AwsSettings) -> Callable[[], "SecretsClient"]:
    def build() -> "SecretsClient":
        import boto3  # noqa: PLC0415 - only when a secret is first needed

        client: SecretsClient = boto3.client(
            "secretsmanager",
            region_name=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
        )
        return client

    return build
