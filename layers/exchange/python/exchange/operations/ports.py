"""What the reconciliation reads and writes, one port per party. The real adapters: the engine's
snapshots (``snapshot_reader``), DynamoDB (``dynamo``), the ledger (``exchange.ledger.postgres
.audit_reads.AuditReads``) and S3 (``reports``); tests pass in-memory fakes."""

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from exchange.ledger.postgres.audit_reads import AssetTotals, HoldRow
from exchange.operations.model import Progress, ShardBooks, StoreOrder


class EngineBooks(Protocol):
    def shards(self) -> list[ShardBooks]:
        """Each shard's open orders, seq per symbol, statuses and time, from its newest
        trustworthy snapshot (a shard without one: ``source`` None, no books)."""


class OrderStore(Protocol):
    def open_orders(self) -> list[StoreOrder]:
        """Every order the orders table holds open (PENDING_NEW, NEW, PARTIALLY_FILLED)."""

    def orders(self, keys: Sequence[tuple[str, str]]) -> list[StoreOrder]:
        """The rows of ``(account_id, order_id)`` keys, whatever their status; absent keys are
        left out."""


class ConsumerProgress(Protocol):
    def progress(self, symbols: Collection[str]) -> dict[str, Progress]:
        """How far the recorder and settlement have applied each symbol's journal."""


class LedgerAudit(Protocol):
    def open_holds(self) -> list[HoldRow]: ...

    def holds(self, order_ids: Collection[str]) -> list[HoldRow]: ...

    def changed_after(self, seqs: Mapping[str, int]) -> set[str]: ...

    def solvency(self) -> list[AssetTotals]: ...

    def settled_trades(
        self, symbol: str, *, from_seq: int | None, since: datetime
    ) -> dict[int, datetime]: ...


class Trades(Protocol):
    def since(self, symbol: str, since_ns: int) -> dict[int, int]:
        """The symbol's trades from the newest back to the first one older than ``since_ns``
        (excluded): seq -> event time (ns). Every seq from the smallest returned on is there."""

    def exists(self, symbol: str, seq: int) -> bool: ...


class ReportSink(Protocol):
    def put(self, key: str, body: bytes) -> str:
        """Store the report under ``key``; returns where (e.g. ``s3://bucket/key``)."""
