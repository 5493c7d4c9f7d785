"""Run a request's work once per idempotency key, with Powertools Idempotency.

The record lives in the idempotency table (``DynamoDBPersistenceLayer``), so a retry after a cold
start, or on another container, finds it. The key hashes ``key`` only (the caller makes it from
the operation, the account and the client's key); the body is hashed separately, so the same key
with another body raises IdempotencyConflict (409) instead of returning the first answer. While
the first request runs, a concurrent retry raises RequestInProgress (409). If the work raises, the
record is deleted and a retry runs the work again.

``InMemoryIdempotencyStore`` keeps records in a dict with the same rules, for unit tests and the
benchmark.
"""

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.aws import aws_client
from exchange.orders.errors import IdempotencyConflict, RequestInProgress
from exchange.settings import DEFAULT_IDEMPOTENCY_TTL_SECONDS, OrdersSettings

Work = Callable[[], dict[str, Any]]


def _run(request: Mapping[str, Any], work: Work) -> dict[str, Any]:
    return work()


class IdempotentRunner:
    def __init__(
        self,
        persistence: BasePersistenceLayer,
        *,
        ttl_seconds: int = DEFAULT_IDEMPOTENCY_TTL_SECONDS,
        key_prefix: str = "exchange-api",
    ) -> None:
        self._config = IdempotencyConfig(
            event_key_jmespath="key",
            payload_validation_jmespath="payload",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=ttl_seconds,
        )
        # A fixed prefix: the default includes the Lambda's name, which a redeploy may change.
        self._once = idempotent_function(
            _run,
            data_keyword_argument="request",
            persistence_store=persistence,
            config=self._config,
            key_prefix=key_prefix,
        )

    @classmethod
    def from_settings(cls, settings: OrdersSettings) -> "IdempotentRunner":
        """On the idempotency table, through Powertools' DynamoDB persistence layer."""
        from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415
            DynamoDBPersistenceLayer,
        )

        persistence = DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table,
            boto3_client=aws_client("dynamodb", settings),
        )
        return cls(persistence, ttl_seconds=settings.idempotency_ttl_seconds)

    def run(
        self,
        key: str,
        payload: Mapping[str, Any],
        work: Work,
        context: LambdaContext | None = None,
    ) -> dict[str, Any]:
        """``work()``'s result, stored under ``key``; the stored result on a retry."""
        if context is not None:
            # The in-progress record expires with the invocation, so a retry after a timeout runs.
            self._config.register_lambda_context(context)
        try:
            result: dict[str, Any] = self._once(request={"key": key, "payload": payload}, work=work)
        except IdempotencyValidationError as exc:
            raise IdempotencyConflict(
                "this idempotency key was used with a different request body"
            ) from exc
        except IdempotencyAlreadyInProgressError as exc:
            raise RequestInProgress(
                "a request with this idempotency key is still in progress; retry shortly"
            ) from exc
        return result


def replaceable(record: DataRecord) -> bool:
    """DynamoDB's condition: expired, or in progress past its in-progress expiry."""
    now = dt.datetime.now()
    if record.expiry_timestamp is not None and record.expiry_timestamp < int(now.timestamp()):
        return True
    return (
        record.status == "INPROGRESS"
        and record.in_progress_expiry_timestamp is not None
        and record.in_progress_expiry_timestamp < int(now.timestamp() * 1000)
    )
