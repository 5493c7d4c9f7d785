"""The pynamodb model of every DynamoDB table, and the helpers that build their key values.

Key design (each query the API and consumers make is a Query or GetItem, never a Scan):

- orders: pk ``account_id``, sk ``order_id`` (time-ordered ids, so newest-first is a reverse
  Query). GSI ``by_symbol_status`` (pk ``account_id``, sk ``symbol_status`` =
  ``SYMBOL#STATUS#order_id``) answers "my open BTC-USD orders" with ``begins_with``. GSI
  ``by_client_order_id`` (pk ``account_id``, sk ``client_order_id``) finds an order by the
  client's id. GSI ``open_orders`` (pk ``account_id``, sk ``open_order_id``) is sparse:
  ``open_order_id`` is set (to the order id) only while the order is open, so counting an
  account's open orders is one small Query. Whoever moves an order to a final status removes it;
  ``symbol_status_key`` builds the ``symbol_status`` value (one format for every writer). GSI
  ``pending_new`` (pk ``symbol``, sk ``pending_new_ns``, set by ``pending_since`` only while
  PENDING_NEW) gives the reconciler the unanswered orders, oldest first, one Query per symbol
  (not one constant key: its writes would all land on one partition).
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

Table names come from ``TableSettings`` at start-up; ``exchange.tables.bind_tables`` points
the models at them.
"""

from typing import ClassVar, Final

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection

from exchange.tables.access import ApiKeyRecord, RateLimitRecord
from exchange.tables.base import _Meta, _Table
from exchange.tables.cursors import CursorRecord
from exchange.tables.failover import FailoverRecord
from exchange.tables.instruments import InstrumentRecord
from exchange.tables.notifications import NotificationRecord

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


class OrdersPendingNew(GlobalSecondaryIndex["OrderRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "pending_new"
        projection = KeysOnlyProjection()  # the reconciler re-reads each order consistently

    symbol = UnicodeAttribute(hash_key=True)
    pending_new_ns = NumberAttribute(range_key=True)


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
    pending_new_ns = NumberAttribute(null=True)  # only while PENDING_NEW: pending_new is sparse

    by_symbol_status = OrdersBySymbolStatus()
    by_client_order_id = OrdersByClientOrderId()
    open_orders = OrdersOpen()
    pending_new = OrdersPendingNew()


def symbol_status_key(symbol: str, status: str, order_id: str) -> str:
    """The ``by_symbol_status`` sort key, e.g. ``BTC-USD#NEW#<order id>``."""
    return f"{symbol}#{status}#{order_id}"


def pending_since(status: str, created_ns: int) -> int | None:
    """``pending_new_ns`` of an order in ``status``: None (removed) unless it is PENDING_NEW."""
    return created_ns if status == "PENDING_NEW" else None


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
    # The exact sum of price x qty in ticks x lots (the ticker's quote volume); absent on bars
    # written before it was kept.
    notional = NumberAttribute(null=True)


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


class QuarantineRecord(_Table):
    """A journal record (or, for one over an item's 400 KB, each part of it that holds a refused
    event; ``exchange.journal.quarantine.pieces``) a consumer could not apply, kept so it can be
    redriven after a fix (Kinesis keeps the original only 24 hours). sk ``position`` is
    ``SYMBOL#<first seq, 20 digits>``, so a symbol's quarantined records list in seq order."""

    logical_name = "quarantine"

    class Meta(_Meta):
        pass

    consumer = UnicodeAttribute(hash_key=True)
    position = UnicodeAttribute(range_key=True)
    symbol = UnicodeAttribute()
    first_seq = NumberAttribute()
    last_seq = NumberAttribute()
    payload = BinaryAttribute(legacy_encoding=False)  # the journal record's wire bytes
    error = UnicodeAttribute()
    quarantined_ns = NumberAttribute()
    redriven_ns = NumberAttribute(null=True)


def quarantine_position(symbol: str, first_seq: int) -> str:
    return f"{symbol}#{first_seq:020d}"


# --- order placement guards ---------------------------------------------------------------------


class OrderKeyRecord(_Table):
    """Per account: which order each idempotency key made (sk ``key#<key>``, written with a
    conditional put before anything is held, so a key makes one order whatever fails), and the
    account's open-order counter (sk ``OPEN_ORDERS_KEY``, changed with conditional updates so the
    cap holds under concurrent placements)."""

    logical_name = "order_keys"

    class Meta(_Meta):
        pass

    account_id = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)
    order_id = UnicodeAttribute(null=True)
    open_orders = NumberAttribute(null=True)
    created_ns = NumberAttribute(null=True)
    # sk CANCEL_AFTER_KEY: the dead man's switch (POST /v1/orders/cancel-after). Each renewal
    # moves ``deadline_ms``; the timer that finds it unmoved cancels the account's orders.
    deadline_ms = NumberAttribute(null=True)
    timeout_seconds = NumberAttribute(null=True)


OPEN_ORDERS_KEY: Final = "#open_orders"
CANCEL_AFTER_KEY: Final = "#cancel_after"


def order_key(idempotency_key: str) -> str:
    return f"key#{idempotency_key}"


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
    QuarantineRecord,
    OrderKeyRecord,
    ApiKeyRecord,
    RateLimitRecord,
    InstrumentRecord,
    NotificationRecord,
    FailoverRecord,
)
