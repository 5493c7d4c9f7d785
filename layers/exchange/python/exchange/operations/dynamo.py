"""The reconciliation's DynamoDB reads: the orders table's open orders, the trades table, and how
far the recorder and settlement have applied each symbol's journal."""

from collections.abc import Collection, Sequence
from decimal import Decimal

from exchange.domain.enums import OrderStatus
from exchange.domain.instruments import InstrumentCatalog
from exchange.journal.cursors import CursorStore, DynamoCursorStore
from exchange.ledger.consumer import Settlement
from exchange.operations.model import Progress, StoreOrder
from exchange.orders.recorder_dynamo import DynamoRecorderStore
from exchange.tables import OrderRecord, TradeRecord


class DynamoOrderStore:
    """``OrderStore`` on the orders table."""

    def open_orders(self) -> list[StoreOrder]:
        """A Scan of the sparse ``open_orders`` index: it holds an order only while it is open,
        and its key is the account (``account_id``, ``open_order_id``), so there is no single
        key to Query every account's open orders by. Index reads are eventually consistent: the
        reconciliation reads again, by key and consistently, every order found to differ."""
        return [
            _order(row)
            for row in OrderRecord.open_orders.scan()
            # An entry a writer forgot to remove when the order finished is not open.
            if OrderStatus(row.status).is_open
        ]

    def orders(self, keys: Sequence[tuple[str, str]]) -> list[StoreOrder]:
        if not keys:
            return []
        return [_order(row) for row in OrderRecord.batch_get(list(keys), consistent_read=True)]


def _order(row: OrderRecord) -> StoreOrder:
    """A row's open quantity: ``open_qty`` as the recorder writes it; for a row the engine has not
    answered yet (the API's PENDING_NEW, without one), what is not filled."""
    open_qty = (
        Decimal(row.open_qty)
        if row.open_qty is not None
        else Decimal(row.qty) - Decimal(row.filled_qty)
    )
    return StoreOrder(
        order_id=row.order_id,
        account_id=row.account_id,
        symbol=row.symbol,
        status=row.status,
        open_qty=open_qty,
        created_ns=int(row.created_ns),
        last_seq=int(row.last_seq),
    )


class DynamoTrades:
    """``Trades`` on the trades table (pk symbol, sk seq)."""

    def since(self, symbol: str, since_ns: int) -> dict[int, int]:
        found: dict[int, int] = {}
        for row in TradeRecord.query(symbol, scan_index_forward=False, consistent_read=True):
            if row.ts_ns < since_ns:
                break
            found[int(row.seq)] = int(row.ts_ns)
        return found

    def exists(self, symbol: str, seq: int) -> bool:
        return any(
            True for _ in TradeRecord.query(symbol, TradeRecord.seq == seq, consistent_read=True)
        )


class DynamoProgress:
    """``ConsumerProgress``: the recorder's progress is the head of its audit chain for the
    symbol (it appends the chain last, after the orders and trades: ``Recorder.last_seq``);
    settlement's is its cursor."""

    def __init__(self, catalog: InstrumentCatalog, cursors: CursorStore | None = None) -> None:
        self._recorder = DynamoRecorderStore(catalog)
        self._cursors = cursors or DynamoCursorStore()

    def progress(self, symbols: Collection[str]) -> dict[str, Progress]:
        progress = {}
        for symbol in symbols:
            head = self._recorder.audit_head(symbol)
            progress[symbol] = Progress(
                recorded=head.seq if head else 0,
                settled=self._cursors.get(Settlement.name, symbol),
            )
        return progress
