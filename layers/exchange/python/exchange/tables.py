"""Every DynamoDB table, defined once: the handlers use these pynamodb models, the CDK app reads
their keys and indexes through ``table_spec``, and local mode creates them from the same specs.
So names, keys and indexes cannot drift between code and infrastructure.

Key design (each query the API and consumers make is a Query or GetItem, never a Scan):

- orders: pk ``account_id``, sk ``order_id`` (time-ordered ids, so newest-first is a reverse
  Query). GSI ``by_symbol_status`` (pk ``account_id``, sk ``symbol_status`` =
  ``SYMBOL#STATUS#order_id``) answers "my open BTC-USD orders" with ``begins_with``. GSI
  ``by_client_order_id`` (pk ``account_id``, sk ``client_order_id``) finds an order by the
  client's id. GSI ``open_orders`` (pk ``account_id``, sk ``open_order_id``) is sparse:
  ``open_order_id`` is set (to the order id) only while the order is open, so counting an
  account's open orders is one small Query. Whoever moves an order to a final status removes it;
  ``symbol_status_key`` builds the ``symbol_status`` value (one format for every writer).
- fills: pk ``account_id``, sk ``fill_id`` (``ts#symbol#seq#role``, time-ordered). GSI
  ``by_order`` (pk ``order_id``) lists one order's fills.
- trades: pk ``symbol``, sk ``seq``; the public tape, expiring by TTL.
- events: pk ``symbol``, sk ``seq``; the journal's copy (a global table, so the DR region has it).
- audit: pk ``symbol``, sk ``seq``; append-only, hash-chained per symbol.
- candles: pk ``series`` (``SYMBOL#INTERVAL``), sk ``start`` (epoch seconds).
- connections: pk ``connection_id``, sk ``channel`` (``$meta`` for the connection itself). GSI
  ``by_channel`` (pk ``channel``) lists a channel's subscribers for fan-out. TTL ``expires_at``.
- idempotency: the Powertools Idempotency layout (pk ``id``, TTL ``expiration``).
- cursors: pk ``consumer``, sk ``symbol``; the last seq each journal consumer applied, so a
  replayed record is a no-op and a skipped one is seen as a gap.

Table names come from ``TableSettings`` at start-up; ``bind_tables`` points the models at them.

>>> [index.name for index in table_spec(OrderRecord).indexes]
['by_client_order_id', 'by_symbol_status', 'open_orders']
>>> [spec.logical_name for spec in TABLE_SPECS]  # doctest: +NORMALIZE_WHITESPACE
['orders', 'fills', 'trades', 'events', 'audit', 'candles', 'connections', 'idempotency',
 'cursors']
"""

from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal

from pydantic import Field
from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from exchange.settings import AwsSettings

KeyType = Literal["S", "N", "B"]


class _Meta:
    """Each model has its own Meta (a shared one would share the table name)."""

    table_name: str = "unbound"
    region: str | None = None
    host: str | None = None


class _Table(Model):
    """A model whose table name is bound at start-up (``bind_tables``), never at import."""

    logical_name: ClassVar[str]
    ttl_attribute: ClassVar[str | None] = None

    class Meta(_Meta):
        pass


# --- orders -------------------------------------------------------------------------------------


