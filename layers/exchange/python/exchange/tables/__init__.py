"""Every DynamoDB table, defined once: the handlers use the pynamodb models (``models``), the CDK
app reads their keys and indexes through ``specs``, and local mode creates them from the same
specs. So names, keys and indexes cannot drift between code and infrastructure."""

from typing import Final

from pynamodb.exceptions import PynamoDBException

from exchange.aws import AwsLocation
from exchange.tables.access import ApiKeyRecord, RateLimitRecord
from exchange.tables.batch import batch_put
from exchange.tables.connections import transaction_connection
from exchange.tables.cursors import CursorRecord
from exchange.tables.failover import FailoverRecord
from exchange.tables.instruments import CURRENT, InstrumentRecord, version_record
from exchange.tables.models import (
    CANCEL_AFTER_KEY,
    OPEN_ORDERS_KEY,
    TABLE_MODELS,
    AuditRecord,
    CandleRecord,
    ConnectionRecord,
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
    calls it once at cold start, before its first DynamoDB call. A table the settings name
    explicitly (its variable is set) wins over a default: where several functions share a process
    (local mode), one whose environment lacks a table must not point that table's model, in the
    same region and endpoint, back at the default name another function's setting replaced.
    """
    explicit: set[str] = getattr(settings, "model_fields_set", set())
    for model in TABLE_MODELS:
        field = f"{model.logical_name}_table"
        same_place = (model.Meta.host, model.Meta.region) == (
            settings.aws_endpoint_url,
            settings.aws_region,
        )
        if field not in explicit and model.logical_name in _BOUND_EXPLICITLY and same_place:
            continue
        if field in explicit:
            _BOUND_EXPLICITLY.add(model.logical_name)
        model.Meta.table_name = getattr(settings, field)
        model.Meta.region = settings.aws_region
        model.Meta.host = settings.aws_endpoint_url
        model._connection = None  # pynamodb caches the connection with the old host


_BOUND_EXPLICITLY: set[str] = set()


__all__ = [
    "CANCEL_AFTER_KEY",
    "CONDITION_FAILED",
    "CURRENT",
    "OPEN_ORDERS_KEY",
    "TABLE_MODELS",
    "TABLE_SPECS",
    "ApiKeyRecord",
    "AuditRecord",
    "CandleRecord",
    "ConnectionRecord",
    "CursorRecord",
    "EventRecord",
    "FailoverRecord",
    "FillRecord",
    "IdempotencyRecord",
    "IndexSpec",
    "InstrumentRecord",
    "KeySpec",
    "OrderKeyRecord",
    "OrderRecord",
    "QuarantineRecord",
    "RateLimitRecord",
    "TableSpec",
    "TradeRecord",
    "batch_put",
    "bind_tables",
    "candle_series",
    "condition_failed",
    "order_key",
    "quarantine_position",
    "symbol_status_key",
    "table_spec",
    "transaction_connection",
    "version_record",
]
