"""Settle only what the other region holds: the replication gate.

The ledger (Aurora Global Database) and the journal's copy (the events table, a DynamoDB global
table) replicate to the DR region on two separate channels, with no order between them. Without
a gate, a failover can find DR's ledger holding a trade that DR's books never saw: the promoted
engine then emits its own events at those seqs, and the ledger has settled a trade that no longer
exists.

``ReplicationGate`` wraps a sink (settlement, in the primary region) and applies a record only
once the DR region's events table holds every seq of it, through the record's last. A DR ledger,
being a copy of the primary's, can then hold nothing DR's events table lacks, and the promoted
engine, which rebuilds through the copy's gap-free tail, has every event the ledger settled.

The price is settlement latency: a trade is settled about one replication lag after it is
matched (holds keep funds safe meanwhile: a hold is placed before an order reaches the engine).
While the DR region cannot be read, settlement waits, then fails the record (``NotReplicated``)
and Lambda retries it: trading goes on, settlement stops. ``docs/deploy.md`` says how to turn the
gate off (``EXCHANGE_SETTLE_AFTER_REPLICA_REGION`` unset), accepting that a failover may then
leave trades settled that DR lacks.
"""

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from exchange.domain.errors import ExchangeError
from exchange.domain.events import AnyEvent
from exchange.journal.batch import JournalSink, count
from exchange.observability import logger
from exchange.wire import JournalRecord


class NotReplicated(ExchangeError):
    """The other region's copy does not yet hold the record: it is retried, never skipped."""

    code = "not_replicated"


class ReplicaCopy(Protocol):
    def count_between(self, symbol: str, first: int, last: int) -> int:
        """How many of the symbol's seqs ``first``..``last`` the copy holds."""


class DynamoReplicaCopy:
    """The events table in the other region (a strongly consistent read of that replica)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def count_between(self, symbol: str, first: int, last: int) -> int:
        total = 0
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#s = :s AND #q BETWEEN :a AND :b",
            "ExpressionAttributeNames": {"#s": "symbol", "#q": "seq"},
            "ExpressionAttributeValues": {
                ":s": {"S": symbol}, ":a": {"N": str(first)}, ":b": {"N": str(last)},
            },
            "Select": "COUNT",
            "ConsistentRead": True,
        }  # fmt: skip
        while True:
            response = self._client.query(**kwargs)
            total += int(response["Count"])
            if "LastEvaluatedKey" not in response:
                return total
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


class ReplicationGate(JournalSink):
    """``sink``, applying a record only once ``copy`` holds it whole (see the module)."""

    def __init__(
        self,
        sink: JournalSink,
        copy: ReplicaCopy,
        *,
        timeout_s: float = 10.0,
        poll_s: float = 0.05,
        stop: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sink = sink
        self._copy = copy
        self._timeout_s = timeout_s
        self._poll_s = poll_s
        self._stop = stop
        self._clock = clock
        self._sleep = sleep
        self._through: dict[str, int] = {}  # per symbol, the copy is known gap-free through here
        self.name = sink.name
        self.merges_records = sink.merges_records  # the gated sink's unit of failure

    def last_seq(self, symbol: str) -> int:
        return self._sink.last_seq(symbol)

    def verify(self, record: JournalRecord, through: int) -> None:
        self._sink.verify(record, through)

    def refuse(self, record: JournalRecord) -> None:
        self._sink.refuse(record)

    def apply(self, record: JournalRecord, events: Sequence[AnyEvent], after: int) -> None:
        # Seqs through ``after`` passed the gate when they were applied: a cold container does
        # not count the symbol's whole history in the other region.
        known = self._through.get(record.symbol, 0)
        self._through[record.symbol] = max(known, after)
        self.wait_for(record.symbol, record.last_seq)
        self._sink.apply(record, events, after)

    def wait_for(self, symbol: str, seq: int) -> None:
        """Return once the copy holds every seq of ``symbol`` through ``seq``; NotReplicated
        after ``timeout_s`` (or at ``stop``)."""
        started = self._clock()
        waited = False
        while True:
            known = self._through.get(symbol, 0)
            if known >= seq:
                break
            held = self._copy.count_between(symbol, known + 1, seq)
            if held == seq - known:
                self._through[symbol] = seq
                break
            waited = True
            if self._stop() or self._clock() - started >= self._timeout_s:
                count("SettlementNotReplicated")
                logger.warning(
                    "settlement waits for the DR copy",
                    extra={"symbol": symbol, "seq": seq, "copy_holds": held, "since": known},
                )
                raise NotReplicated(
                    f"{symbol} seq {known + 1}..{seq}: the other region holds {held} of them"
                )
            self._sleep(self._poll_s)
        if waited:
            count("SettlementWaitedForReplica")
