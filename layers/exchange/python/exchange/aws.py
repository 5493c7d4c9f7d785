"""AWS clients and Secrets Manager values, for every deployable.

Clients are built from ``AwsSettings`` (region, and moto's endpoint locally) on first use, never at
import. Secrets are fetched on first use and cached for a while (``CachedSecret``), so a rotated
secret is picked up without a cold start. The client is injected as a factory, so tests pass a
stub and no boto3 client is built unless a secret is needed.
"""

import time
from collections.abc import Callable
from typing import Any, Protocol


class AwsLocation(Protocol):
    """Where AWS is: any settings model with ``AwsSettings``'s fields."""

    @property
    def aws_region(self) -> str: ...
    @property
    def aws_endpoint_url(self) -> str | None: ...


class SecretsClient(Protocol):
    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]: ...  # noqa: N803 - boto3's


def aws_client(service: str, settings: AwsLocation, **kwargs: Any) -> Any:
    """A boto3 client for ``service`` in the settings' region (and at moto's endpoint locally)."""
    import boto3  # noqa: PLC0415 - only the functions that call AWS pay for it

    kwargs.setdefault("endpoint_url", settings.aws_endpoint_url)
    return boto3.client(service, region_name=settings.aws_region, **kwargs)


def secrets_client_factory(settings: AwsLocation) -> Callable[[], SecretsClient]:
    def build() -> SecretsClient:
        client: SecretsClient = aws_client("secretsmanager", settings)
        return client

    return build


class CachedSecret[T]:
    """A secret's value, parsed once per fetch with ``parse`` and kept for ``ttl_seconds``.

    >>> class Stub:
    ...     def get_secret_value(self, *, SecretId): return {"SecretString": "s3cret"}
    >>> CachedSecret("arn:...", Stub, parse=str.upper)()
    'S3CRET'
    """

    def __init__(
        self,
        secret_arn: str,
        client_factory: Callable[[], SecretsClient],
        *,
        parse: Callable[[str], T],
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_arn = secret_arn
        self._client_factory = client_factory
        self._client: SecretsClient | None = None
        self._parse = parse
        self._ttl = ttl_seconds
        self._clock = clock
        self._cached: tuple[float, T] | None = None

    def __call__(self) -> T:
        now = self._clock()
        if self._cached is not None and now - self._cached[0] < self._ttl:
            return self._cached[1]
        if self._client is None:
            self._client = self._client_factory()
        text = str(self._client.get_secret_value(SecretId=self._secret_arn)["SecretString"])
        value = self._parse(text)
        self._cached = (now, value)
        return value
