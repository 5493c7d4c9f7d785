"""Every DynamoDB table, defined once: the handlers use the pynamodb models (``models``), the CDK
app reads their keys and indexes through ``specs``, and local mode creates them from the same
specs. So names, keys and indexes cannot drift between code and infrastructure."""

from typing import Final

from pynamodb.exceptions import PynamoDBException

from exchange.aws import AwsLocation
from exchange.tables.models import (
    OPEN_ORDERS_KEY,
    TABLE_MODELS,
    AuditRecord,
    CandleRecord,
    ConnectionRecord,
    CursorRecord,
    EventRecord,
    FillRecord,
    IdempotencyRecord,
    OrderKeyRecord,
    OrderRecord,
    QuarantineRecord,
    TradeRecord,
    candle_series,
    order_key,
    quarantine_position,
    symbol_status_key,
)
from exchange.tables.specs import TABLE_SPECS, IndexSpec, KeySpec, TableSpec, table_spec

CONDITION_FAILED: Final = "ConditionalCheckFailedException"


def condition_failed(exc: PynamoDBException) -> bool:
    """Whether a write failed on its condition (as opposed to an outage or throttling)."""
    return exc.cause_response_code == CONDITION_FAILED


def bind_tables(settings: AwsLocation) -> None:
    """Point every model at its configured table (``TableSettings``'s fields of ``settings``) and
    region (and, locally, at moto's endpoint).

    pynamodb keeps a model's table in its class, so this is process-wide: each composition root
    calls it once at cold start, before its first DynamoDB call.
    """
    for model in TABLE_MODELS:
        model.Meta.table_name = getattr(settings, f"{model.logical_name}_table")
        model.Meta.region = settings.aws_region
        model.Meta.host = settings.aws_endpoint_url
        model._connection = None  # pynamodb caches the connection with the old host


__all__ = [
    "CONDITION_FAILED",
    "OPEN_ORDERS_KEY",
    "TABLE_MODELS",
    "TABLE_SPECS",
    "AuditRecord",
    "CandleRecord",
    "ConnectionRecord",
    "CursorRecord",
    "EventRecord",
    "FillRecord",
    "IdempotencyRecord",
    "IndexSpec",
    "KeySpec",
    "OrderKeyRecord",
    "OrderRecord",
    "QuarantineRecord",
    "TableSpec",
    "TradeRecord",
    "bind_tables",
    "candle_series",
    "condition_failed",
    "order_key",
    "quarantine_position",
    "symbol_status_key",
    "table_spec",
]