class OrdersBySymbolStatus(GlobalSecondaryIndex["OrderRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_symbol_status"
        projection = AllProjection()

    account_id = UnicodeAttribute(hash_key=True)
    symbol_status = UnicodeAttribute(range_key=True)


class OrdersByClientOrderId(GlobalSecondaryIndex["OrderRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_client_order_id"
        projection = KeysOnlyProjection()

    account_id = UnicodeAttribute(hash_key=True)
    client_order_id = UnicodeAttribute(range_key=True)


class OrdersOpen(GlobalSecondaryIndex["OrderRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "open_orders"
        # All attributes, so a count can also filter on status: an entry a writer forgot to
        # remove when the order finished is then still not counted.
        projection = AllProjection()

    account_id = UnicodeAttribute(hash_key=True)
    open_order_id = UnicodeAttribute(range_key=True)


class OrderRecord(_Table):
    """One order as the account sees it. Prices and quantities are decimal strings, never floats;
    ``last_seq`` is the engine seq of the last event applied, so stale events are no-ops."""

    logical_name = "orders"

    class Meta(_Meta):
        pass

    account_id = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)
    symbol_status = UnicodeAttribute()
    client_order_id = UnicodeAttribute()
    symbol = UnicodeAttribute()
    status = UnicodeAttribute()
    side = UnicodeAttribute()
    order_type = UnicodeAttribute()
    tif = UnicodeAttribute()
    qty = UnicodeAttribute()
    price = UnicodeAttribute(null=True)
    stop_price = UnicodeAttribute(null=True)
    post_only = BooleanAttribute(default=False)
    stp = UnicodeAttribute(null=True)
    filled_qty = UnicodeAttribute(default="0")
    notional = UnicodeAttribute(default="0")  # sum of fill price * qty, for the average price
    # Fees in the quote asset, by the ledger's rule (cumulative per order, rounded up): ``fee`` is
    # what was charged, ``fee_accrued`` the exact sum it is the ceiling of.
    fee = UnicodeAttribute(default="0")
    fee_accrued = UnicodeAttribute(default="0")
    open_qty = UnicodeAttribute(null=True)
    reject_reason = UnicodeAttribute(null=True)
    detail = UnicodeAttribute(null=True)
    created_ns = NumberAttribute()
    updated_ns = NumberAttribute()
    last_seq = NumberAttribute(default=0)

    # Set only while the order is open (see the module docstring); the open_orders GSI is sparse.
    open_order_id = UnicodeAttribute(null=True)

    by_symbol_status = OrdersBySymbolStatus()
    by_client_order_id = OrdersByClientOrderId()
    open_orders = OrdersOpen()


def symbol_status_key(symbol: str, status: str, order_id: str) -> str:
    """The ``by_symbol_status`` sort key, e.g. ``BTC-USD#NEW#<order id>``."""
    return f"{symbol}#{status}#{order_id}"


# --- fills and trades ---------------------------------------------------------------------------


class FillsByOrder(GlobalSecondaryIndex["FillRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_order"
        projection = AllProjection()

    order_id = UnicodeAttribute(hash_key=True)
    fill_id = UnicodeAttribute(range_key=True)


class FillRecord(_Table):
    logical_name = "fills"

    class Meta(_Meta):
        pass

    account_id = UnicodeAttribute(hash_key=True)
    fill_id = UnicodeAttribute(range_key=True)
    order_id = UnicodeAttribute()
    symbol = UnicodeAttribute()
    seq = NumberAttribute()
    side = UnicodeAttribute()
    role = UnicodeAttribute()  # MAKER or TAKER
    price = UnicodeAttribute()
    qty = UnicodeAttribute()
    fee = UnicodeAttribute(default="0")
    fee_asset = UnicodeAttribute(null=True)
    ts_ns = NumberAttribute()

    by_order = FillsByOrder()


class TradeRecord(_Table):
    logical_name = "trades"
    ttl_attribute = "expires_at"

    class Meta(_Meta):
        pass

    symbol = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    price = UnicodeAttribute()
    qty = UnicodeAttribute()
    aggressor_side = UnicodeAttribute()
    ts_ns = NumberAttribute()
    expires_at = TTLAttribute(null=True)


# --- events and audit ---------------------------------------------------------------------------


class EventRecord(_Table):
    """An engine event in its wire encoding, keyed by its gap-free seq."""

    logical_name = "events"

    class Meta(_Meta):
        pass

    symbol = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    kind = UnicodeAttribute()
    payload = BinaryAttribute(legacy_encoding=False)
    ts_ns = NumberAttribute()


class AuditRecord(_Table):
    """Append-only; ``hash`` = SHA-256 over ``prev_hash`` and the payload, chained per symbol."""

    logical_name = "audit"

    class Meta(_Meta):
        pass

    symbol = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    kind = UnicodeAttribute()
    payload = BinaryAttribute(legacy_encoding=False)
    prev_hash = UnicodeAttribute()
    hash = UnicodeAttribute()
    recorded_ns = NumberAttribute()


# --- candles ------------------------------------------------------------------------------------


class CandleRecord(_Table):
    logical_name = "candles"

    class Meta(_Meta):
        pass

    series = UnicodeAttribute(hash_key=True)  # e.g. "BTC-USD#1m"
    start = NumberAttribute(range_key=True)  # epoch seconds of the bar's open
    open = UnicodeAttribute()
    high = UnicodeAttribute()
    low = UnicodeAttribute()
    close = UnicodeAttribute()
    volume = UnicodeAttribute()
    trades = NumberAttribute(default=0)
    first_seq = NumberAttribute()
    last_seq = NumberAttribute()


def candle_series(symbol: str, interval: str) -> str:
    """The candles partition key, e.g. ``BTC-USD#1m`` (one format for writer and readers);
    ``interval`` is one of ``exchange.domain.CANDLE_INTERVALS``."""
    return f"{symbol}#{interval}"


# --- WebSocket connections ----------------------------------------------------------------------


class ConnectionsByChannel(GlobalSecondaryIndex["ConnectionRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_channel"
        projection = AllProjection()

    channel = UnicodeAttribute(hash_key=True)
    connection_id = UnicodeAttribute(range_key=True)


class ConnectionRecord(_Table):
    """A connection (``channel == META_CHANNEL``) and one item per channel it subscribes to."""

    logical_name = "connections"
    ttl_attribute = "expires_at"
    META_CHANNEL: ClassVar[str] = "$meta"

    class Meta(_Meta):
        pass

    connection_id = UnicodeAttribute(hash_key=True)
    channel = UnicodeAttribute(range_key=True)
    account_id = UnicodeAttribute(null=True)  # None for an anonymous (public-only) connection
    connected_ns = NumberAttribute()
    expires_at = TTLAttribute()

    by_channel = ConnectionsByChannel()


# --- idempotency (written by Powertools, declared here so the CDK table matches) ----------------


class IdempotencyRecord(_Table):
    logical_name = "idempotency"
    ttl_attribute = "expiration"

    class Meta(_Meta):
        pass

    id = UnicodeAttribute(hash_key=True)
    expiration = TTLAttribute(null=True)


# --- journal consumers' progress ---------------------------------------------------------------


class CursorRecord(_Table):
    """How far one consumer (fanout, candles, settlement) has applied one symbol's events."""

    logical_name = "cursors"

    class Meta(_Meta):
        pass

    consumer = UnicodeAttribute(hash_key=True)
    symbol = UnicodeAttribute(range_key=True)
    last_seq = NumberAttribute()
    updated_ns = NumberAttribute()


TABLE_MODELS: Final[tuple[type[_Table], ...]] = (
    OrderRecord,
    FillRecord,
    TradeRecord,
    EventRecord,
    AuditRecord,
    CandleRecord,
    ConnectionRecord,
    IdempotencyRecord,
    CursorRecord,
)


# --- specs for the CDK app and local mode -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeySpec:
    name: str
    type: KeyType


@dataclass(frozen=True, slots=True)
class IndexSpec:
    name: str
    partition_key: KeySpec
    sort_key: KeySpec | None
    projection: Literal["ALL", "KEYS_ONLY"]


@dataclass(frozen=True, slots=True)
class TableSpec:
    """What infrastructure needs to know about a table, taken from its pynamodb model."""

    logical_name: str
    partition_key: KeySpec
    sort_key: KeySpec | None
    indexes: tuple[IndexSpec, ...]
    ttl_attribute: str | None

    @property
    def settings_field(self) -> str:
        """The ``TableSettings`` field (and so ``EXCHANGE_<NAME>_TABLE``) holding its name."""
        return f"{self.logical_name}_table"

    def create_table_kwargs(self, table_name: str) -> dict[str, Any]:
        """Arguments for boto3 ``create_table`` (local mode and tests), on-demand billing."""
        keys = [self.partition_key, *([self.sort_key] if self.sort_key else [])]
        definitions = {key.name: key.type for key in keys}
        kwargs: dict[str, Any] = {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": _key_schema(self.partition_key, self.sort_key),
        }
        indexes = []
        for index in self.indexes:
            definitions[index.partition_key.name] = index.partition_key.type
            if index.sort_key:
                definitions[index.sort_key.name] = index.sort_key.type
            indexes.append(
                {
                    "IndexName": index.name,
                    "KeySchema": _key_schema(index.partition_key, index.sort_key),
                    "Projection": {"ProjectionType": index.projection},
                }
            )
        kwargs["AttributeDefinitions"] = [
            {"AttributeName": name, "AttributeType": kind} for name, kind in definitions.items()
        ]
        if indexes:
            kwargs["GlobalSecondaryIndexes"] = indexes
        return kwargs


def _key_schema(partition: KeySpec, sort: KeySpec | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition.name, "KeyType": "HASH"}]
    if sort:
        schema.append({"AttributeName": sort.name, "KeyType": "RANGE"})
    return schema


def table_spec(model: type[_Table]) -> TableSpec:
    """The keys, indexes and TTL of a model's table, from pynamodb's own schema."""
    schema: Any = model._get_schema()
    types: dict[str, KeyType] = {
        d["AttributeName"]: d["AttributeType"] for d in schema["attribute_definitions"]
    }

    def keys(key_schema: list[dict[str, str]]) -> tuple[KeySpec, KeySpec | None]:
        hash_name = next(k["AttributeName"] for k in key_schema if k["KeyType"] == "HASH")
        ranges = [k["AttributeName"] for k in key_schema if k["KeyType"] == "RANGE"]
        return KeySpec(hash_name, types[hash_name]), (
            KeySpec(ranges[0], types[ranges[0]]) if ranges else None
        )

    partition, sort = keys(schema["key_schema"])
    indexes = []
    for index in schema["global_secondary_indexes"]:
        for definition in index["attribute_definitions"]:
            types[definition["AttributeName"]] = definition["AttributeType"]
        index_partition, index_sort = keys(index["key_schema"])
        projection = index["projection"]["ProjectionType"]
        indexes.append(IndexSpec(index["index_name"], index_partition, index_sort, projection))
    return TableSpec(
        logical_name=model.logical_name,
        partition_key=partition,
        sort_key=sort,
        indexes=tuple(indexes),
        ttl_attribute=model.ttl_attribute,
    )


TABLE_SPECS: Final[tuple[TableSpec, ...]] = tuple(table_spec(model) for model in TABLE_MODELS)


class TableSettings(AwsSettings):
    """Table names, e.g. ``EXCHANGE_ORDERS_TABLE``. The CDK app sets each function's names."""

    orders_table: str = Field(default="exchange-orders", min_length=3)
    fills_table: str = Field(default="exchange-fills", min_length=3)
    trades_table: str = Field(default="exchange-trades", min_length=3)
    events_table: str = Field(default="exchange-events", min_length=3)
    audit_table: str = Field(default="exchange-audit", min_length=3)
    candles_table: str = Field(default="exchange-candles", min_length=3)
    connections_table: str = Field(default="exchange-connections", min_length=3)
    idempotency_table: str = Field(default="exchange-idempotency", min_length=3)
    cursors_table: str = Field(default="exchange-cursors", min_length=3)


def bind_tables(settings: TableSettings) -> None:
    """Point every model at its configured table (and, locally, at moto's endpoint)."""
    for model in TABLE_MODELS:
        model.Meta.table_name = getattr(settings, f"{model.logical_name}_table")
        model.Meta.region = settings.aws_region
        model.Meta.host = settings.aws_endpoint_url
        model._connection = None  # pynamodb caches the connection with the old host
